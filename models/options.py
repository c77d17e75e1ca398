"""Checks of the MediaPipe-style task options and call arguments (embedder, classifier).

Each function takes what a caller passed, says clearly what is wrong with it (naming the
option) and gives back the value in one form: a single folder or category name is one item
(never its characters), numpy integers and floats are numbers, ``None`` means the default.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import TimestampError


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_integer(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def search_dirs(model_path: object) -> list[Path]:
    """``model_path``: one folder (str or path) or a sequence of folders; ``None``: none."""
    if model_path is None:
        return []
    if isinstance(model_path, (str, os.PathLike)):
        return [Path(model_path)]
    items = None if isinstance(model_path, bytes) else _items(model_path)
    if items is None or not all(isinstance(p, (str, os.PathLike)) for p in items):
        raise TypeError(f"model_path must be a folder or a list of folders, got {model_path!r}")
    return [Path(p) for p in items]


def _items(value: object) -> list[Any] | None:
    try:
        return list(value)  # type: ignore[call-overload]
    except TypeError:
        return None


def flag(value: object, option: str) -> bool:
    """A bool option (``quantize``, ``l2_normalize``): 'no' or 0 is not taken for False."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{option} must be True or False, got {value!r}")


def category_names(value: object, option: str) -> list[str] | None:
    """An allow/deny list: ``None``, one name, or a sequence of names."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    names = None if isinstance(value, (bytes, dict)) else _items(value)
    if names is None:
        raise TypeError(f"{option} must be a category name or a list of them, got {value!r}")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{option} must hold category names (str), got {name!r}")
    return names


def result_callback(value: object) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise TypeError(f"result_callback must be callable, got {type(value).__name__}")
    return value  # type: ignore[return-value]


def max_results(value: object) -> int:
    """``max_results``: a count >= 1, or -1 / ``None`` for all (numpy integers too)."""
    if value is None:
        return -1
    if not _is_integer(value):
        raise TypeError(f"max_results must be an integer (or -1 / None: all), got {value!r}")
    count = int(value)  # type: ignore[call-overload]
    if count == 0 or count < -1:
        raise ValueError(f"max_results must be > 0 or -1 (all), got {count}")
    return count


def score_threshold(value: object) -> float | None:
    """``score_threshold``: a finite number, or ``None`` for no threshold."""
    if value is None:
        return None
    if not _is_number(value):
        raise TypeError(f"score_threshold must be a number (or None), got {value!r}")
    threshold = float(value)  # type: ignore[arg-type]
    if not math.isfinite(threshold):
        raise ValueError(f"score_threshold must be a finite number, got {threshold}")
    return threshold


def rotation(value: object) -> int:
    """``rotation_degrees``: a whole multiple of 90 (clockwise), as an int."""
    if not _is_number(value):
        raise TypeError(f"rotation_degrees must be a multiple of 90 (a number), got {value!r}")
    degrees = float(value)  # type: ignore[arg-type]
    if not math.isfinite(degrees) or degrees % 90:
        raise ValueError(f"rotation_degrees must be a multiple of 90, got {value!r}")
    return int(degrees)


def timestamp(value: object) -> int:
    """A VIDEO / LIVE_STREAM timestamp in ms: an integer (numpy integers too)."""
    if not _is_integer(value):
        raise TimestampError(f"timestamp_ms must be an int, got {value!r}")
    return int(value)  # type: ignore[call-overload]
