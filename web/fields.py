"""Which fields a query request may carry, and in which kind of part: a field the endpoint
does not read, one given twice, or one sent as the wrong kind of multipart part is a 400
naming it, never ignored for its default."""

from __future__ import annotations

from flask import request

from web.errors import ApiError
from web.text import visible

SEARCH_ONLY = ("roi", "k", "min_score", "flag", "exclude_flag")
LOOKUP_ONLY = ("threshold", "threshold_mode", "others")
QUERY_FIELDS = ("image", "image_id")  # the query itself, in both
REPEATABLE = ("flag", "exclude_flag")  # every other field is given once


def refuse_misplaced_parts() -> None:
    """A form field sent as a file part (``-F k=@k.txt``) was ignored for its default, and an
    ``image`` sent as text was "No image": 400 naming the field and what it must be."""
    for name in request.files:
        if name != "image":
            raise ApiError(400, f"'{visible(name)}' must be a text field, not a file.")
    if "image" in request.form:
        raise ApiError(
            400,
            "'image' must be a file (a multipart part with a filename), not a text field; "
            "to query with a library image, give its 'image_id'.",
        )


def refuse_stray_fields(fields: tuple[str, ...]) -> None:
    """The API's fields are its own and each is given once: a field it does not know (a typo,
    ``min-score``) and a second value of one (``k=5``, ``k=6``; the first won) were ignored
    without a word; now 400 naming it. ``fields``: what this endpoint reads."""
    known = (*QUERY_FIELDS, *fields)
    for name in dict.fromkeys([*request.form, *request.files, *request.args]):
        if name == "token" and name not in request.form:  # the browser's sign-in link
            continue
        if name not in known:
            raise ApiError(
                400,
                f"'{visible(name)}' is not a field of {request.path}: give {', '.join(known)}.",
            )
        count = sum(
            len(values.getlist(name)) for values in (request.form, request.files, request.args)
        )
        if count > 1 and name not in REPEATABLE:
            raise ApiError(400, f"'{name}' was given {count} times: give it once.")


def refuse_repeated_args() -> None:
    """A query parameter of the API given twice (``?k=5&k=6``: the first won without a word)
    is 400 naming it; the quality filters may repeat."""
    for name in request.args:
        count = len(request.args.getlist(name))
        if count > 1 and name not in REPEATABLE:
            raise ApiError(400, f"'{visible(name)}' was given {count} times: give it once.")


def refuse_unknown_args(known: tuple[str, ...]) -> None:
    """A query parameter a GET endpoint or page does not read (``?min-score=0.9``, ``?foo=1``)
    is 400 naming it and the ones it reads, and so is one given twice."""
    for name in request.args:
        if name not in known and name != "token":  # token: the browser's sign-in link
            given = f"give {', '.join(known)}" if known else "it takes none"
            raise ApiError(400, f"'{visible(name)}' is not a parameter of {request.path}: {given}.")
    refuse_repeated_args()
