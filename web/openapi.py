"""The OpenAPI 3.0 document of the JSON API (served at /api/v1/openapi.json)."""

from __future__ import annotations

from functools import cache
from typing import Any

from search.descriptor import DUPLICATE_Z
from search.query import MAX_IMAGE_ID, MAX_LABEL_QUERY
from web.api_schemas import FLAG_FIELDS, FLAG_PARAMS, SCHEMAS, ref
from web.lookup_schemas import stored_answer_flags
from web.openapi_explore import explore_paths
from web.openapi_media import media_paths
from web.params import (
    BROWSE_PER_PAGE,
    CALIBRATED,
    DEFAULT_K,
    DEFAULT_OTHERS,
    FIXED,
    MAX_K,
    MAX_OTHERS,
)

API_VERSION = "1.0.0"


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _results_with(extra: dict[str, Any], description: str) -> dict[str, Any]:
    """A 200 response: the common ``Results`` plus ``extra`` top-level properties."""
    return _json({"allOf": [ref("Results"), {"type": "object", "properties": extra}]}, description)


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Bad parameters (k, min_score, roi, flag, threshold, threshold_mode, others, "
        "missing image)",
        404: "No image with that id, or its file is gone (a video's frame: the id is no "
        "video, or it has no frame at that time)",
        403: "The server cannot read the image's file (`file_unreadable`: permission denied; "
        "its permissions fix it, a re-index does not), or a cross-origin request",
        413: "Upload larger than the server's limit",
        409: "The file changed since it was indexed (no longer the image indexed)",
        415: "The upload is not a readable image (or has too many pixels), or the body is "
        "not a form (code `unsupported_media_type`: a JSON body is not read)",
        416: "The byte range asked for is beyond the file, or not a byte range",
        503: "No library yet (nothing indexed), its model is unavailable, a re-index is "
        "unfinished ('reindexing'), or the server is busy ('busy', see Retry-After)",
    }
    return {str(s): _json(ref("Error"), text[s]) for s in statuses}


_ID = {
    "name": "image_id",
    "in": "path",
    "required": True,
    "description": "The image's database id",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_IMAGE_ID},
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
    "description": "Minimum score: results whose rank score (`score`) is lower are left out "
    "(a fraction, or a percentage like '80%')",
    "schema": {"type": "number", "minimum": -1, "maximum": 1},
}


# a query names its image by an upload or by a library image id (the upload wins)
_ONE_QUERY_IMAGE = [{"required": ["image"]}, {"required": ["image_id"]}]


@cache
def openapi_document() -> dict[str, Any]:
    """The API description; paths are relative to the server's /api/v1."""
    search_form = {
        "type": "object",
        "properties": {
            "image": {
                "type": "string",
                "format": "binary",
                "description": "The query image, or a short video clip (mp4, mov, mkv, webm, "
                "avi, or an animated GIF / WebP / APNG): then library videos are ranked by "
                "how well the clip's frames match theirs, each hit's `timestamp_ms` where the "
                "clip starts in it",
            },
            "image_id": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_IMAGE_ID,
                "description": "Or (not both: 400): a library image as the query",
            },
            "roi": {
                "type": "string",
                "description": "Region of interest 'left,top,right,bottom' as fractions of the "
                "(EXIF-oriented) image, each 0..1, or 'px:left,top,right,bottom' in pixels "
                "(right/bottom at most the image's width/height). Anything else - a value out "
                "of its unit's range, an empty or inverted box, a pixel box beyond the "
                "image, a region with a video clip (searched by its whole frames) - is a 400 "
                "'bad_roi' error naming 'roi'",
                "example": "0.25,0.25,0.75,0.75",
            },
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": DEFAULT_K},
            "min_score": {**_MIN_SCORE["schema"], "description": _MIN_SCORE["description"]},
            **FLAG_FIELDS,
        },
        "anyOf": _ONE_QUERY_IMAGE,
    }
    lookup_form = {
        "type": "object",
        "properties": {
            "image": {
                "type": "string",
                "format": "binary",
                "description": "The query image, or a video clip: then its copies are the "
                "library videos whose frames and the clip's match in order (re-encoded, "
                "resized, trimmed), each hit's `timestamp_ms` where the clip starts in it",
            },
            "image_id": search_form["properties"]["image_id"],
            "threshold": {
                "type": "number",
                "exclusiveMinimum": True,
                "minimum": 0,
                "maximum": 1,
                "description": "Near-duplicate threshold on the copy score (`copy_score`, a "
                "fraction or a percentage like '90%'). Leave it out for the library's "
                f"calibrated decision (z >= {DUPLICATE_Z:g}), or the server's configured "
                "dedup threshold",
            },
            "threshold_mode": {
                "type": "string",
                "enum": [CALIBRATED, FIXED],
                "description": "Optional, as the web form sends it: 'calibrated' = no "
                "threshold (not both), 'fixed' = use 'threshold' (then required)",
            },
            "others": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_OTHERS,
                "default": DEFAULT_OTHERS,
                "description": "How many of the nearest other images (not near-duplicates) to add",
            },
        },
        "anyOf": _ONE_QUERY_IMAGE,
    }
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "imgsearch API",
            "version": API_VERSION,
            "description": "Self-hosted semantic image search: query by image or region, "
            "find copies of an image (reverse lookup), browse neighbours, labels and library "
            "statistics. Videos are library items too (`media`: video): hits name the moment "
            "that matched (`timestamp_ms`), their frames and files are served. Errors are "
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
                        "200": _results_with(
                            {
                                "query": {"type": "object"},
                                "took_ms": {"type": "number"},
                                **stored_answer_flags("The file of the image_id asked"),
                                "note": {
                                    "type": "string",
                                    "description": "Why the results are what they are, for "
                                    "people: a file gone, changed or unreadable (and what "
                                    "helps), or a video query's empty results (no video in "
                                    "the library, or the filter's doing)",
                                },
                            },
                            "Nearest images, best first",
                        ),
                        **_errors(400, 403, 404, 409, 413, 415, 503),
                    },
                }
            },
            "/lookup": {
                "post": {
                    "summary": "Reverse lookup: exact copies, near-duplicates, nearest others",
                    "description": "Where is this picture in the library, edited or not? "
                    "Compares whole images (no region, no k). Near-duplicates are decided by "
                    "the library's calibrated copy decision, or by a copy-score threshold; "
                    "the key points of doubtful candidates are checked even when a sure copy "
                    "is found (slower than a search, it finds more of the copies).",
                    "operationId": "lookup",
                    "requestBody": {
                        "required": True,
                        "content": {"multipart/form-data": {"schema": lookup_form}},
                    },
                    "responses": {
                        "200": _json(ref("LookupResult"), "The matches, labelled"),
                        **_errors(400, 403, 404, 409, 413, 415, 503),
                    },
                }
            },
            "/images": {
                "get": {
                    "summary": "Browse the library: its images, newest file first, by pages",
                    "description": "Newest first by the file's modification time (then id). "
                    "Each result is shaped like a search hit with `score` 0 and the file's "
                    "`mtime` (ISO 8601, UTC); `rank` is its position in the whole library.",
                    "operationId": "listImages",
                    "parameters": [
                        {
                            "name": "page",
                            "in": "query",
                            "description": "Page number, from 1",
                            "schema": {"type": "integer", "minimum": 1, "default": 1},
                        },
                        {
                            "name": "per_page",
                            "in": "query",
                            "description": "Images per page",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_K,
                                "default": BROWSE_PER_PAGE,
                            },
                        },
                        *FLAG_PARAMS,
                    ],
                    "responses": {
                        "200": _results_with(
                            {
                                "page": {"type": "integer"},
                                "per_page": {"type": "integer"},
                                "total": {"type": "integer"},
                                "pages": {"type": "integer"},
                            },
                            "A page of images, newest first",
                        ),
                        **_errors(400, 503),
                    },
                }
            },
            "/images/{image_id}": {
                "get": {
                    "summary": "An image's metadata and labels",
                    "operationId": "getImage",
                    "parameters": [_ID],
                    "responses": {
                        "200": _json(ref("Image"), "The image"),
                        **_errors(404, 503),
                    },
                }
            },
            "/images/{image_id}/similar": {
                "get": {
                    "summary": "An image's nearest neighbours",
                    "operationId": "similar",
                    "parameters": [_ID, _K, _MIN_SCORE, *FLAG_PARAMS],
                    "responses": {
                        "200": _results_with(
                            {
                                "id": {"type": "integer"},
                                **stored_answer_flags("The image's file"),
                                "note": {"type": "string", "description": "Why, for people"},
                            },
                            "Neighbours, best first",
                        ),
                        **_errors(400, 404, 503),
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
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": MAX_LABEL_QUERY,
                                "pattern": "\\S",
                            },
                        },
                        {**_K, "schema": {**_K["schema"], "default": 50}},
                        {
                            "name": "page",
                            "in": "query",
                            "description": "Page number, from 1: results k*(page-1)+1 on",
                            "schema": {"type": "integer", "minimum": 1, "default": 1},
                        },
                    ],
                    "responses": {
                        "200": _json(ref("LabelPage"), "Matching images, best label first"),
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
        "components": {"schemas": SCHEMAS},
    }
    document["paths"].update(media_paths(_ID, _errors))
    document["paths"].update(explore_paths())
    return document
