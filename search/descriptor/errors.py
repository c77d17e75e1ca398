"""Errors of the descriptor stage: options, learned state, the optional geometric check."""

from __future__ import annotations

from models.errors import ImgsearchError


class DescriptorError(ImgsearchError, ValueError):
    """A descriptor option string or stored state is invalid."""


class WhiteningError(ImgsearchError, ValueError):
    """Whitening cannot be learned from the data given, or stored data is not a whitening."""


class VerifyUnavailableError(ImgsearchError, RuntimeError):
    """The geometric check needs OpenCV, which is not installed."""
