"""Label files: one class name per line; per-locale display names in ``<stem>.<locale>.txt``."""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from models.errors import CategoryNameError, ModelSpecError

log = logging.getLogger(__name__)

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

    A locale without a file (or a name that is no locale) falls back to the label names with
    a logged warning, as MediaPipe does (results keep their category names). A locale file
    whose line count differs from the label file's raises :class:`ModelSpecError`.
    """
    locale = (locale or DEFAULT_LOCALE).strip()
    if not _LOCALE_RE.match(locale):
        log.warning(
            "display_names_locale %r is not a locale name (such as 'de' or 'pt-BR'): "
            "display names are the label names",
            locale,
        )
        return read_labels(labels_path)
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
    log.warning(
        "no display names for locale %r (no %s; available locales: %s): display names are "
        "the label names",
        locale,
        candidate,
        ", ".join([DEFAULT_LOCALE, *available]),
    )
    return read_labels(labels_path)


def _folded(name: str) -> str:
    return name.casefold().replace(" ", "_")


def close_labels(name: str, labels: Sequence[str], count: int = 3) -> list[str]:
    """Up to ``count`` labels like ``name``: those equal but for case and spaces for
    underscores first ('egyptian cat' -> 'Egyptian_cat'), then the closest spellings."""
    by_folded: dict[str, list[str]] = {}
    for label in labels:
        by_folded.setdefault(_folded(label), []).append(label)
    close = difflib.get_close_matches(_folded(name), sorted(by_folded), n=count)
    found = list(dict.fromkeys(label for key in close for label in by_folded[key]))
    return found[:count]


def check_category_names(
    option: str, names: Sequence[str], labels: Sequence[str], model: str, background: int | None
) -> None:
    """Raise :class:`CategoryNameError` when ``names`` (an allow or deny list) holds a name that
    is no label of ``model`` (each with its close matches: spelling, case and spaces count),
    or when an allowlist names the background class, which is never returned."""
    never = labels[background] if background is not None and 0 <= background < len(labels) else None
    if option == "category_allowlist" and never is not None and never in names:
        raise CategoryNameError(
            option,
            [never],
            f"{never!r} is never listed (the background class is left out of every result, "
            "as in MediaPipe), so it would match nothing",
        )
    known = set(labels)
    unknown = list(dict.fromkeys(name for name in names if name not in known))
    if not unknown:
        return
    told = []
    for name in unknown:
        close = close_labels(name, [label for label in labels if label != never])
        told.append(
            repr(name) + (f" (did you mean {', '.join(map(repr, close))}?)" if close else "")
        )
    what = "is not a category" if len(unknown) == 1 else "are not categories"
    raise CategoryNameError(
        option,
        unknown,
        f"{', '.join(told)} {what} of {model} (names as its label file spells them, as "
        "`imgsearch classify` prints them: case, spaces and underscores count)",
    )


def merge_labels(labels: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """One entry per name, best first: classes that share a name (ImageNet has two "crane"
    and two "maillot" classes) are one label whose probability is their sum."""
    merged: dict[str, float] = {}
    for name, score in labels:
        merged[name] = merged.get(name, 0.0) + float(score)
    return sorted(merged.items(), key=lambda item: -item[1])


class TopLabels:
    """The best-scoring label names of a probability vector. Classes are listed by name, and
    classes that share a name (ImageNet's two "crane" and two "maillot") as one label with
    their summed probability: no name twice; the background class is never listed."""

    def __init__(self, labels: Sequence[str] | None, background: int | None = None) -> None:
        self.names: list[str] = []
        self.ids = np.zeros(0, np.int64)  # class -> index into names
        self.skip: int | None = None  # the background's name index
        if labels is not None:
            first: dict[str, int] = {}
            self.ids = np.array([first.setdefault(name, len(first)) for name in labels], np.int64)
            self.names = list(first)
            if background is not None and 0 <= background < len(labels):
                self.skip = int(self.ids[background])

    def __call__(self, probs: np.ndarray, count: int) -> list[tuple[str, float]]:
        """The ``count`` best names with their probabilities, best first."""
        if not self.names or not count:
            return []
        scores = np.bincount(
            self.ids[: len(probs)], weights=probs.astype(np.float64), minlength=len(self.names)
        )
        if self.skip is not None:
            scores[self.skip] = -np.inf
        k = min(count, int(np.isfinite(scores).sum()))
        if k < 1:
            return []
        idx = np.argpartition(-scores, k - 1)[:k]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(self.names[i], float(scores[i])) for i in idx]
