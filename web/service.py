"""What the API and the HTML views share: running queries through the engine, JSON shapes.

Neither SQL nor ONNX runs here: everything goes through ``search.engine``. Files are reached
only through ``engine.image_file_path(id)``, the path the database holds for that id.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import current_app, request

from search.thumbnails import DEFAULT_SIZE, ThumbnailCache
from web.errors import ApiError
from web.params import Query
from web.state import EngineHolder


def holder() -> EngineHolder:
    return current_app.extensions["imgsearch"]


def engine() -> Any:
    """The shared engine, refreshed at most once a second (raises while no library exists)."""
    return holder().get()


def thumbnails() -> ThumbnailCache:
    return current_app.extensions["imgsearch.thumbnails"]


def run_search(query: Query) -> tuple[list[Any], float]:
    """Search by the uploaded image or by a library image (optionally a region of it)."""
    eng = engine()
    started = time.perf_counter()
    if query.data is not None:
        source: bytes | Path = query.data
    else:
        assert query.image_id is not None
        source = library_file(eng, query.image_id)[1]
    hits = eng.search_image(source, roi=query.roi, k=query.k, min_score=query.min_score)
    return list(hits), (time.perf_counter() - started) * 1000.0


def library_file(eng: Any, image_id: int) -> tuple[Any, Path]:
    """A library image's record and file, the path from the database (404 when unknown)."""
    info = eng.get_image(image_id)
    if info is None:
        raise ApiError(404, f"No image with id {image_id}.")
    path = Path(eng.image_file_path(image_id))
    if not path.is_file():
        raise ApiError(
            404, "The image file is no longer on disk; re-run the index.", "file_missing"
        )
    return info, path


def image_urls(image_id: int) -> dict[str, str]:
    """The image's URLs (string building: ``url_for`` x 3 per hit cost ~4 ms per search)."""
    root = request.script_root
    return {
        "thumbnail_url": f"{root}/api/v1/images/{int(image_id)}/thumbnail",
        "file_url": f"{root}/api/v1/images/{int(image_id)}/file",
        "page_url": f"{root}/images/{int(image_id)}",
    }


def hit_json(hit: Any) -> dict[str, Any]:
    out = hit.to_dict()
    out["score"] = round(float(out["score"]), 6)
    out.update(image_urls(hit.id))
    return out


def image_json(info: Any) -> dict[str, Any]:
    out = info.to_dict()
    out.update(image_urls(info.id))
    return out


def thumbnail_path(image_id: int, size: int = DEFAULT_SIZE) -> Path:
    """The cached (made on demand) EXIF-oriented JPEG thumbnail of a library image."""
    info, source = library_file(engine(), image_id)
    return thumbnails().get(image_id, source, size=size, sha256=getattr(info, "sha256", None))
