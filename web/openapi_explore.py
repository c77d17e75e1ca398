"""The explore operations of the OpenAPI document (clusters, outliers, map)."""

from __future__ import annotations

from typing import Any

from search.explore import DEFAULT_K, DEFAULT_MIN_SIZE, METHODS, PROJECTIONS


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _int(name: str, low: int, high: int, default: int | None, text: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    if default is not None:
        schema["default"] = default
    return {"name": name, "in": "query", "description": text, "schema": schema}


_ERROR = {"$ref": "#/components/schemas/Error"}
_MEMBER = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "path": {"type": "string"},
        "thumbnail_url": {"type": "string"},
        "page_url": {"type": "string"},
    },
    "required": ["id", "path"],
}
_CLUSTER = {
    "type": "object",
    "properties": {
        "id": {
            "type": "integer",
            "minimum": 0,
            "description": "0-based, largest cluster first; people see id + 1 (the web "
            "page's and the CLI's 'Cluster 1' is id 0)",
        },
        "size": {"type": "integer"},
        "representative": _MEMBER,
        "labels": {"type": "array", "items": {"type": "string"}},
        "members": {"type": "array", "items": _MEMBER},
    },
    "required": ["id", "size", "representative", "labels", "members"],
}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "Bad parameters", 503: "No library yet, or a re-index is unfinished"}
    return {str(s): _json(_ERROR, text[s]) for s in statuses}


def explore_paths() -> dict[str, Any]:
    """Path items of /clusters, /outliers and /map."""
    return {
        "/clusters": {
            "get": {
                "summary": "Groups of similar images (from the stored vectors), largest first",
                "operationId": "clusters",
                "parameters": [
                    {
                        "name": "method",
                        "in": "query",
                        "description": "density (HDBSCAN: noise stays unclustered) or kmeans",
                        "schema": {"type": "string", "enum": list(METHODS), "default": "density"},
                    },
                    _int("k", 1, 10_000, None, "k-means' number of groups (method=kmeans)"),
                    _int("min_size", 2, 10_000, DEFAULT_MIN_SIZE, "Smallest density group"),
                    _int("page", 1, 1_000_000, 1, "Page of clusters, from 1"),
                    _int("per_page", 1, 200, 20, "Clusters per page"),
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "method": {"type": "string"},
                                "total": {"type": "integer"},
                                "clusters": {"type": "array", "items": _CLUSTER},
                                "noise_total": {"type": "integer"},
                                "noise": {"type": "array", "items": _MEMBER},
                            },
                            "required": ["method", "total", "clusters", "noise"],
                        },
                        "A page of clusters and (up to 200 of) the unclustered images",
                    ),
                    **_errors(400, 503),
                },
            }
        },
        "/outliers": {
            "get": {
                "summary": "Images far from everything else, most outlying first",
                "operationId": "outliers",
                "parameters": [
                    _int("n", 1, 1000, 20, "How many"),
                    _int("k", 1, 30, DEFAULT_K, "Which neighbour's distance is scored"),
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "outliers": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "rank": {"type": "integer"},
                                            "id": {"type": "integer"},
                                            "path": {"type": "string"},
                                            "score": {"type": "number", "nullable": True},
                                            "reason": {"type": "string"},
                                        },
                                        "required": ["rank", "id", "path", "score", "reason"],
                                    },
                                }
                            },
                            "required": ["outliers"],
                        },
                        "Robust z scores (sd above the library's typical image) with reasons",
                    ),
                    **_errors(400, 503),
                },
            }
        },
        "/map": {
            "get": {
                "summary": "The library's 2-D map: one point per image, as columns",
                "operationId": "map",
                "parameters": [
                    {
                        "name": "projection",
                        "in": "query",
                        "description": "pca, or umap (needs umap-learn on the server)",
                        "schema": {"type": "string", "enum": list(PROJECTIONS), "default": "pca"},
                    }
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "projection": {"type": "string"},
                                "count": {"type": "integer"},
                                "ids": {"type": "array", "items": {"type": "integer"}},
                                "x": {"type": "array", "items": {"type": "number"}},
                                "y": {"type": "array", "items": {"type": "number"}},
                                "cluster": {"type": "array", "items": {"type": "integer"}},
                                "label": {"type": "array", "items": {"type": "integer"}},
                                "label_names": {"type": "array", "items": {"type": "string"}},
                                "clusters_ready": {
                                    "type": "boolean",
                                    "description": "false: a large library's density clusters "
                                    "are still being computed (cluster is all -1 meanwhile); "
                                    "ask /map/clusters",
                                },
                                "generation": {
                                    "type": "integer",
                                    "description": "the library generation of these points",
                                },
                            },
                            "required": ["projection", "count", "ids", "x", "y"],
                        },
                        "x, y in [0, 1]; cluster: the density cluster's 0-based id (the "
                        "Clusters page's 'Cluster 1' is 0), -1 = noise; label indexes "
                        "label_names",
                    ),
                    **_errors(400, 503),
                },
            }
        },
        "/map/clusters": {
            "get": {
                "summary": "The map's cluster column, once computed (same order as /map's ids)",
                "operationId": "mapClusters",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "ready": {"type": "boolean"},
                                "generation": {"type": "integer"},
                                "count": {"type": "integer"},
                                "cluster": {"type": "array", "items": {"type": "integer"}},
                            },
                            "required": ["ready", "generation", "count", "cluster"],
                        },
                        "ready false: still computing (cluster all -1); ask again. A "
                        "generation other than the map's: the library changed, load /map again",
                    ),
                    **_errors(503),
                },
            }
        },
    }
