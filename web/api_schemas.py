"""The component schemas of the JSON API's OpenAPI document (see web/openapi.py): search
hits with their rank score, copy score and calibrated copy decision, images, lookups, errors."""

from __future__ import annotations

from typing import Any

from models.quality import FLAGS
from search.descriptor import DUPLICATE_Z, PIXEL_MATCH, PIXEL_SIDE, VOUCH_Z
from web.lookup_schemas import LOOKUP, LOOKUP_MATCH


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


BINARY = {"type": "string", "format": "binary"}
_LABEL = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "score": {"type": "number"}},
    "required": ["name", "score"],
}
_URLS = {
    "thumbnail_url": {
        "type": "string",
        "description": "EXIF-oriented JPEG thumbnail; its `v` is the version of the content "
        "that was indexed: the URL changes when the file is indexed again with other content",
    },
    "file_url": {"type": "string", "description": "The original file (versioned: `v`)"},
    "page_url": {"type": "string", "description": "The image's HTML page"},
}
_FLAGS = {
    "type": "array",
    "nullable": True,
    "items": {"type": "string", "enum": list(FLAGS)},
    "description": "Quality flags measured at index time (dark, bright = overexposed, blurry, "
    "tiny, uniform = almost uniform); [] = none; null = not measured (indexed before quality "
    "flags existed, or a video)",
}
_QUALITY = {
    "type": "object",
    "nullable": True,
    "description": "The measures behind the flags, on the model's 224 x 224 input: mean "
    "luma (brightness), its standard deviation (contrast), its 5th and 95th percentiles "
    "(0-255), and sharpness (Laplacian detail over contrast); null = not measured",
    "properties": {
        name: {"type": "number"}
        for name in ("brightness", "contrast", "luma_p5", "luma_p95", "sharpness")
    },
}
_FLAG_HELP = (
    "dark, bright, blurry, tiny, uniform or any; repeat the parameter or separate by commas"
)
FLAG_PARAMS = [
    {
        "name": "flag",
        "in": "query",
        "description": "Only images with at least one of these quality flags (" + _FLAG_HELP + ")",
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": True,
    },
    {
        "name": "exclude_flag",
        "in": "query",
        "description": "Leave out images with any of these quality flags (" + _FLAG_HELP + "); "
        "images never measured are kept",
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": True,
    },
]
FLAG_FIELDS = {p["name"]: {"type": "string", "description": p["description"]} for p in FLAG_PARAMS}


_HIT = {
    "type": "object",
    "properties": {
        "rank": {"type": "integer", "minimum": 1},
        "file_missing": {
            "type": "boolean",
            "description": "Only present, true, when the result's file is no longer at its "
            "path (deleted, moved, or no longer a regular file) since it was indexed: it is "
            "listed from what was stored; `imgsearch index` updates the library. One stat per "
            "listed result, nothing read",
        },
        "file_changed": {
            "type": "boolean",
            "description": "Only present, true, when the result's file has another size now "
            "than it was indexed with (another file in its place)",
        },
        "file_unreadable": {
            "type": "boolean",
            "description": "Only present, true, when the result's file is there but the server "
            "may not read it (permission denied: its thumbnail and file are 403; its "
            "permissions fix it, not a run of the index)",
        },
        "score": {
            "type": "number",
            "nullable": True,
            "description": "The rank score that orders the results (1.0 = the same image): the "
            "copy score fused with class-label similarity, so that look-alikes rank sensibly "
            "below copies; for label searches, the matching label's probability; null when "
            "browsing the library (`/images`: no query, nothing scored)",
        },
        "copy_score": {
            "type": "number",
            "nullable": True,
            "description": "How much of a copy the hit is: the cosine similarity in the "
            "library's descriptor space (its learned whitening), best over the query's views "
            "(quarter turns, the photo inside a frame), moved across the copy decision by "
            "local evidence: a copy that key points, pixels or the query's copies confirm "
            "scores at least the decision, a look-alike just under it (`vector_score` keeps "
            "its vectors' score), so one threshold at the decision keeps exactly the copies; "
            "null for label searches",
        },
        "z": {
            "type": "number",
            "nullable": True,
            "description": "The copy score calibrated: standard deviations above the library's "
            "background (the copy scores of random pairs of its images); null when unknown",
        },
        "duplicate": {
            "type": "boolean",
            "description": f"The copy decision: z >= {DUPLICATE_Z:g} (about 99 % of such pairs "
            "are copies); below z 8 only for a copy of one of the query's better copies",
        },
        "lookalike": {
            "type": "boolean",
            "description": f"Its vectors put it at z >= {DUPLICATE_Z:g} but it is no copy of "
            "the query's better copies, or its key points match neither the query's nor theirs: "
            "a look-alike (another photo of the same kind of scene), not a duplicate; its "
            "`copy_score` and `z` are put just under the decision",
        },
        "vector_score": {
            "type": "number",
            "nullable": True,
            "description": "A look-alike's copy score by its vectors, past the decision, "
            "before the witnesses said it is no copy; null for other hits",
        },
        "vector_z": {
            "type": "number",
            "nullable": True,
            "description": "A look-alike's z by its vectors (null for other hits)",
        },
        "lookalike_reason": {
            "type": "string",
            "nullable": True,
            "description": "Why a look-alike is no copy (null unless lookalike)",
        },
        "key_points": {
            "type": "integer",
            "nullable": True,
            "description": "Matching key points (ORB + RANSAC) that confirmed this hit as a "
            "copy where its global copy score left it in doubt; null unless so confirmed",
        },
        "pixel_match": {
            "type": "number",
            "nullable": True,
            "description": f"For a query too small for key points ({PIXEL_SIDE} px at most), "
            "or a pixelated one (a grid of flat blocks): the correlation of its grey levels "
            "with this hit's, at half the query's size (its grid's), that confirmed the hit as "
            f"a copy ({PIXEL_MATCH:g} and above); null unless so confirmed",
        },
        "copy_of": {
            "type": "array",
            "items": {"type": "integer"},
            "nullable": True,
            "description": "The ids of the query's copies that each hold this hit in the grey "
            f"band (z >= {VOUCH_Z:g} between their stored vectors) and whose key points (or "
            "the query's) it matches: a copy of the query's copies, its copy score raised to the "
            "decision; null unless so confirmed",
        },
        "part": {
            "type": "array",
            "items": {"type": "number"},
            "nullable": True,
            "description": "Where in the query this copy was found when a part of it found it "
            "(one picture of a collage - cells cut apart by gutters and seams - or a quarter): "
            "[left, top, right, bottom] as fractions of the upright query (of its region of "
            "interest, when one is given); null when the whole query or its views did",
        },
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
        "media": {
            "type": "string",
            "enum": ["image", "video"],
            "description": "What the file is: an image, or a video (then `timestamp_ms` is the "
            "moment that matched; its frame: `thumbnail_url` with `&t=timestamp_ms` added)",
        },
        "timestamp_ms": {
            "type": "integer",
            "nullable": True,
            "description": "Videos only: the best-matching moment in ms (for a clip query, "
            "where the clip starts in the video)",
        },
        "duration_ms": {"type": "integer", "nullable": True, "description": "Videos only"},
        "flags": _FLAGS,
        **_URLS,
    },
    "required": [
        "rank",
        "score",
        "id",
        "path",
        "width",
        "height",
        "labels",
        "copy_score",
        "z",
        "duplicate",
        "thumbnail_url",
        "file_url",
    ],
}
_IMAGE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "file_missing": _HIT["properties"]["file_missing"],  # type: ignore[index]
        "file_changed": _HIT["properties"]["file_changed"],  # type: ignore[index]
        "file_unreadable": _HIT["properties"]["file_unreadable"],  # type: ignore[index]
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
        "exif_datetime": {
            "type": "string",
            "nullable": True,
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}",
            "description": "When the photo was taken, local time without a UTC offset (EXIF "
            "records none), e.g. 2024-05-01T14:03:00",
        },
        "labels": {"type": "array", "items": _LABEL},
        "status": {"type": "string", "enum": ["ok", "failed"]},
        "error": {"type": "string", "nullable": True},
        "media": {
            "type": "string",
            "enum": ["image", "video"],
            "description": "An image, or a video (then `format` is its codec, e.g. H264)",
        },
        "duration_ms": {"type": "integer", "nullable": True, "description": "Videos only"},
        "flags": _FLAGS,
        "quality": _QUALITY,
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
RESULTS = {
    "type": "object",
    "properties": {"results": {"type": "array", "items": ref("SearchHit")}},
    "required": ["results"],
}


LABEL_PAGE = {
    "type": "object",
    "properties": {
        "q": {"type": "string"},
        "page": {"type": "integer", "minimum": 1},
        "total": {"type": "integer", "minimum": 0, "description": "Images the label matches"},
        "pages": {"type": "integer", "minimum": 1, "description": "Pages of k at this total"},
        "results": {"type": "array", "items": ref("SearchHit")},
        "suggestion": {
            "type": "string",
            "description": "Only when nothing matches and a singular form of q labels some "
            "images (labels are singular: 'ant', not 'ants'): that form",
        },
        "hint": {"type": "string", "description": "With suggestion: the same, in words"},
    },
    "required": ["q", "page", "total", "pages", "results"],
}


SCHEMAS: dict[str, Any] = {
    "SearchHit": _HIT,
    "Image": _IMAGE,
    "Results": RESULTS,
    "LabelPage": LABEL_PAGE,
    "LookupMatch": LOOKUP_MATCH,
    "LookupResult": LOOKUP,
    "Error": _ERROR,
}
