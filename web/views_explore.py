"""The explore pages: clusters (galleries of each group, noise apart), outliers (most outlying
first, with score and reason) and the map (every image a point on a canvas; the ES module
``static/map.js`` with ``map-view.js``, ``map-keys.js`` and ``map-colour.js`` draws it from
``GET /api/v1/map``).

Everything comes from ``engine.explore`` (a ``search.explore.Explorer``): no SQL or ONNX here.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from search.explore import DEFAULT_K, METHODS, PROJECTIONS, ExploreError, umap_available
from web import service
from web.api_explore import MAX_OUTLIERS, clusters_query
from web.errors import page_error
from web.fields import refuse_unknown_args
from web.params import parse_choice, parse_page, parse_whole
from web.text import visible
from web.views import _notice, bp, render_page

CLUSTERS_PER_PAGE = 8
MEMBERS_SHOWN = 11  # beside the representative; the rest behind "show all"
NOISE_SHOWN = 60
OUTLIER_COUNTS = (20, 50, 100, 200)


@bp.get("/clusters")
def clusters_page() -> Any:
    """Groups of similar images, largest first, a page of groups at a time; ``method``
    (density or kmeans), ``k`` (k-means), ``min_size`` (density), ``page``; the unclustered
    images (on the last page) :data:`NOISE_SHOWN` at a time, ``noise_page``."""
    notice, error = _notice(), None
    result, page, pages, shown, noise_page = None, 1, 1, [], 1
    method, k, min_size = "density", None, None
    if notice is None:
        try:
            refuse_unknown_args(("method", "k", "min_size", "page", "noise_page"))
            # the page's form always sends its k field: with method=density it is ignored;
            # a k typed into the address without a method is refused, as the API does
            method, k, min_size = clusters_query(strict="method" not in request.args)
            page, noise_page = parse_page(), parse_page("noise_page")
            result = service.engine().explore.clusters(method, k=k, min_size=min_size)
            pages = max(1, -(-len(result.clusters) // CLUSTERS_PER_PAGE))
            start = (page - 1) * CLUSTERS_PER_PAGE
            shown = result.clusters[start : start + CLUSTERS_PER_PAGE]
        except Exception as exc:
            error = page_error(exc)
            if request.args.get("method") in METHODS:  # the form as sent, to be corrected
                method, k = request.args["method"], k or visible(request.args.get("k") or "")
    extra: dict[str, Any] = {"method": method}
    if method == "kmeans" and result is not None:
        extra["k"] = result.parameter
    elif request.args.get("min_size"):
        extra["min_size"] = min_size
    return render_page(
        "clusters.html",
        "Clusters",
        error,
        notice=notice,
        result=result,
        shown=shown,
        page=page,
        pages=pages,
        extra=extra,
        method=method,
        k=result.parameter if result is not None and method == "kmeans" else k,
        min_size=min_size,
        first_number=(page - 1) * CLUSTERS_PER_PAGE + 1,
        members_shown=MEMBERS_SHOWN,
        noise_shown=NOISE_SHOWN,
        noise_page=noise_page,
        noise_pages=max(1, -(-len(result.noise) // NOISE_SHOWN)) if result is not None else 1,
    )


@bp.get("/outliers")
def outliers_page() -> Any:
    """The images least like the rest of the library, most outlying first (``n``)."""
    notice, error, found = _notice(), None, []
    n = OUTLIER_COUNTS[0]
    try:  # a bad n is a 400 page, as the API answers (it showed 20 without a word)
        refuse_unknown_args(("n",))
        n = parse_whole("n", OUTLIER_COUNTS[0], 1, MAX_OUTLIERS)
        if notice is None:
            found = service.engine().explore.outliers(n, k=DEFAULT_K)
    except Exception as exc:
        error = page_error(exc)
    return render_page(
        "outliers.html",
        "Outliers",
        error,
        notice=notice,
        outliers=found,
        n=n,
        counts=OUTLIER_COUNTS,
    )


@bp.get("/map")
def map_page() -> Any:
    """The 2-D map of the library (``projection``: pca or umap, as the API); the page's script
    fetches the points itself. A bad projection is a 400 page (it was PCA without a word)."""
    notice, error, projection = _notice(), None, PROJECTIONS[0]
    try:
        refuse_unknown_args(("projection",))
        projection = parse_choice("projection", PROJECTIONS, PROJECTIONS[0])
        if projection == "umap" and not umap_available():  # the page's own 400, as the API's
            raise ExploreError("the umap projection needs umap-learn: pip install umap-learn")
    except Exception as exc:
        error = page_error(exc)
    return render_page(
        "map.html",
        "Map",
        error,
        notice=notice,
        projection=projection,
        map_url=url_for("api.library_map"),
        image_url=url_for("views.image_page", image_id=0)[:-1],
        thumb_url=url_for("api.thumbnail", image_id=0),
    )
