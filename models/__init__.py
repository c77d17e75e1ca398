"""imgsearch.models: decoding, regions of interest, ONNX models, embedder, classifier.

This package imports nothing else of imgsearch; everything above it uses this public API.

Names load on first use (PEP 562), so that ``from models.errors import ...`` or a CLI start-up
never imports onnxruntime or numpy-heavy modules it does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_SOURCES: dict[str, str] = {
    "Analysis": "models.analysis",
    "ImageAnalyzer": "models.analyzer",
    "Prepared": "models.analysis",
    "Ready": "models.analysis",
    "RoiImageError": "models.analyzer",
    "DEFAULT_MODEL_NAME": "models.catalog",
    "LocatedModel": "models.catalog",
    "ModelSpec": "models.catalog",
    "available_models": "models.catalog",
    "builtin_catalog": "models.catalog",
    "file_sha256": "models.catalog",
    "get_spec": "models.catalog",
    "locate_model": "models.catalog",
    "model_status": "models.catalog",
    "Category": "models.classifier",
    "Classifications": "models.classifier",
    "ImageClassifier": "models.classifier",
    "ImageClassifierOptions": "models.classifier",
    "ImageClassifierResult": "models.classifier",
    "Embedding": "models.embedder",
    "ImageEmbedder": "models.embedder",
    "ImageEmbedderOptions": "models.embedder",
    "ImageEmbedderResult": "models.embedder",
    "cosine_similarity": "models.embedder",
    "quantize_embedding": "models.embedder",
    "CategoryNameError": "models.errors",
    "CorruptImageError": "models.errors",
    "DecompressionBombError": "models.errors",
    "EmptyImageError": "models.errors",
    "FileTooLargeError": "models.errors",
    "ImageError": "models.errors",
    "ImageTooLargeError": "models.errors",
    "ImgsearchError": "models.errors",
    "ModelChecksumError": "models.errors",
    "ModelError": "models.errors",
    "ModelNotFoundError": "models.errors",
    "ModelSpecError": "models.errors",
    "NotAnImageError": "models.errors",
    "RoiError": "models.errors",
    "RunningModeError": "models.errors",
    "TimestampError": "models.errors",
    "TruncatedImageError": "models.errors",
    "UnknownModelError": "models.errors",
    "UnreadableImageError": "models.errors",
    "UnsupportedImageError": "models.errors",
    "DecodePool": "models.decode_pool",
    "free_cores": "models.decode_pool",
    "usable_cores": "models.cores",
    "return_freed_memory": "models.decode_memory",
    "set_decode_budget": "models.decode_memory",
    "MAX_FILE_BYTES": "models.files",
    "hash_image_file": "models.files",
    "hash_limited": "models.files",
    "file_mtime": "models.files",
    "file_mtime_ns": "models.files",
    "image_format": "models.files",
    "is_streamed": "models.files",
    "open_image_file": "models.files",
    "read_image_file": "models.files",
    "read_limited": "models.files",
    "TopLabels": "models.labels",
    "LAYOUT_BYTES": "models.layout",
    "image_layout": "models.layout",
    "mosaic_grid": "models.mosaic",
    "collage_cells": "models.collage",
    "CROP_REGIONS": "models.crops",
    "CROP_SIDE": "models.crops",
    "unblocked": "models.mosaic",
    "DecodedImage": "models.load",
    "load_image": "models.load",
    "pixel_sha256": "models.load",
    "to_rgb": "models.load",
    "ModelOutput": "models.onnx_model",
    "OnnxModel": "models.onnx_model",
    "l2_normalize": "models.onnx_model",
    "open_model": "models.onnx_model",
    "RegionOfInterest": "models.roi",
    "parse_roi": "models.roi",
    "HEIF_SUPPORTED": "models.sources",
    "fixed_by_installed": "models.sources",
    "RunningMode": "models.tasks",
    "contrast_levels": "models.tones",
    "VIDEO_EXTENSIONS": "models.video_names",
    "ANIMATED_FORMATS": "models.animation",
    "AnimationReader": "models.animation",
    "is_animation": "models.animation",
    "is_video_container": "models.media",
    "is_video_data": "models.media",
    "is_video_file": "models.media",
    "open_video": "models.media",
    "Still": "models.video",
    "VideoError": "models.video",
    "VideoInfo": "models.video",
    "VideoReader": "models.video",
    "format_timestamp": "models.video",
    "is_video_name": "models.video_names",
    "looks_like_video": "models.video_names",
    "video_media_type": "models.video_names",
    "require_av": "models.video",
}

__all__ = [
    "ANIMATED_FORMATS",
    "CROP_REGIONS",
    "CROP_SIDE",
    "DEFAULT_MODEL_NAME",
    "HEIF_SUPPORTED",
    "LAYOUT_BYTES",
    "MAX_FILE_BYTES",
    "VIDEO_EXTENSIONS",
    "Analysis",
    "AnimationReader",
    "Category",
    "CategoryNameError",
    "Classifications",
    "CorruptImageError",
    "DecodePool",
    "DecodedImage",
    "DecompressionBombError",
    "Embedding",
    "EmptyImageError",
    "FileTooLargeError",
    "ImageAnalyzer",
    "ImageClassifier",
    "ImageClassifierOptions",
    "ImageClassifierResult",
    "ImageEmbedder",
    "ImageEmbedderOptions",
    "ImageEmbedderResult",
    "ImageError",
    "ImageTooLargeError",
    "ImgsearchError",
    "LocatedModel",
    "ModelChecksumError",
    "ModelError",
    "ModelNotFoundError",
    "ModelOutput",
    "ModelSpec",
    "ModelSpecError",
    "NotAnImageError",
    "OnnxModel",
    "Prepared",
    "Ready",
    "RegionOfInterest",
    "RoiError",
    "RoiImageError",
    "RunningMode",
    "RunningModeError",
    "Still",
    "TimestampError",
    "TopLabels",
    "TruncatedImageError",
    "UnknownModelError",
    "UnreadableImageError",
    "UnsupportedImageError",
    "VideoError",
    "VideoInfo",
    "VideoReader",
    "available_models",
    "builtin_catalog",
    "collage_cells",
    "contrast_levels",
    "cosine_similarity",
    "file_mtime",
    "file_mtime_ns",
    "file_sha256",
    "fixed_by_installed",
    "format_timestamp",
    "free_cores",
    "get_spec",
    "hash_image_file",
    "hash_limited",
    "image_format",
    "image_layout",
    "is_animation",
    "is_streamed",
    "is_video_container",
    "is_video_data",
    "is_video_file",
    "is_video_name",
    "l2_normalize",
    "load_image",
    "locate_model",
    "looks_like_video",
    "model_status",
    "mosaic_grid",
    "open_image_file",
    "open_model",
    "open_video",
    "parse_roi",
    "pixel_sha256",
    "quantize_embedding",
    "read_image_file",
    "read_limited",
    "require_av",
    "return_freed_memory",
    "set_decode_budget",
    "to_rgb",
    "unblocked",
    "usable_cores",
    "video_media_type",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
    from models.analysis import Analysis, Prepared, Ready
    from models.analyzer import ImageAnalyzer, RoiImageError
    from models.animation import ANIMATED_FORMATS, AnimationReader, is_animation
    from models.catalog import (
        DEFAULT_MODEL_NAME,
        LocatedModel,
        ModelSpec,
        available_models,
        builtin_catalog,
        file_sha256,
        get_spec,
        locate_model,
        model_status,
    )
    from models.classifier import (
        Category,
        Classifications,
        ImageClassifier,
        ImageClassifierOptions,
        ImageClassifierResult,
    )
    from models.collage import collage_cells
    from models.cores import usable_cores
    from models.crops import CROP_REGIONS, CROP_SIDE
    from models.decode_memory import return_freed_memory, set_decode_budget
    from models.decode_pool import DecodePool, free_cores
    from models.embedder import (
        Embedding,
        ImageEmbedder,
        ImageEmbedderOptions,
        ImageEmbedderResult,
        cosine_similarity,
        quantize_embedding,
    )
    from models.errors import (
        CategoryNameError,
        CorruptImageError,
        DecompressionBombError,
        EmptyImageError,
        FileTooLargeError,
        ImageError,
        ImageTooLargeError,
        ImgsearchError,
        ModelChecksumError,
        ModelError,
        ModelNotFoundError,
        ModelSpecError,
        NotAnImageError,
        RoiError,
        RunningModeError,
        TimestampError,
        TruncatedImageError,
        UnknownModelError,
        UnreadableImageError,
        UnsupportedImageError,
    )
    from models.files import (
        MAX_FILE_BYTES,
        file_mtime,
        file_mtime_ns,
        hash_image_file,
        hash_limited,
        image_format,
        is_streamed,
        open_image_file,
        read_image_file,
        read_limited,
    )
    from models.labels import TopLabels
    from models.layout import LAYOUT_BYTES, image_layout
    from models.load import DecodedImage, load_image, pixel_sha256, to_rgb
    from models.media import is_video_container, is_video_data, is_video_file, open_video
    from models.mosaic import mosaic_grid, unblocked
    from models.onnx_model import ModelOutput, OnnxModel, l2_normalize, open_model
    from models.roi import RegionOfInterest, parse_roi
    from models.sources import HEIF_SUPPORTED, fixed_by_installed
    from models.tasks import RunningMode
    from models.tones import contrast_levels
    from models.video import (
        VIDEO_EXTENSIONS,
        Still,
        VideoError,
        VideoInfo,
        VideoReader,
        format_timestamp,
        is_video_name,
        looks_like_video,
        require_av,
    )
    from models.video_names import video_media_type
