"""A model's spec (:class:`ModelSpec`, validated from its JSON) and a located model.

A spec says everything needed to feed the network and read its outputs: file, sha256,
input name, type, layout, value range and size, crop, output names, labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from models.errors import ModelSpecError

DEFAULT_MODEL_NAME = "mobilenet_v3_small_100"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_DTYPES = ("uint8", "float32")
_LAYOUTS = ("NHWC", "NCHW")


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to feed a model and read its outputs.

    ``input_range`` is the value range the network expects for pixel 0..255 (mapped linearly);
    ``size`` is (width, height); ``crop_fraction`` the central crop applied before resizing
    (1.0 = whole image); ``raw_output`` the un-normalised embedding output if the graph has one.
    """

    name: str
    file: str
    sha256: str
    input_name: str = "image"
    input_dtype: str = "uint8"
    input_range: tuple[float, float] = (0.0, 255.0)
    size: tuple[int, int] = (224, 224)
    crop_fraction: float = 1.0
    embedding_output: str = "embedding"
    output_normalized: bool = False
    probs_output: str | None = None
    labels_file: str | None = None
    dimension: int = 1024
    layout: str = "NHWC"
    raw_output: str | None = None
    labels_sha256: str | None = None
    background_index: int | None = None
    description: str = ""
    obtain: str | None = None
    spec_dir: str | None = None  # directory of a user's .model.json (searched first)

    @property
    def has_class_head(self) -> bool:
        return self.probs_output is not None

    @property
    def preparation(self) -> str:
        """How an image becomes this model's vector besides the file itself (its input and
        output settings), in words: a spec edited since a library was indexed makes other
        vectors from the same file."""
        lo, hi = self.input_range
        return (
            f"input {self.input_name} {self.input_dtype} {lo:g}..{hi:g} "
            f"{self.size[0]}x{self.size[1]} {self.layout}, crop {self.crop_fraction:g}; "
            f"output {self.raw_output or self.embedding_output} {self.dimension}"
            f"{' normalized' if self.output_normalized else ''}"
        )

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, spec_dir: Path | None = None, source: Path | None = None
    ) -> ModelSpec:
        """Validate and build a spec from parsed JSON; raises :class:`ModelSpecError` naming
        ``source`` (the ``.model.json`` file: "in DIR" did not say which of its files)."""
        known = {f.name for f in fields(cls)} - {"spec_dir"}
        where = f" in {source or spec_dir}" if source or spec_dir else ""
        unknown = set(data) - known - {"$comment"}
        if unknown:
            raise ModelSpecError(f"model spec{where}: unknown keys {sorted(unknown)}")
        for key in ("name", "file", "sha256"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ModelSpecError(f"model spec{where}: '{key}' (string) is required")
        values = {k: v for k, v in data.items() if k in known}
        name = values["name"]
        try:
            for key in ("input_range", "size"):
                if key in values:
                    values[key] = tuple(values[key])
            spec = cls(**values, spec_dir=str(spec_dir) if spec_dir else None)
        except TypeError as exc:
            raise ModelSpecError(f"model spec '{name}'{where}: {exc}") from None
        problems = []
        if not _SHA_RE.match(spec.sha256):
            problems.append("sha256 must be 64 lowercase hex digits")
        if spec.labels_sha256 is not None and not _SHA_RE.match(spec.labels_sha256):
            problems.append("labels_sha256 must be 64 lowercase hex digits")
        if spec.input_dtype not in _DTYPES:
            problems.append(f"input_dtype must be one of {_DTYPES}")
        if spec.layout not in _LAYOUTS:
            problems.append(f"layout must be one of {_LAYOUTS}")
        if len(spec.size) != 2 or min(spec.size) < 1:
            problems.append("size must be [width, height]")
        if len(spec.input_range) != 2 or spec.input_range[0] >= spec.input_range[1]:
            problems.append("input_range must be [low, high] with low < high")
        if not 0.0 < spec.crop_fraction <= 1.0:
            problems.append("crop_fraction must be in (0, 1]")
        if spec.dimension < 1:
            problems.append("dimension must be positive")
        if spec.labels_file and not spec.probs_output:
            problems.append("labels_file needs probs_output")
        if problems:
            raise ModelSpecError(f"model spec '{name}'{where}: " + "; ".join(problems))
        return spec

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "spec_dir"}
        out["input_range"] = list(self.input_range)
        out["size"] = list(self.size)
        return out


@dataclass(frozen=True)
class LocatedModel:
    """A spec together with the files found for it."""

    spec: ModelSpec
    path: Path
    labels_path: Path | None
    verified: bool
    search_path: tuple[Path, ...] = ()

    @property
    def sha256(self) -> str:
        return self.spec.sha256
