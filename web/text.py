"""Numbers as people read them, for the web pages and the CLI (no Flask: the CLI imports it)."""

from __future__ import annotations


def human_size(n: int | None) -> str:
    """``1.5 MB`` style file size; ``-`` when unknown."""
    if n is None:
        return "-"
    value = float(max(0, n))
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def threshold_text(value: float) -> str:
    """A threshold with two decimals, or more when it has them: 0.9 -> 0.90, 0.925."""
    text = f"{value:.4f}".rstrip("0")
    return text if len(text.split(".")[1]) >= 2 else f"{value:.2f}"
