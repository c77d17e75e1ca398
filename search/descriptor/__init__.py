"""How images are compared: views, frames, learned whitening, augmentations (its training
edits), calibration, re-ranking and the optional geometric check."""

from __future__ import annotations

from search.descriptor.augmentations import WORK_SIDE, augment, edit_side
from search.descriptor.calibration import PLAIN_BACKGROUND, Calibration
from search.descriptor.config import DESCRIPTOR_VERSION, DUPLICATE_Z, DescriptorConfig
from search.descriptor.descriptors import Descriptor, StoredImage, label_vectors
from search.descriptor.errors import DescriptorError, WhiteningError
from search.descriptor.rerank import CANDIDATES_PER_VIEW, QueryScorer, ScoredHit
from search.descriptor.verify import (
    MIN_INLIERS,
    LocalFeatures,
    count_inliers,
    local_features,
    opencv,
    verified_score,
)
from search.descriptor.whitening import (
    DEFAULT_EDITS_PER_IMAGE,
    DEFAULT_SAMPLE,
    FULL_IMAGES,
    MIN_IMAGES,
    EditCovariance,
    Whitening,
    learn_from_images,
    learn_whitening,
    sample_indices,
    shrink_for,
    whitening_from_edits,
)

__all__ = [
    "CANDIDATES_PER_VIEW",
    "DEFAULT_EDITS_PER_IMAGE",
    "DEFAULT_SAMPLE",
    "DESCRIPTOR_VERSION",
    "DUPLICATE_Z",
    "FULL_IMAGES",
    "MIN_IMAGES",
    "MIN_INLIERS",
    "PLAIN_BACKGROUND",
    "WORK_SIDE",
    "Calibration",
    "Descriptor",
    "DescriptorConfig",
    "DescriptorError",
    "EditCovariance",
    "LocalFeatures",
    "QueryScorer",
    "ScoredHit",
    "StoredImage",
    "Whitening",
    "WhiteningError",
    "augment",
    "count_inliers",
    "edit_side",
    "label_vectors",
    "learn_from_images",
    "learn_whitening",
    "local_features",
    "opencv",
    "sample_indices",
    "shrink_for",
    "verified_score",
    "whitening_from_edits",
]
