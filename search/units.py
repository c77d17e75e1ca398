"""Units as people read them, for the reports of ``search`` and the pages and CLI."""

from __future__ import annotations

__all__ = ["human_size"]


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
