"""Numbers as people read them, for the web pages and the CLI (no Flask: the CLI imports it)."""

from __future__ import annotations

from search.units import human_size

__all__ = ["human_size", "threshold_text"]


def threshold_text(value: float) -> str:
    """A threshold with two decimals, or more when it has them: 0.9 -> 0.90, 0.925."""
    text = f"{value:.4f}".rstrip("0")
    return text if len(text.split(".")[1]) >= 2 else f"{value:.2f}"
