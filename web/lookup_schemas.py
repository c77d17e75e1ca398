"""The JSON shapes of a reverse lookup (``POST /lookup``) and the flags of an answer from an
image's stored vectors (its file gone, changed or unreadable: searches and lookups by id),
for the OpenAPI document (web/openapi.py, web/api_schemas.py)."""

from __future__ import annotations

from typing import Any

from search.descriptor import DUPLICATE_Z


def stored_answer_flags(asked: str) -> dict[str, Any]:
    """The flags of an answer from an image's stored vectors, its file (``asked``: "The
    file of the image_id asked") gone, changed or unreadable; ``note`` says which, and what
    helps."""
    stored = "the results come from its stored vectors, the image itself not listed"
    return {
        "file_missing": {
            "type": "boolean",
            "description": f"{asked} is gone (or no longer a regular file): {stored}",
        },
        "file_changed": {
            "type": "boolean",
            "description": f"{asked} holds other bytes than were indexed: {stored}",
        },
        "file_unreadable": {
            "type": "boolean",
            "description": f"{asked} cannot be read (permission denied: its permissions "
            f"fix it, a re-index does not): {stored}",
        },
    }


LOOKUP_MATCH = {
    "allOf": [
        {"$ref": "#/components/schemas/SearchHit"},
        {
            "type": "object",
            "properties": {
                "match": {
                    "type": "string",
                    "enum": ["exact", "near", "similar"],
                    "description": "exact: same bytes or same pixels; near: a copy by the "
                    "calibrated decision (`duplicate`, when no threshold was given), or "
                    "`copy_score` at or above the given threshold; similar: one of the nearest "
                    "others, not a near-duplicate",
                },
                "evidence": {
                    "type": "string",
                    "description": "Why, for people: 'same bytes (sha256)', 'same pixels, "
                    "other encoding', \"copy score 0.966: 7.0 sd above the library's background "
                    ">= 6\" (calibrated), 'copy score 0.912 >= threshold 0.90' (a threshold) ...",
                },
            },
            "required": ["match", "evidence"],
        },
    ]
}
LOOKUP = {
    "type": "object",
    "properties": {
        "threshold": {
            "type": "number",
            "description": "The copy score from which a match is near: the threshold given, "
            "else the copy score the library's calibrated decision stands for (or the "
            "server's configured dedup threshold)",
        },
        "z_threshold": {
            "type": "number",
            "nullable": True,
            "description": f"The calibrated decision used (z >= {DUPLICATE_Z:g}) when no "
            "threshold was given; null when a copy-score threshold decided",
        },
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
        **stored_answer_flags("The file of the image_id asked"),
        "model_unavailable": {
            "type": "boolean",
            "description": "The library's model cannot be loaded: a lookup by image_id "
            "answers from that image's stored vectors, the image itself not listed (an "
            "upload is refused, 503)",
        },
        "note": {"type": "string", "description": "Why, for people, and what helps"},
        "results": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/LookupMatch"},
            "description": "Exact copies first, then near-duplicates, then the others; "
            "best first within each",
        },
    },
    "required": ["threshold", "z_threshold", "query", "counts", "results"],
}

__all__ = ["LOOKUP", "LOOKUP_MATCH", "stored_answer_flags"]
