"""The library image the search page starts from (``?from=ID``), and why one cannot be a
query: said with the status and code the API gives the same file."""

from __future__ import annotations

from search.query import UNREADABLE_FIX, ImageInfo, SearchEngine, file_state_of
from web.errors import ApiError
from web.service import engine, require_indexed


def query_image(image_id: int | None, asked: str) -> ImageInfo:
    """The library image the search page starts from (``?from=ID``): 404 when there is none,
    409 when its file failed to index; its file's trouble told as the API tells it of the
    same file (:func:`query_file_error`): its preview and its search would fail."""
    eng = engine()
    source = eng.records.get_image(image_id) if image_id else None
    if source is None:
        raise ApiError(404, f"No image with id {asked[:20]}.")
    require_indexed(eng, source.id)  # a file that failed to index: no picture, no vectors
    problem = eng.records.file_problem(source)
    if problem is not None:
        raise query_file_error(eng, source, problem)
    return source


def query_file_error(eng: SearchEngine, source: ImageInfo, problem: str) -> ApiError:
    """Why library image ``source`` cannot be a query, its file's ``problem`` (words of
    ``records.file_problem``), with the status and code the API gives the same file's
    thumbnail, file and region search: 403 ``file_unreadable`` (permission denied: no run of
    the index helps), 404 ``file_missing`` (gone, no longer a regular file, out of its
    collection), 409 ``file_changed`` (other bytes than were indexed). The page said 409
    ``file_changed`` of a deleted file, which the API calls 404 ``file_missing``."""
    start = f"Library image #{source.id} cannot be a query: {problem}"
    found = eng.records.file_inside(source.id)
    state = "gone" if found is None else file_state_of(found)  # out of its collection: gone
    command = eng.records.update_command(source)
    if state == "unreadable" or command is None:  # no run of the index helps
        return ApiError(403, f"{start}; {UNREADABLE_FIX}.", "file_unreadable")
    todo = f"run `{command}` to bring the library up to date"
    if state == "gone":
        return ApiError(404, f"{start}; put the file back, or {todo}.", "file_missing")
    return ApiError(409, f"{start}; {todo}.", "file_changed")
