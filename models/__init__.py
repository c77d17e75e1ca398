"""imgsearch.models: decoding, regions of interest, ONNX models, embedder, classifier.

This package imports nothing else of imgsearch; everything above it uses this public API.
"""

from models.analyzer import Analysis, ImageAnalyzer, RoiImageError
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
from models.errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyImageError,
    ImageError,
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
from models.load import HEIF_SUPPORTED, DecodedImage, load_image, pixel_sha256, to_rgb
from models.onnx_model import ModelOutput, OnnxModel, l2_normalize, open_model
from models.roi import RegionOfInterest, parse_roi

__all__ = [
    "DEFAULT_MODEL_NAME",
    "HEIF_SUPPORTED",
    "Analysis",
    "CorruptImageError",
    "DecodedImage",
    "DecompressionBombError",
    "EmptyImageError",
    "ImageAnalyzer",
    "ImageError",
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
    "RegionOfInterest",
    "RoiError",
    "RoiImageError",
    "RunningModeError",
    "TimestampError",
    "TruncatedImageError",
    "UnknownModelError",
    "UnreadableImageError",
    "UnsupportedImageError",
    "available_models",
    "builtin_catalog",
    "file_sha256",
    "get_spec",
    "l2_normalize",
    "load_image",
    "locate_model",
    "model_status",
    "open_model",
    "parse_roi",
    "pixel_sha256",
    "to_rgb",
]
