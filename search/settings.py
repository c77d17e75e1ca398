"""The one settings object: where the library lives, which model, how to index and serve.

Values come from, in order of precedence: explicit arguments (CLI options), environment
variables (``IMGSEARCH_*``), then the defaults below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL = "mobilenet_v3_small_100"
DEFAULT_LIBRARY = Path("imgsearch-library")
DB_FILENAME = "imgsearch.sqlite3"
INDEX_FILENAME = "index.faiss"
THUMBNAIL_DIRNAME = "thumbnails"


def _user_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "imgsearch"


def default_model_search_path(env: dict[str, str] | None = None) -> list[Path]:
    """``IMGSEARCH_MODEL_PATH`` (``:``-separated), then ``./models``, then the user data dir."""
    env = os.environ if env is None else env
    dirs = [Path(p) for p in env.get("IMGSEARCH_MODEL_PATH", "").split(os.pathsep) if p]
    dirs += [Path("models"), _user_data_dir() / "models"]
    return dirs


@dataclass(frozen=True)
class Settings:
    library: Path = DEFAULT_LIBRARY
    database_url: str | None = None
    model: str | None = None
    model_path: tuple[Path, ...] = field(default_factory=lambda: tuple(default_model_search_path()))
    index_kind: str = "auto"
    threads: int = 0
    workers: int = 0
    batch_size: int = 32
    dedup_threshold: float | None = None
    #: how images are compared (search.descriptors.DescriptorConfig text, e.g. "default",
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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from the environment, then apply non-``None`` overrides."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "library": Path(env.get("IMGSEARCH_LIBRARY", str(DEFAULT_LIBRARY))),
            "database_url": env.get("IMGSEARCH_DATABASE_URL") or None,
            "model": env.get("IMGSEARCH_MODEL") or None,
            "model_path": tuple(default_model_search_path(env)),
            "index_kind": env.get("IMGSEARCH_INDEX", "auto"),
            "dedup_threshold": float(env["IMGSEARCH_DEDUP_THRESHOLD"])
            if env.get("IMGSEARCH_DEDUP_THRESHOLD")
            else None,
            "descriptor": env.get("IMGSEARCH_DESCRIPTOR") or None,
            "decode_budget_mb": int(env.get("IMGSEARCH_DECODE_BUDGET_MB") or 768),
        }
        settings = cls(**values)  # type: ignore[arg-type]
        return settings.with_overrides(**overrides)

    def with_overrides(self, **overrides: object) -> Settings:
        changes = {k: v for k, v in overrides.items() if v is not None}
        if "library" in changes:
            changes["library"] = Path(changes["library"])  # type: ignore[arg-type]
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
        return self.database_url or f"sqlite:///{self.database_path.resolve()}"

    @property
    def index_path(self) -> Path:
        return self.library / INDEX_FILENAME

    @property
    def thumbnail_dir(self) -> Path:
        return self.library / THUMBNAIL_DIRNAME
