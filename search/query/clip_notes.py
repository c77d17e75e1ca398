"""Why a video query found nothing, in words. A video (or an animated image) is compared with
the library's videos and animations only: an empty answer is the library's when it holds
none, else the filter's that emptied it (a quality flag asked for: videos have none; a
minimum score none of them reaches). One note for the CLI (text and JSON), the API and the
web page, each naming the options as its asker knows them."""

from __future__ import annotations

from search.query.quality import QualityFilter

CLI_NAMES = ("--min-score", "--flag")
API_NAMES = ("min_score", "flag")


def empty_clip_note(
    videos: int,
    min_score: float | None = None,
    flags: QualityFilter | None = None,
    *,
    query: object = "the query",
    what: str = "results",
    names: tuple[str, str] = CLI_NAMES,
    other: bool = False,
) -> str | None:
    """Why a video query ``query`` found no ``what``: ``videos`` in the library (``other``:
    besides the query itself), the ``min_score`` and quality ``flags`` asked for (``names``:
    what the asker calls those two). None when none of them explains it."""
    if videos == 0:
        return (
            f"no {what}: {query} is a video (or an animated image), and a video query is "
            f"compared with the library's videos and animations only, not with its photos "
            f"(search with a still of it to find photos)"
        )
    other_ = "other " if other else ""
    held = f"{videos} {other_}" + ("videos and animations" if videos > 1 else "video or animation")
    if flags is not None and flags.include:
        asked = ", ".join(flags.to_dict()["flag"])
        return (
            f"no {what}: {names[1]} {asked} keeps none of the library's {held}: quality flags "
            "are measured on photos only, and a video query is compared with videos only"
        )
    if min_score is not None:
        return f"no {what}: none of the library's {held} scores at least {names[0]} {min_score:g}"
    return None


__all__ = ["API_NAMES", "CLI_NAMES", "empty_clip_note"]
