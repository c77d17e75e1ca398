"""The explore part of the JSON API: /api/v1/clusters, /api/v1/outliers, /api/v1/map (from the
library's stored vectors; cached per index generation, so a running server answers for the
newest generation without a restart)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from search.explore import DEFAULT_K, DEFAULT_MIN_SIZE, METHODS, PROJECTIONS, Member
from web import service
from web.api import bp
from web.errors import ApiError
from web.guard import public_item
from web.media_urls import image_urls
from web.params import parse_choice, parse_optional_whole, parse_page, parse_whole

CLUSTERS_PER_PAGE = 20
MAX_PER_PAGE = 200
MAX_NOISE_SHOWN = 200
MAX_OUTLIERS = 1000
MAX_K = 10_000  # k-means' groups
NOTHING_TO_CLUSTER = "Nothing to cluster: the library has no images yet."
DEFAULT_OUTLIERS = 20
MAX_OUTLIER_K = 30


def member_json(member: Member) -> dict[str, Any]:
    out = public_item({"id": member.id, "path": member.path})
    # versioned (?v=) as a search hit's: kept by the browser until the content changes
    out.update(image_urls(member.id, member.sha256))
    return out


def clusters_query(strict: bool = True) -> tuple[str, int | None, int]:
    """``method``, ``k`` (k-means) and ``min_size`` (density) of the request; not ``strict``
    (the page's form, which always sends its k field), a k with density is ignored; a
    min_size with kmeans is refused by both (the form has no min_size field)."""
    method = parse_choice("method", METHODS, "density")
    k = parse_optional_whole("k", 1, max_k()) if (request.args.get("k") or "").strip() else None
    min_size = parse_whole("min_size", DEFAULT_MIN_SIZE, 2, 10_000)
    if method == "density" and k is not None:
        if not strict:
            return method, None, min_size
        raise ApiError(400, "'k' is for method=kmeans; density takes 'min_size'.")
    if method == "kmeans" and request.args.get("min_size"):  # ignored without a word
        raise ApiError(400, "'min_size' is for method=density; kmeans takes 'k'.")
    return method, k, min_size


def max_k() -> int:
    """k-means' largest k: the library's number of images (at most 10 000; 10 000 when it
    cannot be read: the clustering says why), so that "k=abc" is told the real range."""
    try:
        count = int(service.engine().explore.stamp()["vectors"])  # type: ignore[call-overload]
    except Exception:
        count = 0
    return min(count, MAX_K) if count > 0 else MAX_K


@bp.get("/clusters")
def clusters() -> Response:
    """Groups of similar images, largest first, a page of clusters at a time."""
    method, k, min_size = clusters_query()
    page = parse_page()
    per_page = parse_whole("per_page", CLUSTERS_PER_PAGE, 1, MAX_PER_PAGE)
    result = service.engine().explore.clusters(method, k=k, min_size=min_size)
    shown = result.clusters[(page - 1) * per_page : page * per_page]
    total = len(result.clusters)
    pages = max(1, -(-total // per_page))
    # a page past the last is empty, as /images's are (it listed the unclustered images)
    noise = result.noise[:MAX_NOISE_SHOWN] if page <= pages else []
    empty = {"message": NOTHING_TO_CLUSTER} if not total and not result.noise else {}
    return jsonify(
        {
            **empty,
            "method": result.method,
            ("k" if method == "kmeans" else "min_size"): result.parameter,
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": pages,
            "clusters": [
                {
                    "id": c.id,
                    "size": len(c.members),
                    "representative": member_json(c.members[0]),
                    "labels": c.labels,
                    "members": [member_json(m) for m in c.members],
                }
                for c in shown
            ],
            "noise_total": len(result.noise),
            "noise": [member_json(m) for m in noise],
        }
    )


@bp.get("/outliers")
def outliers() -> Response:
    """The images farthest from everything else, most outlying first."""
    n = parse_whole("n", DEFAULT_OUTLIERS, 1, MAX_OUTLIERS)
    k = parse_whole("k", DEFAULT_K, 1, MAX_OUTLIER_K)
    found = service.engine().explore.outliers(n, k=k)
    return jsonify(
        {
            "outliers": [
                {**o.to_dict(), **member_json(Member(o.id, o.path, o.sha256, o.size))}
                for o in found
            ]
        }
    )


@bp.get("/map")
def library_map() -> Response:
    """Every image as a point of the library's 2-D map (columns, not objects: 100 k points)."""
    projection = parse_choice("projection", PROJECTIONS, "pca")
    found = service.engine().explore.library_map(projection)
    return jsonify(
        {
            "projection": found.projection,
            "count": len(found.ids),
            "ids": found.ids.tolist(),
            "x": [round(float(v), 4) for v in found.xy[:, 0]],
            "y": [round(float(v), 4) for v in found.xy[:, 1]],
            "cluster": found.cluster.tolist(),
            "label": found.label.tolist(),
            "label_names": found.label_names,
            "clusters_ready": found.clusters_ready,
            "generation": found.generation,
        }
    )


@bp.get("/map/clusters")
def map_clusters() -> Response:
    """The map's cluster column once a large library's clusters are computed, with the
    library generation it belongs to (another than the map's: the library changed, draw
    the map again). Never reads the library's vectors."""
    found = service.engine().explore.map_colouring()
    return jsonify(
        {
            "ready": found.ready,
            "generation": found.generation,
            "count": found.count,
            "cluster": found.cluster.tolist(),
        }
    )
