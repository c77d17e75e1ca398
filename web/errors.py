"""One mapping from errors to HTTP answers: JSON under /api/, an HTML page elsewhere.

Clients see a status, a short machine code and a clear message, never a stack trace: anything
unexpected is logged server-side with its traceback and answered with a generic 500.
"""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from models.errors import (
    DecompressionBombError,
    EmptyImageError,
    ImageError,
    ImageTooLargeError,
    ModelError,
    RoiError,
    UnreadableImageError,
)
from search.explore import ExploreError
from search.query import ImageNotFoundError, NoLabelsError, PathEscapeError, QueryError
from search.store import (
    LibraryError,
    LibraryNotFoundError,
    ModelMismatchError,
    ReindexingError,
    is_database_unreachable,
    is_schema_mismatch,
)
from web.text import human_size, visible

log = logging.getLogger(__name__)
_FIELD_LIMIT = 1024 * 1024  # MAX_FORM_MEMORY_SIZE: one non-file form field

NO_LIBRARY_TITLE = "No library yet"
NO_LIBRARY_DETAIL = (
    "Nothing has been indexed. Run `imgsearch index PATH` to index a folder of photos; this "
    "server picks the new library up without a restart."
)
NO_LIBRARY_MESSAGE = f"{NO_LIBRARY_TITLE}: {NO_LIBRARY_DETAIL[0].lower()}{NO_LIBRARY_DETAIL[1:]}"
EMPTY_LIBRARY_TITLE = "Empty library"
EMPTY_LIBRARY_DETAIL = (
    "No image has been indexed yet. Run `imgsearch index PATH` on a folder of photos."
)


class ApiError(Exception):
    """An error with a status, a machine ``code`` and a message meant for the user."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _default_code(status)


@dataclass(frozen=True)
class ErrorInfo:
    status: int
    code: str
    message: str


def _default_code(status: int) -> str:
    return {
        400: "bad_request",
        404: "not_found",
        405: "method_not_allowed",
        413: "too_large",
        415: "not_an_image",
        500: "internal_error",
        503: "unavailable",
    }.get(status, "error")


def describe(error: BaseException) -> ErrorInfo:
    """The status, code and client message for ``error`` (no internals for unknown ones)."""
    if isinstance(error, ApiError):
        return ErrorInfo(error.status, error.code, error.message)
    if isinstance(error, RequestEntityTooLarge):
        limit = current_app.config.get("IMGSEARCH_MAX_UPLOAD_BYTES") or 0
        size = request.content_length
        if size is not None and size <= int(current_app.config.get("MAX_CONTENT_LENGTH") or 0):
            parts = current_app.config.get("MAX_FORM_PARTS") or 1000
            return ErrorInfo(
                413,
                "form_too_large",
                f"The form has too many parts (at most "
                f"{parts}) or a field over {human_size(_FIELD_LIMIT)}.",
            )
        return ErrorInfo(
            413, "too_large", f"Upload too large: the limit is {human_size(int(limit))}."
        )
    if isinstance(error, HTTPException):
        status = error.code or 500
        name = (error.name or "error").lower().replace(" ", "_")
        if status == 404:
            return ErrorInfo(status, name, not_found_message())
        return ErrorInfo(status, name, error.description or error.name or "error")
    if isinstance(error, LibraryNotFoundError):
        return ErrorInfo(503, "no_library", NO_LIBRARY_MESSAGE)
    if isinstance(error, ModelMismatchError | ModelError):
        return ErrorInfo(503, "model_unavailable", str(error))
    if isinstance(error, PathEscapeError):  # its root as this client may see it (web.guard)
        return ErrorInfo(404, "not_found", escape_message(error))
    if isinstance(error, ImageNotFoundError):  # a sentence, as the other messages are
        said = str(error).rstrip(".") or "No image with that id"
        return ErrorInfo(404, "not_found", f"{said[0].upper()}{said[1:]}.")
    if isinstance(error, NoLabelsError):
        return ErrorInfo(400, "no_labels", f"{str(error)[0].upper()}{str(error)[1:]}.")
    if isinstance(error, ExploreError):
        return ErrorInfo(400, "bad_request", str(error))
    if isinstance(error, QueryError):
        return ErrorInfo(400, "bad_request", f"Bad query: {error}")
    if isinstance(error, RoiError):
        message = getattr(error, "message", None) or str(error)
        return ErrorInfo(400, "bad_roi", f"Bad region of interest 'roi': {message}")
    if isinstance(error, UnreadableImageError):
        # Only library files are ever read from disk: the file went away since indexing.
        return ErrorInfo(
            404, "file_missing", "The image file is no longer readable on disk; re-run the index."
        )
    if isinstance(error, EmptyImageError):
        return ErrorInfo(400, "empty", "The uploaded file is empty.")
    if isinstance(error, ImageTooLargeError):
        return ErrorInfo(
            415, error.reason, f"Image refused: it is too large to decode ({error.message})."
        )
    if isinstance(error, DecompressionBombError):
        return ErrorInfo(
            415, error.reason, f"Image refused: it has too many pixels ({error.message})."
        )
    if isinstance(error, ImageError):  # a clip's reasons name videos: not_a_video, ...
        kind = "video" if "video" in error.reason else "image"
        said = error.message
        if said.lower().startswith(f"not a readable {kind}"):  # said once, not twice
            return ErrorInfo(415, error.reason, f"{said[0].upper()}{said[1:]}.")
        return ErrorInfo(415, error.reason, f"Not a readable {kind}: {said}")
    if isinstance(error, ReindexingError):
        return ErrorInfo(503, "reindexing", f"Re-indexing: {error}.")
    if isinstance(error, LibraryError):
        return ErrorInfo(503, "library_error", str(error))
    if is_schema_mismatch(error):  # it was 500 "Internal server error" on every request
        return ErrorInfo(
            503,
            "schema_changed",
            "The library's database schema changed under this server (`imgsearch db "
            "downgrade`?): run `imgsearch db upgrade`, and it answers again.",
        )
    if is_database_unreachable(error):  # PostgreSQL down: every request was a 500
        return ErrorInfo(
            503,
            "database_unavailable",
            "The library's database is not answering (down or restarting?); this server "
            "answers again once it is back (the server log says what the database said).",
        )
    return ErrorInfo(500, "internal_error", "Internal server error; see the server log.")


_IMAGE_PATH = re.compile(r"^/(?:api/v1/)?images/([^/]*)(/.*)?$")


def not_found_message() -> str:
    """What a request that matched no route asked for: an image id that is no number (it was
    werkzeug's "The requested URL was not found on the server...", where a form's
    ``image_id=abc`` is told it is no id), or another address."""
    match = _IMAGE_PATH.match(request.path)
    api = request.path.startswith("/api/")
    if match and not match.group(1).isdigit():
        shown = visible(match.group(1))[:80]
        return f"“{shown}” is not an image id: ids are whole numbers from 1 (as listed by " + (
            "/api/v1/images)." if api else "Browse)."
        )
    if api:
        return (
            f"No such address in the API: {visible(request.path)[:200]} (its addresses: "
            "/api/v1/openapi.json)."
        )
    return f"No such page: {visible(request.path)[:200]}."


def escape_message(error: PathEscapeError) -> str:
    """Why a file that now leads outside its collection (a link put in its place) is not
    served: the collection's absolute folder on loopback, its folder name for the network."""
    from web.guard import client_path  # (web.guard raises ApiError: imported late)

    return (
        f"Image {error.image_id}: {error.rel_path} now leads outside its collection "
        f"({client_path(error.root)}): a link in its place? Files are served from inside "
        "their collection only: put the file back, or run `imgsearch index` to drop it."
    )


def library_command() -> str:
    """``imgsearch`` as a command for this server's library must be typed: with ``--library``
    (its absolute folder) unless the library is the default one of the folder the server
    runs in. The hints said "run `imgsearch index PATH`" to a server of ``--library
    elsewhere/lib``: run as said, that made ./imgsearch-library, which this server never
    saw."""
    from search.settings import DEFAULT_LIBRARY
    from web.guard import exposed  # (web.guard raises ApiError: imported late)

    settings = current_app.extensions.get("imgsearch.settings")
    if settings is None:
        return "imgsearch"
    library = Path(settings.library).absolute()
    if library == Path(DEFAULT_LIBRARY).absolute():
        return "imgsearch"
    if exposed():  # a server on the network shows no absolute path (web.guard.client_path)
        return "imgsearch --library LIBRARY"
    return f"imgsearch --library {shlex.quote(str(library))}"


def for_this_library(text: str) -> str:
    """``text`` with each `imgsearch ...` command it gives for this server's library."""
    command = library_command()
    if command == "imgsearch":
        return text
    # (not `imgsearch serve`: "open the address `imgsearch serve` printed" names its output)
    return re.sub(r"`imgsearch (?!--library|serve\b)", lambda _m: f"`{command} ", text)


def command_for_this_library(command: str) -> str:
    """One ``imgsearch ...`` command (no backticks) for this server's library."""
    return for_this_library(f"`{command}`")[1:-1]


def notice_parts(info: ErrorInfo) -> tuple[str, str]:
    """A page notice's title and text, each said once ("No library yet." + what to do)."""
    if info.code == "no_library":
        return NO_LIBRARY_TITLE, NO_LIBRARY_DETAIL
    if info.code == "empty_library":
        return EMPTY_LIBRARY_TITLE, EMPTY_LIBRARY_DETAIL
    if info.code == "reindexing":
        return "Re-indexing", info.message.removeprefix("Re-indexing: ")
    return "Library unavailable", info.message


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(info: ErrorInfo) -> Response:
    """Render ``info`` as JSON (API) or as the HTML error page (whose text, as every page's,
    gives its commands for this server's library through ``code_spans``)."""
    if wants_json():
        message = for_this_library(info.message)
        payload = {"error": {"status": info.status, "code": info.code, "message": message}}
        response = jsonify(payload)
    else:
        response = current_app.make_response(
            render_template("error.html", error=info, title=f"Error {info.status}")
        )
    response.status_code = info.status
    return response


def handle_exception(error: Exception) -> Response:
    info = describe(error)
    if isinstance(error, HTTPException):  # e.g. 405's Allow: what the method would need
        response = error_response(info)
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
    if info.status >= 500 and not isinstance(error, HTTPException | ApiError):
        if info.code == "internal_error":
            log.exception("unhandled error on %s %s", request.method, request.path)
        else:
            # a database's own words, first line: SQLAlchemy's message carries the statement
            said = str(getattr(error, "orig", None) or error).strip().splitlines()
            log.warning("%s on %s: %s", info.code, request.path, said[0] if said else error)
    return error_response(info)


def register(app: Flask) -> None:
    """Install the handlers on ``app`` (HTTP errors and every exception)."""
    app.register_error_handler(Exception, handle_exception)


def from_error(info: ErrorInfo, text: str) -> ErrorInfo:
    """The search page's ``?from=`` (a library image to start from) that names no image: said
    in the address's words (not the API's ``image_id``, 1 to 2**63-1), with what to do."""
    if info.code == "bad_request":
        info = replace(
            info, message=f"“{visible(text)}” in the address (?from=) is not an image id."
        )
    if info.status in (400, 404):
        todo = "Choose a photo below, or open an image from Browse and search from there."
        return replace(info, message=f"{info.message} {todo}")
    return info


NO_PHOTO = "Choose a photo to search with first (or open a library image and search from it)."


def page_error(error: Exception) -> ErrorInfo:
    """:func:`describe` for an HTML page: an internal error logged with its traceback, and a
    form sent without a photo told so in the page's words (the API's speak of fields)."""
    info = describe(error)
    if info.code == "internal_error":
        log.exception("error on %s %s", request.method, request.path)
    if info.code == "no_image":
        return replace(info, message=NO_PHOTO)
    advice = _WHAT_TO_DO.get(info.code) if isinstance(error, ImageError) else None
    if advice:
        return replace(info, message=f"{info.message.rstrip('.')}. {advice}")
    return info


# What a page says to do about a photo or clip it could not read (the API's message says
# only what is wrong).
_OTHER_PHOTO = (
    "Choose a photo in a common format (JPEG, PNG, GIF, WebP…), or another copy of it if "
    "this file is damaged."
)
_SMALLER = "Scale the picture down (fewer pixels) and search again, or choose another photo."
_OTHER_CLIP = "Choose another copy of the clip, or search with a still photo of it."
_WHAT_TO_DO = {
    **dict.fromkeys(
        ("not_an_image", "unsupported", "corrupt", "truncated", "decode_failed", "image_error"),
        _OTHER_PHOTO,
    ),
    **dict.fromkeys(("too_many_pixels", "too_large_to_decode", "file_too_large"), _SMALLER),
    **dict.fromkeys(("not_a_video", "no_video_stream", "truncated_video"), _OTHER_CLIP),
}
