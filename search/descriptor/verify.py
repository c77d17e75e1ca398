"""Optional geometric check of duplicate candidates: ORB key points + RANSAC (OpenCV).

Two copies of one photo share many local features that one similarity transform (scale,
rotation, translation; crops, screenshots, re-sizes and small rotations are such transforms)
maps onto each other; two different photos almost never do. :func:`count_inliers` counts the
matches consistent with the best such transform found by RANSAC (where it falls short, a
skewed or perspective copy's: an affine map of :data:`AFFINE_INLIERS`), trying the first image
mirrored too (ORB is not mirror-invariant). Degenerate fits are refused: a scale outside
1/6..6 (everything collapsed onto a few points) or inliers bunched in a small area; and a fit
that explains the key points but not the pictures (:func:`search.descriptor.alignment.
pictures_agree`: different photos that carry one overlay, such as stickers or a watermark).
What a confirmed pair then scores: :mod:`search.descriptor.confirmed`.

Measured on the hard copy dev set (``bench/quality.py``): with ``MIN_INLIERS`` = 12, no pair
of different photos among the 30 best candidates of every image reached it, while 73 % of
the true duplicate pairs did - including pairs the embedding scores low (combinations of
crop, text and colour edits).

OpenCV is an optional extra (``opencv-python-headless``), imported on first use;
:class:`VerifyUnavailableError` says how to install it. Cost: about 10-25 ms to extract the
features of one image and ~1 ms per pair, so it verifies candidates, never whole libraries.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from hashlib import sha256
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from models import contrast_levels
from models.frame import find_content_box
from search.descriptor.alignment import SCALE as ALIGNMENT_SCALE
from search.descriptor.alignment import alignment_picture, pictures_agree
from search.descriptor.errors import VerifyUnavailableError
from search.descriptor.key_point_features import LocalFeatures, Planes, matches, noise_level

MIN_INLIERS = 12  # no negative pair reached it on the dev sets (max 11)
AFFINE_INLIERS = 16  # where a similarity explains fewer: an affine map's (different pictures: 11)
#: decode size of both images of a pair, the engine's, `dedup --verify`'s and the evaluation's
#: (twice SIDE: room for the crop of a frame or a region of interest)
KEY_POINT_DRAFT = (1024, 1024)
SIDE = 512  # images are resized to this longer side before extracting features
FEATURES = 500
RANSAC_PIXELS = 6.0
MAX_SCALE = 6.0
MIN_SPREAD = 0.04  # inliers' standard deviation, as a share of SIDE, in both images
FOUR_THREE = 0.75  # the short side's share of the long one from which MIN_SPREAD holds as is
NOISY = 4.0  # pixel noise (grey levels at SIDE) from which a picture's smoothed points are kept
SMOOTHING = 3.0  # the Gaussian radius (pixels at SIDE) that smooths a noisy picture
PARTIAL_INLIERS = 6  # a pair left with this many inliers (under MIN_INLIERS) is matched again
# with the query at a crop's scale (unrelated pairs: at most 6-7 of 1,442 measured)
CROP_SCALE = 0.7  # ... the query's picture read at this share of SIDE
#: a pair left short is matched again with this many key points of the query: a watermark's
#: letters or a sticker's edges outscore the picture's own corners and take all FEATURES
DENSE_FEATURES = 1500
#: ... for a candidate whose grey-level layout correlates with the query's this much (|rho|):
#: the copies it confirmed (watermarks, pixelated, squashed) kept their layout at 0.5-1.0, while
#: a query in doubt has look-alikes to check that do not (hymenoptera p50 +27 ms without it)
DENSE_LAYOUT = 0.5
#: ... and one laid out as the query almost exactly (|rho| this much: the same picture in other
#: tones) is matched with ITS denser key points too: a darkened, flattened copy's 500 corners
#: are among a bright original's 1,500 (96 inliers) but not among its 500 (0), in either set
TONED_LAYOUT = 0.9
ORB_SETTINGS = {"nfeatures": FEATURES, "edgeThreshold": 15, "patchSize": 15, "fastThreshold": 10}
#: names a library image's key points in the library's cache (search.library.KeyPointCache):
#: the extraction's parameters; bump the prefix when it changes otherwise (frames, tones)
KEY_POINT_VERSION = (
    "orb1-"
    + sha256(
        repr(
            # ALIGNMENT_SCALE: the size of the alignment picture kept with them
            (KEY_POINT_DRAFT, SIDE, NOISY, SMOOTHING, sorted(ORB_SETTINGS.items()), ALIGNMENT_SCALE)
        ).encode()
    ).hexdigest()[:8]
)


def opencv() -> Any:
    """The cv2 module; :class:`VerifyUnavailableError` when OpenCV is not installed."""
    try:
        import cv2  # type: ignore[import-not-found]
    except ImportError as exc:
        raise VerifyUnavailableError(
            "geometric verification needs OpenCV: pip install opencv-python-headless"
        ) from exc
    # one thread per call, as the model, FAISS and BLAS run per request: OpenCV's own pool
    # made ORB 15 % dearer in CPU and no faster on 2 cores (and fights the callers' threads)
    cv2.setNumThreads(1)
    return cv2


def local_features(
    image: Image.Image,
    *,
    frames: bool = True,
    mirrored: bool = True,
    inverted: bool = False,
    lazy: bool = False,
) -> LocalFeatures:
    """ORB features of ``image`` (the photo inside its frame when one is found); its mirrored
    ones too unless ``mirrored`` is False (an image only ever matched second); ``inverted``:
    of its grey levels inverted (an inverted duotone matched with its original's).

    A picture whose pixel noise (:func:`noise_level`) reaches :data:`NOISY` gets the features
    of its picture smoothed too: sensor noise of 12-30 grey levels fills ORB's
    :data:`FEATURES` with corners of the noise (a noisy duotone of a generated scene matched
    its original with 0-9 inliers; smoothed, 56 of 84 such copies reached 12).

    ``lazy``: the mirrored and smoothed features are made when a match first asks for them
    (the same features; most copies match as they are, and :func:`key_points_match` stops at
    the first direction that holds): for a query's features, used by one query. The picture
    is kept until then, so features kept by the many (a cache) are made eagerly; with ``lazy``
    the query's denser key points (``dense``, :func:`dense_features`) are made from the same
    grey levels when first asked for. Every layer carries the picture's alignment picture
    (:func:`search.descriptor.alignment.pictures_agree`)."""
    picture = _picture(image, frames, SIDE)
    grey = contrast_levels(picture)
    smoothed: LocalFeatures | Callable[[], LocalFeatures] | None = None
    noise = noise_level(grey)
    aligned = _aligned(grey, noise)  # every layer's: their points share one frame
    if noise >= NOISY:

        def smooth() -> LocalFeatures:
            blurred = contrast_levels(picture.filter(ImageFilter.GaussianBlur(SMOOTHING)))
            return _orb(blurred, mirrored=mirrored, inverted=inverted, lazy=lazy, aligned=aligned)

        smoothed = smooth if lazy else smooth()
    features = _orb(grey, mirrored=mirrored, inverted=inverted, lazy=lazy, aligned=aligned)
    features.smoothed = smoothed  # type: ignore[assignment]  # (``replace`` would read all)
    if lazy and not inverted:  # a query's denser key points, from the same grey levels
        dense = partial(
            _orb, grey, mirrored=False, inverted=False, features=DENSE_FEATURES, aligned=aligned
        )
        features.dense = dense  # type: ignore[assignment]
    return features


def crop_scale_features(image: Image.Image, *, lazy: bool = False) -> LocalFeatures:
    """ORB features of a query ``image`` read at :data:`CROP_SCALE` of :data:`SIDE`: a crop
    of half a photo's side, read at SIDE, is at twice the scale of its photo read at SIDE,
    and ORB matches some such pairs only at a closer scale (:func:`count_inliers_closer`);
    ``lazy`` as :func:`local_features`'s."""
    grey = contrast_levels(_picture(image, True, round(SIDE * CROP_SCALE)))
    return _orb(grey, mirrored=True, inverted=False, lazy=lazy)


def dense_features(image: Image.Image) -> LocalFeatures:
    """ORB features of a query ``image`` at :data:`SIDE`, :data:`DENSE_FEATURES` of them: the
    picture's own corners among those of what was laid over it (:func:`count_inliers_closer`).
    Upright only: they are asked for most pairs of a query in doubt, copies or not, and
    mirrored ones would double their cost (a mirrored copy is left to the first features)."""
    grey = contrast_levels(_picture(image, True, SIDE))
    return _orb(grey, mirrored=False, inverted=False, features=DENSE_FEATURES)


def count_inliers_closer(
    a: LocalFeatures,
    b: LocalFeatures,
    closer: Callable[[], LocalFeatures | None],
    denser: Callable[[], LocalFeatures | None] = lambda: None,
) -> int:
    """:func:`count_inliers` of a query ``a`` and a candidate ``b``; a pair left under
    :data:`MIN_INLIERS` is matched again with ``denser()``, the query's
    :data:`DENSE_FEATURES` key points (:func:`dense_features`), and one left with partial
    evidence (:data:`PARTIAL_INLIERS` up to :data:`MIN_INLIERS`) with ``closer()``, the query's
    features at a crop's scale (each made on first use)."""
    found = count_inliers(a, b)
    if found < MIN_INLIERS and (dense := denser()) is not None:
        found = max(found, count_inliers(dense, b))
    if PARTIAL_INLIERS <= found < MIN_INLIERS and (near := closer()) is not None:
        found = max(found, count_inliers(near, b))
    return found


def _picture(image: Image.Image, frames: bool, side: int) -> Image.Image:
    """``image`` in RGB (the photo inside its frame when ``frames`` finds one), its longer
    side resized to ``side``."""
    img = image.convert("RGB")
    if frames:
        box = find_content_box(img)
        if box is not None:
            img = box.crop(img)
    scale = side / max(img.size)
    size = (max(8, round(img.width * scale)), max(8, round(img.height * scale)))
    return img.resize(size, Image.Resampling.BILINEAR)


def _aligned(grey: np.ndarray, noise: float | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """The alignment picture of ``grey`` and ``grey``'s (width, height) (the same for
    inverted key points: :func:`pictures_agree` reads either sign).
    A picture whose :func:`noise_level` reaches :data:`NOISY` is smoothed first, as its key
    points are, by a Gaussian wide enough to leave about one grey level of its noise (at
    least :data:`SMOOTHING`): noise would fill every cell with detail of its own."""
    cv2 = opencv()
    noise = noise_level(grey) if noise is None else noise  # (given: already measured)
    if noise >= NOISY:
        # white noise of deviation n is left at n / (2 sqrt(pi) r) by a Gaussian of radius r
        grey = cv2.GaussianBlur(grey, (0, 0), max(SMOOTHING, noise / (2 * np.sqrt(np.pi))))
    return alignment_picture(cv2, grey), (grey.shape[1], grey.shape[0])


def _orb(
    grey: np.ndarray,
    *,
    mirrored: bool,
    inverted: bool,
    lazy: bool = False,
    features: int = FEATURES,
    aligned: tuple[np.ndarray, tuple[int, int]] | None = None,
) -> LocalFeatures:
    """ORB features of ``grey`` (inverted if asked), with ``aligned`` (:func:`_aligned`;
    made from ``grey`` when not given) as their picture."""
    cv2 = opencv()
    picture, size = aligned or _aligned(grey)
    if inverted:
        grey = 255 - grey

    def detect(plane: np.ndarray) -> Planes:
        orb = cv2.ORB_create(**{**ORB_SETTINGS, "nfeatures": features})
        keypoints, descriptors = orb.detectAndCompute(plane, None)
        return np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2), descriptors

    if not mirrored:
        return LocalFeatures(detect(grey), picture=picture, size=size)
    flipped = partial(detect, np.ascontiguousarray(grey[:, ::-1]))
    made = flipped if lazy else flipped()
    return LocalFeatures(detect(grey), made, picture=picture, size=size)  # type: ignore[arg-type]


Aligned = tuple[np.ndarray, tuple[int, int]] | None  # LocalFeatures.aligned()


def fit_transform(
    cv2: Any,
    a: tuple[Planes | None, Aligned],
    b: tuple[Planes | None, Aligned],
    affine: bool | None = False,
) -> tuple[int, np.ndarray | None]:
    """The inliers of ``a``'s planes matched to ``b``'s and the 2x3 transform of ``a``'s
    points onto ``b``'s: under a similarity (``affine`` False), any affine map (True), or a
    similarity and, where it explains fewer than :data:`MIN_INLIERS`, an affine map of the
    same matches that explains :data:`AFFINE_INLIERS` (None). 0 and None for no plausible
    transform, and for one that explains :data:`MIN_INLIERS` or more points but not the two
    pictures (:func:`pictures_agree`: an overlay the two share)."""
    ((pa, da), a_picture), ((pb, db), b_picture) = a, b
    if da is None or db is None or len(da) < 4 or len(db) < 4:
        return 0, None
    from_a, to_b = matches(da, db)
    if len(from_a) < 4:
        return 0, None
    fit = partial(_fit, cv2, pa[from_a], pb[to_b], a_picture, b_picture)
    found = fit(bool(affine), False)
    if affine is not None or found[0] >= MIN_INLIERS:
        return found
    skewed = fit(True, True)  # a skewed, stretched or perspective copy, the pictures laid over
    return skewed if skewed[0] >= AFFINE_INLIERS else found


def _fit(
    cv2: Any,
    src: np.ndarray,
    dst: np.ndarray,
    a_picture: Aligned,
    b_picture: Aligned,
    affine: bool,
    verdict: bool,
) -> tuple[int, np.ndarray | None]:
    """:func:`fit_transform` of the matched points ``src`` -> ``dst`` by one kind of map
    (``verdict``: the pictures must overlap enough to agree, :func:`pictures_agree`)."""
    # affine: also skews and a changed aspect ratio; else scale, rotation, translation only
    estimate = cv2.estimateAffine2D if affine else cv2.estimateAffinePartial2D
    transform, mask = estimate(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS, maxIters=500
    )
    if transform is None or mask is None:
        return 0, None
    scale = float(np.sqrt(abs(np.linalg.det(transform[:, :2]))))
    keep = mask.ravel().astype(bool)
    if not 1 / MAX_SCALE < scale < MAX_SCALE or keep.sum() < 4:
        return 0, None
    if not (_spread(src[keep], a_picture) and _spread(dst[keep], b_picture)):
        return 0, None
    refit = partial(_homography, cv2, src, dst)
    if keep.sum() >= MIN_INLIERS and not pictures_agree(
        cv2, a_picture, b_picture, transform, refit, verdict=verdict
    ):
        return 0, None
    return int(keep.sum()), transform


def _spread(points: np.ndarray, picture: Aligned) -> bool:
    """Whether inliers spread over the picture, not one small part of it: a standard deviation
    of :data:`MIN_SPREAD` of :data:`SIDE` along each axis - less along the short axis of a
    picture more elongated than 4:3, in proportion (its key points span its short side)."""
    extent = np.asarray(picture[1] if picture is not None else (SIDE, SIDE), np.float64)
    least = MIN_SPREAD * SIDE * np.minimum(1.0, extent / (FOUR_THREE * extent.max()))
    return bool((points.std(axis=0) >= least).all())


def _homography(cv2: Any, src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """A homography of the matches ``src`` -> ``dst`` (RANSAC as :func:`fit_transform`'s), or
    None when it explains fewer than :data:`MIN_INLIERS` of them: how a perspective copy is
    aligned where one similarity transform aligns it only near its key points."""
    if len(src) < MIN_INLIERS:
        return None
    found, mask = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PIXELS, maxIters=500)
    return found if mask is not None and int(mask.sum()) >= MIN_INLIERS else None


def count_inliers(
    a: LocalFeatures, b: LocalFeatures, enough: int | None = None, affine: bool | None = None
) -> int:
    """Geometrically consistent matches between two images (both directions, ``a`` also
    mirrored when its mirrored features were extracted) under one similarity transform, or
    where that explains too few, upright, an affine map that explains :data:`AFFINE_INLIERS`
    (any affine map when ``affine``, a similarity only when False: :func:`fit_transform`); 0
    when there is no plausible transform. With ``enough``, the first direction that reaches
    it answers (the count is then at least ``enough``, not the best). Below
    :data:`MIN_INLIERS`, a noisy image's smoothed features are matched too."""
    best = _count_inliers(a, b, enough, affine)
    if best < MIN_INLIERS and (a.smoothed is not None or b.smoothed is not None):
        best = max(best, _count_inliers(a.smoothed or a, b.smoothed or b, enough, affine))
    return best


def _count_inliers(
    a: LocalFeatures, b: LocalFeatures, enough: int | None, affine: bool | None
) -> int:
    cv2 = opencv()
    best = 0
    a_up, a_mirrored, b_up = a.aligned(), a.aligned(mirrored=True), b.aligned()
    Side = tuple[Planes | None, Aligned]  # a direction's planes and their picture
    directions: tuple[Callable[[], tuple[Side, Side]], ...] = (
        lambda: ((a.upright, a_up), (b.upright, b_up)),
        # read when asked: ``a``'s may be made on first use
        lambda: ((a.mirrored, a_mirrored), (b.upright, b_up)),
        lambda: ((b.upright, b_up), (a.upright, a_up)),
        lambda: ((b.upright, b_up), (a.mirrored, a_mirrored)),
    )
    for n, direction in enumerate(directions):
        first, second = direction()
        if first[0] is None or second[0] is None:
            continue
        # the affine retry upright both ways only (a mirrored skewed copy is left): half its cost
        kind = affine if n in (0, 2) or affine is not None else False
        best = max(best, fit_transform(cv2, first, second, kind)[0])
        if enough is not None and best >= enough:
            break
    return best


def key_points_match(a: LocalFeatures, b: LocalFeatures) -> bool:
    """Could two images be copies by their local geometry: at least :data:`MIN_INLIERS`
    matches under one affine map (``a`` matched mirrored too when it has its mirrored
    features)? Lenient on purpose: a skewed or stretched copy is no similarity transform of
    its original, while different photos share no map at all (hymenoptera: at most 7)."""
    return count_inliers(a, b, MIN_INLIERS, affine=True) >= MIN_INLIERS
