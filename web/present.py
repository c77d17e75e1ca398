"""How scores read on the HTML pages: template filters, the lookup's labelled sections, the
evidence and tooltips of result cards.

A hit's ``score`` (shown as a percentage) is the rank score that orders the results: the copy
score fused with class-label similarity. Its ``copy_score`` is the cosine in the library's
descriptor space and ``z`` that copy score calibrated against the library's background (random
pairs of its images); ``duplicate`` (``z >= DUPLICATE_Z``) is the copy decision, and
``lookalike`` a hit past that ``z`` that is no copy of the query's better copies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

from models.animation import ANIMATED_FORMATS
from models.quality import flag_names
from search.descriptor import DUPLICATE_Z
from search.query import (
    EXACT,
    NEAR,
    SIMILAR,
    LookupMatch,
    LookupResult,
    SearchHit,
    cut,
    listed_state,
)
from web.errors import (
    command_for_this_library,
    for_this_library,
    library_command,
    notice_parts,
)
from web.text import human_size, percent, plural, threshold_text

Z_WORDS = "standard deviations above what unrelated pairs of this library's photos reach"


@dataclass(frozen=True)
class MatchGroup:
    """One labelled section of the lookup results."""

    kind: str
    title: str
    help: str
    empty: str
    matches: list[LookupMatch]


# -- filters ----------------------------------------------------------------------------------


def filesize(n: int | None) -> str:
    return "–" if n is None else human_size(n)


def card_file_state(hit: Any) -> str | None:
    """``"gone"``, ``"changed"`` (another size than indexed), ``"unreadable"`` (permission
    denied: its thumbnail is a 403) or None for a result card's file: a ``stat`` and an
    ``access``. A file replaced since it was indexed showed the new file's picture under the
    old one's details (an audit); it gets a "file changed" placeholder instead."""
    path = getattr(hit, "path", None)
    if not path:
        return None
    size = getattr(hit, "size", None)
    return listed_state(path, int(size) if size else None)


def basename(path: str | None) -> str:
    return PurePath(path).name if path else ""


NAME_MAX = 48  # characters of a file name a card shows (on up to four lines)
TILE_NAME_MAX = 24  # ... and a small tile of the explore pages (on up to three lines)


def short_name(path: str | None, limit: int = NAME_MAX) -> Markup:
    """A file name as a card shows it: whole when short, else cut in the middle, so that both
    its start and its end (where the edits of one photo differ: ``augly_dfdc_1__scale.png``,
    ``..__sharpen.png``) stay; the whole name is the card's tooltip. Lines may break after
    ``_`` and ``-`` (``<wbr>``) rather than inside a word, and before the extension, which
    is kept whole (``.ext``: a hash's "…3ac70.jp" / "g" broke inside it)."""
    name = basename(path)
    if len(name) > limit:
        keep = limit - 1
        name = f"{name[: keep // 2]}…{name[len(name) - (keep - keep // 2) :]}"
    stem, dot, ext = name.rpartition(".")
    if not (stem and dot and 0 < len(ext) <= 5):
        stem, ext = name, ""
    html = re.sub(r"([_\-]+)(?=[^_\-])", r"\1<wbr>", str(escape(stem)))
    return Markup(f'{html}<wbr><span class="ext">.{escape(ext)}</span>' if ext else html)


EVIDENCE_NOWRAP_MAX = 18  # characters: "copy score 0.912" fits a phone's card on one line


def evidence_parts(text: str) -> list[tuple[str, bool]]:
    """An evidence text's parts (split at " · ") and whether each is kept on one line: the
    short ones with a number ("copy score 0.912", "z 9.1 ≥ 6"), not the words ("same pixels,
    other encoding"), a sentence ("100% of the shorter video's frames found in order") or a
    longer part ("copy score 0.369 ≥ 0.30", "same bytes (sha256)"), which wrap inside the
    card: kept whole they ran past its edge and were cut off."""
    return [
        (part, len(part) <= EVIDENCE_NOWRAP_MAX and any(ch.isdigit() for ch in part))
        for part in text.split(" · ")
    ]


def label_text(name: str) -> str:
    return name.replace("_", " ")


def z_limit_text(z: float | None = None) -> str:
    """The calibrated decision's z (6.0 -> "6")."""
    return f"{DUPLICATE_Z if z is None else z:g}"


# -- numbers: cut, never rounded (search.query.cut), as the CLI and the API's evidence write
# them: a value below a limit is never shown at it, one value reads the same everywhere ----


def _copy(hit: SearchHit | LookupMatch) -> float:
    return float(hit.copy_score if hit.copy_score is not None else hit.score)


def calibrated(result: LookupResult) -> bool:
    """Did the calibrated decision (z), not a copy-score threshold, decide this lookup?"""
    return getattr(result, "z_threshold", None) is not None


def _decided_by_z(match: LookupMatch, result: LookupResult) -> bool:
    return calibrated(result) and match.hit.z is not None


def evidence_text(match: LookupMatch, result: LookupResult) -> str:
    """Why a lookup match is labelled so, short enough for a card: the lookup's own evidence
    for exact copies; for the others the copy score and what decided (calibrated: its z
    against the decision's; else the threshold)."""
    if match.match == EXACT or result.of_video:  # a video's copies: by its frames, in order
        return str(match.evidence)
    near = match.match == NEAR
    sign = "≥" if near else "<"
    if _decided_by_z(match, result):
        z = cut(float(match.hit.z), 1)
        limit = z_limit_text(result.z_threshold)
        if match.hit.lookalike:
            return f"copy score {cut(_copy(match.hit), 3)} · z {z} < {limit}, a look-alike"
        return f"copy score {cut(_copy(match.hit), 3)} · z {z} {sign} {limit}" + _by(match)
    copy = cut(_copy(match.hit), 3)
    return f"copy score {copy} {sign} {threshold_text(result.threshold)}" + _by(match)


def _by(match: LookupMatch, joint: str = " · ") -> str:
    """What confirmed a near match, for its card ("" when its score alone decided)."""
    note = match.hit.confirmation_note if match.match == NEAR else None
    return f"{joint}{note}" if note else ""


def evidence_title(match: LookupMatch, result: LookupResult) -> str:
    """The evidence in words (the card's tooltip)."""
    if match.match == EXACT:
        return f"Exact copy: {match.evidence}"
    near = match.match == NEAR
    if result.of_video:
        return f"{'A copy' if near else 'Not a copy'}: {match.evidence}"
    verdict = "a near-duplicate" if near else "probably not a copy"
    if _decided_by_z(match, result):
        z = cut(float(match.hit.z), 1)
        limit = z_limit_text(result.z_threshold)
        return (
            f"Copy score {cut(_copy(match.hit), 3)}, {z} {Z_WORDS} (z); the calibrated "
            f"decision is z {limit} or more: "
            + (match.hit.lookalike_note if match.hit.lookalike else verdict + _by(match, ", "))
        )
    copy = cut(_copy(match.hit), 3)
    return (
        f"Copy score {copy}; the threshold is {threshold_text(result.threshold)}: {verdict}"
        + _by(match, ", ")
    )


def copy_text(hit: SearchHit) -> str:
    """A hit's copy score, its z and the copy decision ("" for label hits, which have none)."""
    if hit.copy_score is None:
        return ""
    text = f"copy score {cut(hit.copy_score, 3)}"
    if hit.media == "video" and hit.z is not None and (hit.z >= DUPLICATE_Z) != hit.duplicate:
        # a clip's copies are decided by their frames in order, not by one z
        return text + (": a copy by its frames in order" if hit.duplicate else ": not a copy")
    if hit.z is not None:
        z = cut(float(hit.z), 1)
        verdict = "≥ {}: a copy" if hit.duplicate else "< {}: not a copy"
        if hit.lookalike:
            verdict = "< {}: " + hit.lookalike_note
        text += f", z {z} " + verdict.format(z_limit_text())
    if hit.duplicate and hit.key_points is not None:
        text += f" (confirmed by {hit.key_points} matching key points)"
    elif hit.duplicate and hit.pixel_match is not None:
        text += f" (confirmed by its pixels: correlation {hit.pixel_match:.3f})"
    elif hit.duplicate and hit.copy_of:
        text += f" ({hit.confirmation_note})"
    if hit.part is not None:
        text += "; " + part_text(hit.part)
    return text


def part_text(part: tuple[float, float, float, float]) -> str:
    """Where in the query a copy was found (one picture of a collage, a quarter)."""
    left, top, right, bottom = (round(100 * x) for x in part)
    return f"found in a part of the query ({left}-{right} % across, {top}-{bottom} % down)"


def score_title(hit: SearchHit) -> str:
    """A result card's tooltip: the rank score, and the copy score with its z and verdict."""
    copy = copy_text(hit)
    return f"Score {hit.score:.4f} (orders the results)" + (f" · {copy}" if copy else "")


def copies(hits: list[SearchHit]) -> int:
    """How many hits are copies: exact ones, and those of the calibrated copy decision."""
    return sum(1 for hit in hits if hit.exact or hit.duplicate)


# -- the lookup's sections --------------------------------------------------------------------


def decision_text(result: LookupResult) -> str:
    """What decided near-duplicates, for the results head."""
    t = threshold_text(result.threshold)
    if calibrated(result):
        return f"calibrated: z ≥ {z_limit_text(result.z_threshold)} (copy score ≥ {t} here)"
    return f"threshold: copy score ≥ {t}"


def match_groups(result: LookupResult, of_library: bool = False) -> list[MatchGroup]:
    """The lookup's matches in their three labelled sections (empty ones included);
    ``of_library``: the query is a library image, itself never listed (not "no file")."""
    if result is None:
        return []
    t = threshold_text(result.threshold)
    if calibrated(result):
        z = z_limit_text(result.z_threshold)
        near_title, other_title = f"Near-duplicates (calibrated, z ≥ {z})", f"(z below {z})"
        near_help = (
            f"Edited, resized or re-encoded versions: a copy score at least {z} "
            f"{Z_WORDS} (copy score {t} or more here)."
        )
        near_empty = f"No image is a copy by the calibrated decision (z ≥ {z})."
        if any(m.hit.lookalike for m in result.of_kind(SIMILAR)):
            other_title = f"(z below {z}; the look-alikes' vectors were past it: see each one)"
    else:
        near_title, other_title = f"Near-duplicates (copy score ≥ {t})", f"(copy score below {t})"
        near_help = f"Edited, resized or re-encoded versions: copy score {t} or more."
        near_empty = f"No image reaches the threshold (copy score {t})."
    other_help = "The nearest other images, for comparison: probably not copies."
    if result.of_video:
        near_title = "Copies (frames found in order)"
        near_help = (
            "Re-encoded, resized or trimmed copies: the frames of the shorter video found "
            "in the other's in order, as dedup decides for videos."
        )
        near_empty = "No video is a copy: no library video's frames match the clip's in order."
        other_title = f"(not copies: {result.not_copies})"
        other_help = "The nearest other videos, for comparison."
    return [
        MatchGroup(
            EXACT,
            "Exact copies",
            "The same file bytes, or the same pixels in another encoding.",
            "No other file has these bytes or these pixels."
            if of_library
            else "No exact copy: no library file has these bytes or these pixels.",
            result.of_kind(EXACT),
        ),
        MatchGroup(NEAR, near_title, near_help, near_empty, result.of_kind(NEAR)),
        MatchGroup(
            SIMILAR,
            f"Other {'videos' if result.of_video else 'similar images'} {other_title}",
            other_help,
            "No other video or animation in the library (a clip is compared with those only, "
            "not with photos: look up a still of it to find photos)."
            if result.of_video
            else "No other image in the library.",
            result.of_kind(SIMILAR),
        ),
    ]


FLAG_TEXT = {
    "dark": "Too dark",
    "bright": "Overexposed",
    "blurry": "Blurry",
    "tiny": "Tiny",
    "uniform": "Almost uniform",
    "any": "Any flag",
}


def flag_text(name: str) -> str:
    """How a quality flag reads on a page."""
    return FLAG_TEXT.get(name, name)


def code_spans(text: str | None) -> Markup:
    """A message for people with its `commands` as code (escaped; the pages showed the
    backticks of "Run `imgsearch index PATH`"), each `imgsearch ...` for this server's library
    (:func:`web.errors.for_this_library`)."""
    parts = str(escape(for_this_library(text or ""))).split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: shown as they are
        return Markup("`".join(parts))
    return Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))


def register_filters(app: Flask) -> None:
    app.add_template_filter(flag_names, "flag_list")  # a stored bit-set's flag names
    app.add_template_global(ANIMATED_FORMATS, "ANIMATED_FORMATS")  # shown as an <img>
    app.add_template_filter(flag_text)
    app.add_template_global(FLAG_TEXT, "FLAG_TEXT")
    app.add_template_filter(percent)
    app.add_template_filter(cut)  # numbers as the CLI writes them
    app.add_template_filter(filesize)
    app.add_template_filter(code_spans)
    app.add_template_filter(basename)
    app.add_template_global(card_file_state)
    app.add_template_filter(label_text)
    app.add_template_filter(short_name)
    app.add_template_global(TILE_NAME_MAX, "TILE_NAME_MAX")
    app.add_template_filter(evidence_parts)
    app.add_template_global(notice_parts)
    app.add_template_global(library_command)
    app.add_template_filter(command_for_this_library)
    app.add_template_filter(threshold_text)
    app.add_template_filter(plural)
    for helper in (
        evidence_text,
        evidence_title,
        copy_text,
        part_text,
        score_title,
        copies,
        decision_text,
        z_limit_text,
    ):
        app.add_template_global(helper)
