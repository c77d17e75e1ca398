"""Label files: one class name per line; per-locale display names in ``<stem>.<locale>.txt``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from models.errors import ModelSpecError

DEFAULT_LOCALE = "en"
_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


@lru_cache(maxsize=32)
def _read_labels(path: str, mtime_ns: int) -> tuple[str, ...]:
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return tuple(line.strip() for line in lines)


def read_labels(path: Path) -> list[str]:
    """The labels of ``path``, one per line (cached while the file is unchanged)."""
    path = Path(path)
    return list(_read_labels(str(path.resolve()), path.stat().st_mtime_ns))


def locale_labels_path(labels_path: Path, locale: str) -> Path:
    """``imagenet_labels_1001.txt`` + ``de`` -> ``imagenet_labels_1001.de.txt``."""
    labels_path = Path(labels_path)
    return labels_path.with_name(f"{labels_path.stem}.{locale}{labels_path.suffix}")


def display_names(labels_path: Path, locale: str | None, count: int) -> list[str]:
    """Display names for ``locale``: the label file itself for ``en``, else the locale file.

    Raises :class:`ModelSpecError` for an unknown locale (no such file) or a locale file whose
    line count differs from the label file's.
    """
    locale = (locale or DEFAULT_LOCALE).strip()
    if not _LOCALE_RE.match(locale):
        raise ModelSpecError(f"invalid display_names_locale {locale!r}")
    candidate = locale_labels_path(labels_path, locale)
    if candidate.is_file():
        names = read_labels(candidate)
        if len(names) != count:
            raise ModelSpecError(
                f"{candidate} has {len(names)} lines but the model has {count} classes"
            )
        return names
    if locale.lower().replace("_", "-") in ("en", "en-us", "en-gb"):
        return read_labels(labels_path)
    stem, suffix = Path(labels_path).stem, Path(labels_path).suffix
    available = sorted(
        p.name[len(stem) + 1 : len(p.name) - len(suffix)]
        for p in Path(labels_path).parent.glob(f"{stem}.*{suffix}")
    )
    raise ModelSpecError(
        f"no display names for locale {locale!r}: expected {candidate}. "
        f"Available locales: {', '.join([DEFAULT_LOCALE, *available])}"
    )


def merge_labels(labels: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """One entry per name, best first: classes that share a name (ImageNet has two "crane"
    and two "maillot" classes) are one label whose probability is their sum."""
    merged: dict[str, float] = {}
    for name, score in labels:
        merged[name] = merged.get(name, 0.0) + float(score)
    return sorted(merged.items(), key=lambda item: -item[1])
