"""Build small real libraries for the engine and search-CLI tests (shared by both files)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from indexer.run import IndexOptions, index_collections
from models import ImageAnalyzer, load_image, pixel_sha256
from search.library import Library
from search.query import SearchEngine
from search.settings import Settings
from search.store import ChangeSet, ImageUpsert

HYMENOPTERA_PER_CLASS = 20  # of hymenoptera/val: the first N bees and the first N ants


def make_settings(library: Path, models_dir: Path, database_url: str | None = None) -> Settings:
    """A library in ``library`` (its database there, or at ``database_url``: PostgreSQL)."""
    return Settings(library=library, model_path=(models_dir,), database_url=database_url)


def add_files(library: Library, root: Path, rel_paths: Sequence[str]) -> list[int]:
    """Embed ``root/rel_path`` files and store them as one collection (one transaction)."""
    model = library.load_model(bind=True)
    collection_id = library.store.ensure_collection(root)
    with ImageAnalyzer(model, decode_workers=2) as analyzer:
        results = analyzer.analyze_batch([str(root / rel) for rel in rel_paths])
    upserts = []
    for rel, result in zip(rel_paths, results, strict=True):
        path = root / rel
        data = path.read_bytes()
        stat = path.stat()
        upsert = ImageUpsert(
            collection_id, rel, stat.st_size, stat.st_mtime_ns, hashlib.sha256(data).hexdigest()
        )
        if isinstance(result, Exception):
            upsert.status, upsert.error = "failed", str(result)
        else:
            upsert.pixel_sha256 = pixel_sha256(load_image(data, draft_size=None))
            upsert.width, upsert.height, upsert.format = result.width, result.height, result.format
            upsert.exif_datetime = result.exif_datetime
            upsert.vector, upsert.labels = result.embedding, result.labels
        upserts.append(upsert)
    applied = library.apply(ChangeSet(upserts=upserts))
    library.save_index()
    return applied.upserted_ids


def build_library(settings: Settings, collections: dict[Path, Sequence[str]]) -> None:
    """A library of exactly these files, written directly (records pixel hashes too)."""
    with Library.open(settings, create=True) as library:
        for root, rel_paths in collections.items():
            add_files(library, root, rel_paths)


def index_library(settings: Settings, folders: Sequence[Path]) -> None:
    """A library made by the real indexer (what `imgsearch index FOLDER...` does)."""
    with Library.open(settings, create=True) as library:
        model = library.load_model(bind=True)
        summary = index_collections(
            library, model, IndexOptions(paths=list(folders), progress=False, workers=2)
        )
    assert summary.failed == 0, summary.failures


def photo_library(photos: Sequence[Path], tmp_path: Path, models_dir: Path) -> list[str]:
    """``photos`` saved as JPEGs (quality 92) in ``tmp_path/photos``, indexed by the real
    indexer into ``tmp_path/lib``: the `imgsearch` arguments that name that library."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in photos:
        Image.open(photo).convert("RGB").save(folder / photo.name, quality=92)
    index_library(make_settings(tmp_path / "lib", models_dir), [folder])
    return ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]


def ukbench_files(data_dir: Path) -> tuple[Path, list[str]]:
    root = data_dir / "ukbench_subset" / "images"
    return root, sorted(p.name for p in root.glob("*.jpg"))


def ukbench_groups(data_dir: Path) -> dict[str, list[str]]:
    """File -> the other files of its group, by the ground-truth rule ``int(name[7:12]) // 4``."""
    truth = json.loads((data_dir / "ukbench_subset" / "ground_truth.json").read_text())
    return {name: list(mates) for name, mates in truth["queries"].items()}


def hymenoptera_files(
    data_dir: Path, per_class: int = HYMENOPTERA_PER_CLASS
) -> tuple[Path, list[str]]:
    root = data_dir / "hymenoptera" / "images" / "val"
    rel = []
    for label in ("ants", "bees"):
        rel += sorted(f"{label}/{p.name}" for p in (root / label).glob("*.jpg"))[:per_class]
    return root, rel


def copy_files(sources: Sequence[Path], target: Path) -> list[str]:
    """Copy photos into a scratch collection (a tmp dir, never the repository)."""
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for source in sources:
        shutil.copy2(source, target / source.name)
        names.append(source.name)
    return names


def hymenoptera_copy(data_dir: Path, target: Path, per_class: int = HYMENOPTERA_PER_CLASS) -> Path:
    """``target/{ants,bees}/``: copies of the first ``per_class`` val photos of each class."""
    root, rel_paths = hymenoptera_files(data_dir, per_class)
    for rel in rel_paths:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target / rel)
    return target


def edit_photo(photo: Path, out: Path, scale: float, crop: float, quality: int) -> None:
    """``photo`` cropped by ``crop`` of each side, scaled by ``scale``, saved as a JPEG."""
    image = Image.open(photo).convert("RGB")
    w, h = image.size
    dx, dy = int(w * crop), int(h * crop)
    image = image.crop((dx, dy, w - dx, h - dy))
    image.resize((int(image.width * scale), int(image.height * scale))).save(out, quality=quality)


def quarter_crop(photo: Path, out: Path) -> None:
    """A quarter of ``photo`` (off centre), enlarged to 400 px wide, as a JPEG: a heavy crop
    that the copy score leaves in the grey band and key points confirm."""
    image = Image.open(photo).convert("RGB")
    w, h = image.size
    crop = image.crop((int(w * 0.1), int(h * 0.15), int(w * 0.6), int(h * 0.7)))
    crop.resize((400, round(400 * crop.height / crop.width))).save(out, quality=85)


def copies_library(
    root: Path, data_dir: Path, models_dir: Path, quarter: bool = False
) -> tuple[Path, Settings, str]:
    """Ten hymenoptera photos and two edited copies of the first in ``root/photos`` (and, with
    ``quarter``, its :func:`quarter_crop` as ``quarter.jpg``), indexed into ``root/lib``; a
    third edit of it is ``root/query.jpg``: ``(root, settings, the first photo's stem)`` (the
    key-point witness's library: lesser copies under a best one)."""
    folder = root / "photos"
    folder.mkdir()
    photos = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:10]
    for photo in photos:
        Image.open(photo).convert("RGB").save(folder / f"{photo.stem}.jpg", quality=92)
    edit_photo(photos[0], folder / "copy_small.jpg", 0.6, 0.0, 80)
    edit_photo(photos[0], folder / "copy_cropped.jpg", 1.0, 0.06, 85)
    edit_photo(photos[0], root / "query.jpg", 0.8, 0.03, 75)
    if quarter:
        quarter_crop(photos[0], folder / "quarter.jpg")
    settings = make_settings(root / "lib", models_dir)
    index_library(settings, [folder])
    return root, settings, photos[0].stem


def copies_found(engine: SearchEngine, query: Path) -> list[tuple[str, bool, str | None]]:
    """A query's hits past the decision by their vectors (z >= 6): (file stem, duplicate
    flag, look-alike reason)."""
    hits = engine.search_image(query, k=5)
    past = [h for h in hits if h.duplicate or h.lookalike]
    return [(Path(h.path).stem, h.duplicate, h.lookalike_reason) for h in past]
