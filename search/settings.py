"""The one settings object: where the library lives, which model, how to index and serve.

Values come from, in order of precedence: explicit arguments (CLI options), environment
variables (``IMGSEARCH_*``), then the defaults below. Every configured path (the library, the
model search path, a SQLite database URL) is made absolute once, when the settings are built,
against the working directory of that moment: nothing later depends on the cwd (the web app,
for one, resolves relative paths against its own package).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

DEFAULT_MODEL = "mobilenet_v3_small_100"
DEFAULT_LIBRARY = Path("imgsearch-library")
DB_FILENAME = "imgsearch.sqlite3"
INDEX_FILENAME = "index.faiss"
THUMBNAIL_DIRNAME = "thumbnails"
KEY_POINT_DIRNAME = "key-points"

Number = TypeVar("Number", int, float)


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` with ``~`` expanded, made absolute against the current directory (links are
    kept as written: the user's spelling of a folder stays recognisable in messages)."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def absolute_database_url(url: str | None) -> str | None:
    """A ``sqlite:///relative/file`` URL made absolute; ``postgresql://`` (or
    ``postgres://``) given the driver imgsearch installs, psycopg 3; other URLs unchanged."""
    if url is None:
        return None
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            rest = url.removeprefix(prefix)
            path, sep, query = rest.partition("?")
            if path and path != ":memory:" and not path.startswith("/"):
                return f"{prefix}{absolute(path)}{sep}{query}"
    return url


def is_memory_database(url: str | None) -> bool:
    """A SQLite URL of an in-memory database (``sqlite://``, ``sqlite:///:memory:``, a
    ``mode=memory`` URI): nothing in it outlives the process that opened it."""
    if not url or not url.startswith("sqlite"):
        return False
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] != "sqlite":
        return False
    path, _, query = rest.removeprefix("/").partition("?")
    return path in ("", ":memory:") or "mode=memory" in query


MODEL_PATH_ENV = "IMGSEARCH_MODEL_PATH"


def _user_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "imgsearch"


def default_model_search_path(env: dict[str, str] | None = None) -> list[Path]:
    """``IMGSEARCH_MODEL_PATH`` (``:``-separated), then ``./models``, then the user data dir."""
    env = os.environ if env is None else env
    dirs = [Path(p) for p in env.get(MODEL_PATH_ENV, "").split(os.pathsep) if p]
    dirs += [Path("models"), _user_data_dir() / "models"]
    return dirs


def _env_number(env: Mapping[str, str], name: str, parse: Callable[[str], Number]) -> Number | None:
    """``env[name]`` read with ``parse`` (``float``, ``int``); None when unset; a bad value is
    a ValueError that names the variable (nan too: it passed every range check; inf is out of
    a bounded range, and IMGSEARCH_LOCK_WAIT=inf waits for ever)."""
    text = env.get(name)
    if not text:
        return None
    try:
        value = parse(text)
    except ValueError:
        kind = "whole number" if parse is int else "number"
        raise ValueError(f"{name}={text!r} is not a {kind}") from None
    if name in RANGES:
        low, low_allowed, high, text_range = RANGES[name]
        if (
            math.isnan(value)
            or value < low
            or (value == low and not low_allowed)
            or (high is not None and value > high)
        ):
            raise ValueError(f"{name}={text!r} must be {text_range}")
    return value


#: the vector index kinds of search.index.ALL_KINDS, spelled out so that reading the settings
#: (and `--help`) does not load FAISS (a test holds them equal)
INDEX_KINDS = ("auto", "flat", "hnsw", "ivf-sq8", "ivfpq-ondisk")
MAX_WORKERS = 64  # reader and decoder threads of an index run (each reads files ahead)
MAX_BATCH_SIZE = 1024  # images per model batch: decoded together, held in memory at once


def _env_choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    """``env[name]`` when it is one of ``choices``; None when unset; anything else is a
    ValueError that names the variable and the choices."""
    text = (env.get(name) or "").strip()
    if not text:
        return None
    if text not in choices:
        raise ValueError(f"{name}={text!r} must be one of {', '.join(choices)}")
    return text


#: what each numeric variable may be: (lowest, whether the lowest itself is allowed, highest,
#: the range in words); a value outside was used as given, or clamped
RANGES: dict[str, tuple[float, bool, float | None, str]] = {
    "IMGSEARCH_DEDUP_THRESHOLD": (0.0, False, 1.0, "a copy score above 0 and at most 1"),
    "IMGSEARCH_DECODE_BUDGET_MB": (64, True, None, "at least 64 (MiB)"),
    # onnxruntime takes a C int: a larger count was its TypeError, a traceback
    "IMGSEARCH_THREADS": (0, True, 1024, "from 0 (automatic) to 1024"),
    "IMGSEARCH_LOCK_WAIT": (0.0, True, None, "0 or more seconds"),
}


#: every ``IMGSEARCH_*`` variable imgsearch reads (README, "Configuration"); any other one is
#: named in a warning at start-up (a typo such as IMGSEARCH_LIBARY was silently ignored)
ENVIRONMENT_NAMES = (
    "IMGSEARCH_LIBRARY",
    "IMGSEARCH_DATABASE_URL",
    "IMGSEARCH_LOCK_WAIT",
    MODEL_PATH_ENV,
    "IMGSEARCH_MODEL",
    "IMGSEARCH_INDEX",
    "IMGSEARCH_EXECUTOR",
    "IMGSEARCH_DESCRIPTOR",
    "IMGSEARCH_DEDUP_THRESHOLD",
    "IMGSEARCH_TOKEN",
    "IMGSEARCH_DECODE_BUDGET_MB",
    "IMGSEARCH_THREADS",
    "IMGSEARCH_UPRIGHT_FIRST",
    "IMGSEARCH_READ_ONLY",
    "IMGSEARCH_DECODE_PROCESSES",
)
#: read by the test suite and the benchmarks, not by imgsearch (never warned of)
DEVELOPMENT_NAMES = ("IMGSEARCH_SHARED", "IMGSEARCH_ARTIFACTS")
DEVELOPMENT_PREFIX = "IMGSEARCH_TEST_"


def unknown_environment(env: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """The ``IMGSEARCH_*`` variables of ``env`` that imgsearch does not read, each with the
    known name closest to it (None when none is close), in name order."""
    env = os.environ if env is None else env
    known = set(ENVIRONMENT_NAMES) | set(DEVELOPMENT_NAMES)
    unknown = sorted(
        name
        for name in env
        if name.startswith("IMGSEARCH_")
        and name not in known
        and not name.startswith(DEVELOPMENT_PREFIX)
    )
    if not unknown:
        return []
    import difflib  # only for a typo: start-up stays light

    # compared without the common prefix, which made every name "close" to every other
    suffixes = {name.removeprefix("IMGSEARCH_"): name for name in ENVIRONMENT_NAMES}
    found = []
    for name in unknown:
        close = difflib.get_close_matches(name.removeprefix("IMGSEARCH_"), suffixes, n=1)
        found.append((name, suffixes[close[0]] if close else None))
    return found


def _env_flag(env: Mapping[str, str], name: str) -> bool | None:
    """``env[name]`` as on/off (1/0, on/off, yes/no, true/false); None when unset."""
    text = (env.get(name) or "").strip().lower()
    if not text:
        return None
    if text in ("1", "on", "yes", "true"):
        return True
    if text in ("0", "off", "no", "false"):
        return False
    raise ValueError(f"{name}={text!r} must be on or off")


@dataclass(frozen=True)
class Settings:
    """Where the library lives and how to work on it. Paths are absolute (see the module)."""

    library: Path = DEFAULT_LIBRARY
    database_url: str | None = None
    model: str | None = None
    model_path: tuple[Path, ...] = field(default_factory=lambda: tuple(default_model_search_path()))
    index_kind: str = "auto"
    threads: int = 0
    workers: int = 0
    batch_size: int = 32
    dedup_threshold: float | None = None
    #: how images are compared (search.descriptor.DescriptorConfig text, e.g. "default",
    #: "plain", "whiten=off"); recorded by the first index run, changed by `index --descriptor`
    descriptor: str | None = None
    max_upload_bytes: int = 32 * 1024 * 1024
    max_image_pixels: int = 90_000_000
    #: image queries (upload parsing, decode, embed) a server runs at once; more wait up to
    #: ``query_wait_s`` seconds, then get 503 "busy" (memory stays bounded whatever they hold)
    max_queries_in_flight: int = 2
    query_wait_s: float = 10.0
    #: memory all image decodes of one process may hold at once (models.decode_memory)
    decode_budget_mb: int = 768
    #: image searches look with the upright views first and embed the turned ones only when
    #: those find no sure copy or leave another candidate in doubt (faster; finds a few fewer
    #: turned copies: README "What the scores mean"); off: every view of every query
    upright_first: bool = False
    #: index runs of 64 files or more that learn nothing decode and embed in worker processes
    #: (one per core, at most 4: indexer.processes); off: in this process's threads
    decode_processes: bool = True
    #: PostgreSQL: how long an index run waits for a collection another run is indexing
    lock_wait_s: float = 3600.0
    #: open the library read-only: search and browse, nothing written (caches in memory,
    #: thumbnails in a temporary folder); also when its SQLite file or folder cannot be written
    read_only: bool = False

    def __post_init__(self) -> None:
        # The one place where relative paths become absolute (frozen: set through object).
        object.__setattr__(self, "library", absolute(self.library))
        object.__setattr__(self, "model_path", tuple(absolute(p) for p in self.model_path))
        object.__setattr__(self, "database_url", absolute_database_url(self.database_url))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from the environment, then apply non-``None`` overrides."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            # set but empty (a script's unset $LIB) is unset: "" made the current folder the
            # library, its database and index written among the user's files
            "library": Path(env.get("IMGSEARCH_LIBRARY") or DEFAULT_LIBRARY),
            "database_url": env.get("IMGSEARCH_DATABASE_URL") or None,
            "model": env.get("IMGSEARCH_MODEL") or None,
            "model_path": tuple(default_model_search_path(env)),
            "index_kind": _env_choice(env, "IMGSEARCH_INDEX", INDEX_KINDS),
            "threads": _env_number(env, "IMGSEARCH_THREADS", int),
            "dedup_threshold": _env_number(env, "IMGSEARCH_DEDUP_THRESHOLD", float),
            "descriptor": env.get("IMGSEARCH_DESCRIPTOR") or None,
            "decode_budget_mb": _env_number(env, "IMGSEARCH_DECODE_BUDGET_MB", int),
            "upright_first": _env_flag(env, "IMGSEARCH_UPRIGHT_FIRST"),
            "lock_wait_s": _env_number(env, "IMGSEARCH_LOCK_WAIT", float),
            "read_only": _env_flag(env, "IMGSEARCH_READ_ONLY"),
            "decode_processes": _env_flag(env, "IMGSEARCH_DECODE_PROCESSES"),
        }
        # unset values keep the field defaults
        settings = cls(**{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]
        return settings.with_overrides(**overrides)

    def with_overrides(self, **overrides: object) -> Settings:
        changes = {k: v for k, v in overrides.items() if v is not None}
        if "model_path" in changes:
            extra = changes["model_path"]
            if isinstance(extra, (str, os.PathLike)):
                extra = [Path(p) for p in str(extra).split(os.pathsep) if p]
            # An explicit --model-path is searched first, the usual path after it.
            changes["model_path"] = tuple(Path(p) for p in extra) + self.model_path  # type: ignore[union-attr]
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def database_path(self) -> Path:
        return self.library / DB_FILENAME

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.database_path}"

    @property
    def index_path(self) -> Path:
        return self.library / INDEX_FILENAME

    @property
    def thumbnail_dir(self) -> Path:
        return self.library / THUMBNAIL_DIRNAME

    @property
    def key_point_dir(self) -> Path:
        return self.library / KEY_POINT_DIRNAME
