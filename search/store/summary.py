"""A library's figures (``imgsearch stats``) kept beside it, stamped with the database's state.

Computing the figures opens the library (SQLAlchemy, NumPy, the FAISS header: ~1.3 s of
imports and queries); reading them back needs none of it. The stamp is what any write to the
library changes: the SQLite file and its write-ahead log (size and modification time, to the
nanosecond), the FAISS cache file, the schema's migration files and this file's format. A
summary is saved only when the stamp taken before the figures were read equals the one taken
after (no write happened meanwhile), and used only while the stamp still matches. Other
databases (PostgreSQL) are not stamped: their figures are always read.

Standard library only: this module is what a fast ``imgsearch stats`` imports.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from search.settings import Settings
from search.store.errors import sqlite_file

SUMMARY_NAME = "stats.json"
#: bump when the figures' shape changes: older summaries are then recomputed
SUMMARY_FORMAT = 2  # 2: each collection's remembered "excludes"
_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


def _file_state(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def summary_stamp(settings: Settings) -> dict[str, Any] | None:
    """The state the figures depend on, or None when the database is not a SQLite file."""
    url = settings.resolved_database_url
    database = sqlite_file(url)
    if database is None or not database.is_file():
        return None
    try:
        migrations = sorted(p for p in os.listdir(_MIGRATIONS) if p.endswith(".py"))
    except OSError:
        migrations = []
    return {
        "format": SUMMARY_FORMAT,
        "library": str(Path(settings.library).resolve()),
        "database": str(database),
        "database_state": _file_state(database),
        "wal_state": _file_state(database.with_name(database.name + "-wal")),
        "index_state": _file_state(settings.index_path),
        "migrations": migrations,
    }


def _summary_path(settings: Settings) -> Path:
    return Path(settings.library) / SUMMARY_NAME


def cached_summary(settings: Settings, stamp: dict[str, Any] | None) -> dict[str, Any] | None:
    """The saved figures when they were saved under ``stamp``, else None."""
    if stamp is None:
        return None
    try:
        saved = json.loads(_summary_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("stamp") != stamp:
        return None
    figures = saved.get("figures")
    return figures if isinstance(figures, dict) else None


def save_summary(
    settings: Settings, before: dict[str, Any] | None, figures: dict[str, Any]
) -> bool:
    """Keep ``figures`` when the library did not change while they were read (the stamp
    ``before`` them equals the stamp now); True when saved. A read-only library keeps none,
    nor does one whose last run is in progress (a killed run changes no file: its end would
    go unseen)."""
    if before is None or summary_stamp(settings) != before:
        return False
    if (figures.get("last_run") or {}).get("status") == "running":
        return False
    path = _summary_path(settings)
    text = json.dumps({"stamp": before, "figures": figures}, default=str)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:  # made as `open` makes a file (mode 0666 less the umask): NamedTemporaryFile's 0600
        # left the figures unreadable to another user serving the library read-only
        with open(temp, "x", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return False
    return True
