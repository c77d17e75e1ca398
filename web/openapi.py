"""The OpenAPI 3.0 document of the JSON API (served at /api/v1/openapi.json)."""

from __future__ import annotations

from functools import cache
from typing import Any

from search.thumbnails import DEFAULT_SIZE, SIZES
from web.params import DEFAULT_K, DEFAULT_OTHERS, MAX_K, MAX_OTHERS

API_VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Bad parameters (k, min_score, roi, threshold, others, missing image)",
        404: "No image with that id, or its file is gone",
        413: "Upload larger than the server's limit",
        415: "The upload is not a readable image (or has too many pixels)",
        503: "No library yet (nothing indexed), or its model is unavailable",
    }
    return {str(s): _json(_ref("Error"), text[s]) for s in statuses}


_ID = {
    "name": "image_id",
    "in": "path",
    "required": True,
    "description": "The image's database id",
    "schema": {"type": "integer", "minimum": 1},
}
_K = {
    "name": "k",
    "in": "query",
    "description": "Number of results",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": DEFAULT_K},
}
_MIN_SCORE = {
    "name": "min_score",
    "in": "query",
    "description": "Minimum cosine similarity (a fraction, or a percentage like '80%')",
    "schema": {"type": "number", "minimum": -1, "maximum": 1},
}

_BINARY = {"type": "string", "format": "binary"}
_LABEL = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "score": {"type": "number"}},
    "required": ["name", "score"],
}
_URLS = {
    "thumbnail_url": {"type": "string", "description": "EXIF-oriented JPEG thumbnail"},
    "file_url": {"type": "string", "description": "The original file"},
    "page_url": {"type": "string", "description": "The image's HTML page"},
}
_HIT = {
    "type": "object",
    "properties": {
        "rank": {"type": "integer", "minimum": 1},
        "score": {"type": "number", "description": "Cosine similarity, 1.0 = same vector"},
        "id": {"type": "integer"},
        "path": {"type": "string"},
        "width": {"type": "integer", "nullable": True},
        "height": {"type": "integer", "nullable": True},
        "size": {"type": "integer", "description": "File size in bytes"},
        "labels": {"type": "array", "items": _LABEL},
        "exact": {"type": "boolean", "description": "Byte- or pixel-identical to the query"},
        "collection_id": {"type": "integer", "nullable": True},
        "rel_path": {"type": "string", "nullable": True},
        "format": {"type": "string", "nullable": True},
        "label": {"type": "string", "description": "Matching label (label searches only)"},
        **_URLS,
    },
    "required": ["rank", "score", "id", "path", "width", "height", "labels", "thumbnail_url",
                 "file_url"],
}  # fmt: skip
_IMAGE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "path": {"type": "string"},
        "collection": {"type": "string"},
        "collection_id": {"type": "integer"},
        "rel_path": {"type": "string"},
        "file_size": {"type": "integer"},
        "width": {"type": "integer", "nullable": True},
        "height": {"type": "integer", "nullable": True},
        "format": {"type": "string", "nullable": True},
        "mtime": {"type": "string", "format": "date-time"},
        "sha256": {"type": "string", "nullable": True},
        "exif_datetime": {"type": "string", "format": "date-time", "nullable": True},
        "labels": {"type": "array", "items": _LABEL},
        "status": {"type": "string", "enum": ["ok", "failed"]},
        "error": {"type": "string", "nullable": True},
        **_URLS,
    },
    "required": ["id", "path", "labels", "status", "thumbnail_url", "file_url"],
}
_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string", "description": "Short machine-readable reason"},
                "message": {"type": "string", "description": "What went wrong, for people"},
            },
            "required": ["status", "code", "message"],
        }
    },
    "required": ["error"],
}
_LOOKUP_MATCH = {
    "allOf": [
        {"$ref": "#/components/schemas/SearchHit"},
        {
            "type": "object",
            "properties": {
                "match": {
                    "type": "string",
                    "enum": ["exact", "near", "similar"],
                    "description": "exact: same bytes or same pixels; near: cosine at or above "
                    "the threshold; similar: one of the nearest others below it",
                },
                "evidence": {
                    "type": "string",
                    "description": "Why, for people: 'same bytes (sha256)', 'same pixels, "
                    "other encoding', 'cosine 0.930 >= threshold 0.90' ...",
                },
            },
            "required": ["match", "evidence"],
        },
    ]
}
_LOOKUP = {
    "type": "object",
    "properties": {
        "threshold": {"type": "number", "description": "The near-duplicate threshold used"},
        "query": {
            "type": "object",
            "properties": {
                "image_id": {"type": "integer", "nullable": True},
                "filename": {"type": "string", "nullable": True},
                "others": {"type": "integer"},
                "sha256": {"type": "string", "nullable": True},
                "width": {"type": "integer"},
                "height": {"type": "integer"},
                "format": {"type": "string", "nullable": True},
            },
        },
        "counts": {
            "type": "object",
            "properties": {k: {"type": "integer"} for k in ("exact", "near", "similar")},
            "required": ["exact", "near", "similar"],
        },
        "took_ms": {"type": "number"},
        "results": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/LookupMatch"},
            "description": "Exact copies first, then near-duplicates, then the others; "
            "best first within each",
        },
    },
    "required": ["threshold", "query", "counts", "results"],
}
_RESULTS = {
    "type": "object",
    "properties": {"results": {"type": "array", "items": _ref("SearchHit")}},
    "required": ["results"],
}


@cache
def openapi_document() -> dict[str, Any]:
    """The API description; paths are relative to the server's /api/v1."""
    search_form = {
        "type": "object",
        "properties": {
            "image": {"type": "string", "format": "binary", "description": "The query image"},
            "image_id": {"type": "integer", "description": "Or: a library image as the query"},
            "roi": {
                "type": "string",
                "description": "Region of interest 'left,top,right,bottom': fractions in "
                "[0, 1] of the (EXIF-oriented) image, or pixels",
                "example": "0.25,0.25,0.75,0.75",
            },
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": DEFAULT_K},
            "min_score": {"type": "number", "minimum": -1, "maximum": 1},
        },
    }
    lookup_form = {
        "type": "object",
        "properties": {
            "image": search_form["properties"]["image"],
            "image_id": search_form["properties"]["image_id"],
            "threshold": {
                "type": "number",
                "exclusiveMinimum": True,
                "minimum": 0,
                "maximum": 1,
                "description": "Near-duplicate threshold on cosine similarity (a fraction, or "
                "a percentage like '90%'); default: the library's dedup threshold",
            },
            "others": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_OTHERS,
                "default": DEFAULT_OTHERS,
                "description": "How many of the nearest images below the threshold to add",
            },
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "imgsearch API",
            "version": API_VERSION,
            "description": "Self-hosted semantic image search: query by image or region, "
            "find copies of an image (reverse lookup), browse neighbours, labels and library "
            "statistics. Errors are "
            '{"error": {"status", "code", "message"}}.',
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/search": {
                "post": {
                    "summary": "Search by image (optionally a region of it)",
                    "operationId": "search",
                    "requestBody": {
                        "required": True,
                        "content": {"multipart/form-data": {"schema": search_form}},
                    },
                    "responses": {
                        "200": _json(
                            {
                                "allOf": [
                                    _ref("Results"),
                                    {
                                        "type": "object",
                                        "properties": {
                                            "query": {"type": "object"},
                                            "took_ms": {"type": "number"},
                                        },
                                    },
                                ]
                            },
                            "Nearest images, best first",
                        ),
                        **_errors(400, 404, 413, 415, 503),
                    },
                }
            },
            "/lookup": {
                "post": {
                    "summary": "Reverse lookup: exact copies, near-duplicates, nearest others",
                    "description": "Where is this picture in the library, edited or not? "
                    "Compares whole images (no region, no k).",
                    "operationId": "lookup",
                    "requestBody": {
                        "required": True,
                        "content": {"multipart/form-data": {"schema": lookup_form}},
                    },
                    "responses": {
                        "200": _json(_ref("LookupResult"), "The matches, labelled"),
                        **_errors(400, 404, 413, 415, 503),
                    },
                }
            },
            "/images/{image_id}": {
                "get": {
                    "summary": "An image's metadata and labels",
                    "operationId": "getImage",
                    "parameters": [_ID],
                    "responses": {
                        "200": _json(_ref("Image"), "The image"),
                        **_errors(404, 503),
                    },
                }
            },
            "/images/{image_id}/similar": {
                "get": {
                    "summary": "An image's nearest neighbours",
                    "operationId": "similar",
                    "parameters": [_ID, _K, _MIN_SCORE],
                    "responses": {
                        "200": _json(_ref("Results"), "Neighbours, best first"),
                        **_errors(400, 404, 503),
                    },
                }
            },
            "/images/{image_id}/thumbnail": {
                "get": {
                    "summary": "EXIF-oriented JPEG thumbnail (cached on disk)",
                    "operationId": "thumbnail",
                    "parameters": [
                        _ID,
                        {
                            "name": "size",
                            "in": "query",
                            "description": "Longest side in pixels",
                            "schema": {
                                "type": "integer",
                                "enum": list(SIZES),
                                "default": DEFAULT_SIZE,
                            },
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "JPEG thumbnail",
                            "content": {"image/jpeg": {"schema": _BINARY}},
                        },
                        **_errors(400, 404, 415, 503),
                    },
                }
            },
            "/images/{image_id}/file": {
                "get": {
                    "summary": "The original file",
                    "operationId": "imageFile",
                    "parameters": [_ID],
                    "responses": {
                        "200": {
                            "description": "The file, with its image media type",
                            "content": {"image/*": {"schema": _BINARY}},
                        },
                        **_errors(404, 503),
                    },
                }
            },
            "/stats": {
                "get": {
                    "summary": "Library statistics: collections, counts, model, index, runs",
                    "operationId": "stats",
                    "responses": {
                        "200": _json({"type": "object"}, "Statistics"),
                        **_errors(503),
                    },
                }
            },
            "/labels": {
                "get": {
                    "summary": "Images whose top labels match a word",
                    "operationId": "labels",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "maxLength": 100},
                        },
                        {**_K, "schema": {**_K["schema"], "default": 50}},
                    ],
                    "responses": {
                        "200": _json(_ref("Results"), "Matching images, best label first"),
                        **_errors(400, 503),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document")},
                }
            },
        },
        "components": {
            "schemas": {
                "SearchHit": _HIT,
                "Image": _IMAGE,
                "Results": _RESULTS,
                "LookupMatch": _LOOKUP_MATCH,
                "LookupResult": _LOOKUP,
                "Error": _ERROR,
            }
        },
    }
