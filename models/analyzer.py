"""The indexer's hot path: decode in a thread pool while ONNX runs, one pass per batch giving
the embedding, the top labels and the image metadata."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

import models.options as check
from models.analysis import Analysis, Prepared, Ready
from models.crops import CROP_REGIONS
from models.decode_pool import DecodePool
from models.errors import ImageError, RoiError
from models.extra_views import ViewMaker, embed_extra, embed_views, framed_photo, make_views
from models.frame import find_content_box
from models.labels import TopLabels
from models.layout import image_layout
from models.load import DEFAULT_MAX_PIXELS
from models.onnx_model import OnnxModel
from models.quality import measure_quality
from models.roi import coerce_roi
from models.sources import ImageSource, source_name

if TYPE_CHECKING:
    from models.views import ViewSet

log = logging.getLogger(__name__)
Extra = list[np.ndarray] | None  # [extra model inputs], replaced by their embeddings


class RoiImageError(RoiError, ImageError):
    """An ROI that does not fit one image of a batch (is both a RoiError and an ImageError)."""

    reason = "bad_roi"


def _done(prepared: Prepared | ImageError) -> Future[Prepared | ImageError]:
    future: Future[Prepared | ImageError] = Future()
    future.set_result(prepared)
    return future


class ImageAnalyzer:
    """Batched, overlapped decode + single ONNX pass (embedding and top labels).

    ``decode_workers`` threads decode and preprocess while the calling thread runs the model
    (ONNX Runtime releases the GIL). ``decode_workers=0`` decodes inline; with
    ``decode_active`` only that many of them work at first, and one more joins after a batch
    when the model thread has waited for decodes longer than it worked over the run so far
    (:class:`models.decode_pool.DecodePool`). With ``frames``
    every whole image is also searched for a photo inside a frame (:mod:`models.frame`, about
    a millisecond in the decode threads); framed photos get a second embedding from an extra
    model pass (:attr:`Analysis.frame_embedding`), the others cost nothing more. ``views``
    makes extra views of whole images in the decode threads (an error there only loses the
    views); they are embedded in one more pass per batch (:attr:`Analysis.view_embeddings`).
    With ``crops`` every whole image's five crops (:mod:`models.crops`) are embedded too, in
    one more pass per batch (:attr:`Analysis.crop_embeddings`: five model inputs an image).
    """

    def __init__(
        self,
        model: OnnxModel,
        decode_workers: int = 2,
        top_labels: int = 5,
        *,
        batch_size: int = 32,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        rotation_degrees: int = 0,
        keep_probs: bool = False,
        frames: bool = False,
        views: ViewMaker | None = None,
        quality: bool = False,
        crops: bool = False,
        decode_active: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model = model
        self.decode_workers = max(0, int(decode_workers))
        self.decode_active = decode_active
        self.top_labels = max(0, int(top_labels))
        self.batch_size = int(batch_size)
        self.max_pixels = max_pixels
        self.rotation_degrees = rotation_degrees
        self.keep_probs = keep_probs
        self.frames = frames
        self.views = views
        self.quality = quality
        self.crops = crops
        self._executor: DecodePool | None = None
        self._top = TopLabels(model.labels, model.spec.background_index)

    # ------------------------------------------------------------------ lifecycle
    def pool(self) -> DecodePool | None:
        """The decode threads (made on first use; None when decoding inline)."""
        if self.decode_workers and self._executor is None:
            self._executor = DecodePool(self.decode_workers, self.decode_active)
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ImageAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ per image
    def prepare(
        self, source: ImageSource, roi: object = None, rotation_degrees: int | None = None
    ) -> Prepared | ImageError:
        """Decode + preprocess one image; errors are returned, not raised (a bad
        ``rotation_degrees`` is the caller's: ``ValueError`` / ``TypeError``)."""
        name = source_name(source)
        rotation = check.rotation(
            self.rotation_degrees if rotation_degrees is None else rotation_degrees
        )
        try:
            region = coerce_roi(roi)
            decoded = self.model.load(
                source, region, rotation_degrees=rotation, max_pixels=self.max_pixels
            )
            tensor = self.model.preprocess(decoded, region)
            prepared = Prepared(decoded, tensor, region)
            if self.quality and region is None:
                prepared.quality = measure_quality(tensor, decoded.width, decoded.height)
                prepared.layout = image_layout(decoded.image)
            if self.frames and region is None:
                box = find_content_box(decoded.image)
                if box is not None:
                    prepared.frame_box = box
                    photo = framed_photo(
                        self.model, source, decoded, box, rotation, self.max_pixels
                    )
                    prepared.frame_tensor = self.model.preprocess(photo)
            if self.crops and region is None:
                prepared.crop_tensors = np.stack(
                    [self.model.preprocess(decoded, crop) for crop in CROP_REGIONS]
                )
            return self.add_views(prepared, source)
        except ImageError as exc:
            return exc
        except RoiError as exc:
            return RoiImageError(str(exc), source=name)
        except Exception as exc:  # a decoder bug must not take the rest of the batch down
            log.exception("unexpected error decoding %s", name)
            return ImageError(
                f"cannot decode image: {type(exc).__name__}: {exc}",
                source=name,
                reason="decode_failed",
            )

    def add_views(
        self, prepared: Prepared | ImageError, source: ImageSource
    ) -> Prepared | ImageError:
        """Make the extra views (``views``) of a prepared whole image from its decode: the
        last step of :meth:`prepare`, or a later one for an image prepared before ``views``
        was set (a new library's head start)."""
        if isinstance(prepared, Prepared) and self.views is not None and prepared.region is None:
            prepared.view_tensors, prepared.view_costs = make_views(
                self.model, self.views, source, prepared.decoded
            )
        return prepared

    def _labels(self, probs: np.ndarray) -> list[tuple[str, float]]:
        return self._top(probs, self.top_labels)

    def _infer(
        self, chunk: list[Prepared | ImageError], raw: bool, more: Extra = None
    ) -> list[Analysis | ImageError]:
        good = [i for i, item in enumerate(chunk) if isinstance(item, Prepared)]
        results: list[Analysis | ImageError] = list(chunk)  # type: ignore[arg-type]
        if not good:
            return results
        batch = np.stack([chunk[i].tensor for i in good] + list(more[0] if more else []))  # type: ignore[union-attr]
        out = self.model.run(batch, raw=raw)
        if more:  # the extra inputs' embeddings, from the same run
            more[0] = out.embeddings[len(good) :].copy()
        prepared: dict[int, Prepared] = {i: chunk[i] for i in good}  # type: ignore[misc]
        frame_vectors = embed_extra(
            self.model,
            {i: p.frame_tensor[None] for i, p in prepared.items() if p.frame_tensor is not None},
            self.batch_size,
        )
        crop_vectors = embed_extra(
            self.model,
            {i: p.crop_tensors for i, p in prepared.items() if p.crop_tensors is not None},
            self.batch_size,
        )
        views = {i: (chunk[i].view_tensors, chunk[i].view_costs) for i in good}  # type: ignore[union-attr]
        view_vectors = (
            embed_views(self.model, views, self.batch_size) if self.views is not None else {}
        )
        for row, i in enumerate(good):
            decoded = chunk[i].decoded  # type: ignore[union-attr]
            probs = out.probs[row] if out.probs is not None else None
            analysis = Analysis(
                embedding=out.embeddings[row].copy(),
                labels=self._labels(probs) if probs is not None else [],
                width=decoded.width,
                height=decoded.height,
                format=decoded.format,
                exif_datetime=decoded.exif_datetime,
                source=decoded.source,
                probs=probs.copy() if probs is not None and self.keep_probs else None,
                raw_embedding=out.raw[row].copy() if out.raw is not None else None,
                frame_box=chunk[i].frame_box if i in frame_vectors else None,  # type: ignore[union-attr]
                frame_embedding=frame_vectors[i][0] if i in frame_vectors else None,
                crop_embeddings=crop_vectors.get(i),
                quality=chunk[i].quality,  # type: ignore[union-attr]
                layout=chunk[i].layout,  # type: ignore[union-attr]
            )
            if i in view_vectors:
                analysis.view_embeddings, analysis.view_costs = view_vectors[i]
            results[i] = analysis
        return results

    # ------------------------------------------------------------------ batches
    def analyze_iter(
        self,
        sources: Iterable[ImageSource],
        rois: Iterable[object] | None = None,
        *,
        raw: bool = False,
    ) -> Iterator[Analysis | ImageError]:
        """Stream results in input order; decoding runs up to two batches ahead."""
        items = zip(sources, rois if rois is not None else repeat(None), strict=False)
        pool = self.pool()
        if pool is None:
            chunk: list[Prepared | ImageError] = []
            for source, roi in items:
                if isinstance(source, Ready):
                    ready = source.prepared
                    chunk.append(ready.result() if isinstance(ready, Future) else ready)
                else:
                    chunk.append(self.prepare(source, roi))
                if len(chunk) == self.batch_size:
                    yield from self._infer(chunk, raw)
                    chunk = []
            if chunk:
                yield from self._infer(chunk, raw)
            return
        lookahead = 2 * self.batch_size
        pending: deque[Future[Prepared | ImageError]] = deque()
        image_locks: dict[int, threading.Lock] = {}
        exhausted = False

        def fill() -> None:
            nonlocal exhausted
            while not exhausted and len(pending) < lookahead:
                try:
                    source, roi = next(items)
                except StopIteration:
                    exhausted = True
                    return
                if isinstance(source, Ready):
                    ready = source.prepared
                    pending.append(ready if isinstance(ready, Future) else _done(ready))
                elif isinstance(source, Image.Image):
                    # one PIL object given twice must not be loaded by two threads at once
                    lock = image_locks.setdefault(id(source), threading.Lock())
                    pending.append(pool.offer(self._prepare_alone, lock, source, roi))
                else:
                    pending.append(pool.offer(self.prepare, source, roi))

        fill()
        try:
            while pending:
                chunk = []
                while pending and len(chunk) < self.batch_size:
                    chunk.append(pool.result(pending.popleft()))
                    fill()
                results = self._infer(chunk, raw)
                pool.pace()
                yield from results
        finally:
            for fut in pending:
                fut.cancel()

    def _prepare_alone(self, lock: threading.Lock, source: Image.Image, roi: object) -> Any:
        with lock:  # a lazily opened PIL image loads on first use: not thread-safe
            return self.prepare(source, roi)

    def analyze_batch(
        self, sources: Sequence[ImageSource], rois: Sequence[object] | None = None
    ) -> list[Analysis | ImageError]:
        """Analyse ``sources`` (input order kept; a bad image's :class:`ImageError` sits in
        its slot, the rest of the batch is unaffected)."""
        if rois is not None and len(rois) != len(sources):
            raise ValueError(f"{len(sources)} images but {len(rois)} regions of interest")
        return list(self.analyze_iter(sources, rois))

    def analyze(
        self,
        source: ImageSource,
        roi: object = None,
        *,
        raw: bool = False,
        rotation_degrees: int | None = None,
    ) -> Analysis:
        """One image; raises its :class:`ImageError` / :class:`RoiError`."""
        result = self.infer_prepared(self.prepare(source, roi, rotation_degrees), raw=raw)
        if isinstance(result, ImageError):
            raise result
        return result

    def infer_prepared(
        self, prepared: Prepared | ImageError, *, raw: bool = False, more: Extra = None
    ) -> Analysis | ImageError:
        """Run the model on one result of :meth:`prepare` (errors pass through), and on the
        inputs in ``more`` (a query's other views) in the same batch: see :data:`Extra`."""
        return self._infer([prepared], raw, more)[0]

    def analyze_views(
        self,
        source: ImageSource,
        roi: object = None,
        *,
        rotations: Sequence[int] = (0, 90, 180, 270),
        frames: bool = True,
        upright_only: bool = False,
        unblock: bool = True,
    ) -> ViewSet:
        """One query, several views (quarter turns, the photo inside a frame, a pixelated
        picture's blocks smoothed out); see
        :func:`models.views.analyze_views`. Raises the image's :class:`ImageError`."""
        from models.views import analyze_views

        return analyze_views(
            self,
            source,
            roi,
            rotations=rotations,
            frames=frames,
            upright_only=upright_only,
            unblock=unblock,
        )

    def turned_embeddings(self, source: ImageSource) -> np.ndarray:
        """The whole image turned by a quarter, a half and three quarters: embeddings [3, D]
        (see :func:`models.views.turned_embeddings`). Raises the image's :class:`ImageError`."""
        from models.views import turned_embeddings

        return turned_embeddings(self, source)
