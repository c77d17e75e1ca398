"""Typed errors for the whole project (``ImgsearchError`` is the common base)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class ImgsearchError(Exception):
    """Base class of every error imgsearch raises on purpose."""


class ImageError(ImgsearchError, ValueError):
    """An image could not be read. ``reason`` is a short machine code, ``source`` the path."""

    reason = "image_error"

    def __init__(self, message: str, *, source: str | None = None, reason: str | None = None):
        self.source = source
        if reason is not None:
            self.reason = reason
        self.message = message
        text = f"{source}: {message}" if source else message
        super().__init__(text)

    def to_dict(self) -> dict[str, str | None]:
        """JSON-friendly form: ``{"error": reason, "message": ..., "source": ...}``."""
        return {"error": self.reason, "message": self.message, "source": self.source}


class EmptyImageError(ImageError):
    reason = "empty"


class NotAnImageError(ImageError):
    reason = "not_an_image"


class TruncatedImageError(ImageError):
    reason = "truncated"


class DecompressionBombError(ImageError):
    reason = "too_many_pixels"


class ImageTooLargeError(DecompressionBombError):
    """Decoding the image would take more memory than the decode budget allows."""

    reason = "too_large_to_decode"


class UnsupportedImageError(ImageError):
    reason = "unsupported"


class CorruptImageError(ImageError):
    """The file is an image format Pillow knows, but its data cannot be decoded."""

    reason = "corrupt"


class UnreadableImageError(ImageError):
    """The file could not be opened or read (missing, permissions, I/O error)."""

    reason = "unreadable"


class FileTooLargeError(ImageError):
    """The file is larger than any image file this program reads."""

    reason = "file_too_large"


class RoiError(ImgsearchError, ValueError):
    """A region of interest is invalid, empty, or lies outside the image."""


class RunningModeError(ImgsearchError, ValueError, RuntimeError):
    """A task method was called that does not match the task's running mode, or the task is
    closed. A ``ValueError`` as MediaPipe's (``except ValueError`` in ported code catches it);
    still a ``RuntimeError`` for code written against earlier versions."""


class CategoryNameError(ImgsearchError, ValueError):
    """``category_allowlist`` / ``category_denylist`` names what the model never returns: an
    unknown category, or (allowed) the background class. ``option`` is the list's option,
    ``names`` the names refused, ``detail`` the message without the option's name."""

    def __init__(self, option: str, names: Sequence[str], detail: str):
        self.option, self.names, self.detail = option, list(names), detail
        super().__init__(f"{option}: {detail}")


class TimestampError(ImgsearchError, ValueError):
    """VIDEO / LIVE_STREAM timestamps must strictly increase."""


class ModelError(ImgsearchError):
    """Base of model-locating / model-loading problems."""


class ModelSpecError(ModelError, ValueError):
    """A model spec (built-in or ``<name>.model.json``) is invalid, or a model lacks a head."""


class UnknownModelError(ModelError, KeyError):
    """No catalog entry or ``<name>.model.json`` has this name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def _obtain_text(file: str, obtain: str | None) -> str:
    how = obtain or "the model's official release converted to ONNX"
    return (
        f"How to obtain it: {how}. Put '{file}' into one of the directories above, or point "
        f"IMGSEARCH_MODEL_PATH (or --model-path) at the directory that holds it - for this "
        f"project's shared files that is ../shared/models."
    )


def _dirs_text(searched: Sequence[Path]) -> str:
    if not searched:
        return "  (no directories on the model search path)"
    return "\n".join(f"  - {Path(d)}" for d in searched)


class ModelNotFoundError(ModelError, FileNotFoundError):
    """The model file is in none of the search-path directories."""

    def __init__(
        self, name: str, file: str, sha256: str, searched: Sequence[Path], obtain: str | None = None
    ):
        self.name, self.file, self.sha256 = name, file, sha256
        self.searched = [Path(d) for d in searched]
        message = (
            f"Model '{name}': file '{file}' (expected sha256 {sha256}) was not found in any "
            f"directory of the model search path:\n{_dirs_text(self.searched)}\n"
            + _obtain_text(file, obtain)
        )
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class ModelChecksumError(ModelError):
    """A model (or labels) file was found but its sha256 is not the expected one."""

    def __init__(
        self,
        name: str,
        path: Path,
        expected: str,
        actual: str,
        searched: Sequence[Path],
        obtain: str | None = None,
    ):
        self.name, self.path, self.expected, self.actual = name, Path(path), expected, actual
        self.searched = [Path(d) for d in searched]
        message = (
            f"Model '{name}': file '{self.path}' has sha256 {actual} but {expected} was "
            f"expected (corrupt, truncated or a different file). Directories searched:\n"
            f"{_dirs_text(self.searched)}\n" + _obtain_text(self.path.name, obtain)
        )
        super().__init__(message)
