"""Numbers as people read them, for the web pages and the CLI (no Flask: the CLI imports it)."""

from __future__ import annotations

import math

from search.units import human_size, plural

__all__ = ["human_size", "percent", "plural", "threshold_text", "visible"]


def percent(score: float | None) -> str:
    """A score in [-1, 1] as a percentage with one decimal, ``94.3%`` (``100%`` from 99.95 up,
    ``–`` when unknown): every page's, and ``web/static/format.js``'s ``percent`` (the live
    page wrote ``94 %``, the slider ``94%``). Halves round up, as JavaScript's ``Math.round``
    does, so both write every score alike."""
    if score is None or not math.isfinite(score):
        return "–"
    tenths = max(min(float(score), 1.0), -1.0) * 100 * 10
    whole = math.floor(tenths)
    if tenths - whole >= 0.5:
        whole += 1
    return f"{whole / 10:.1f}%" if whole < 1000 else "100%"


def threshold_text(value: float) -> str:
    """A threshold with two decimals, or more when it has them: 0.9 -> 0.90, 0.925."""
    text = f"{value:.4f}".rstrip("0")
    return text if len(text.split(".")[1]) >= 2 else f"{value:.2f}"


def visible(text: str, limit: int | None = 40) -> str:
    """``text`` as a message or page echoes it: its first ``limit`` characters (all: None),
    each control or other invisible character written as a Python escape (``'2\\x00'``,
    ``'a\\nb'``), so that what was sent can be seen ("got '2'." hid a NUL)."""
    part = text if limit is None else text[:limit]
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in part)
