"""How images are compared: views, frames, learned whitening, augmentations (its training
edits), calibration, re-ranking and the optional geometric check.

Names load on first use (PEP 562): importing the package costs nothing until a name
is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from search.lazy import lazy_names

_SOURCES: dict[str, str] = {
    "WORK_SIDE": "search.descriptor.augmentations",
    "augment": "search.descriptor.augmentations",
    "edit_side": "search.descriptor.augmentations",
    "photo_edits": "search.descriptor.augmentations",
    "Calibration": "search.descriptor.calibration",
    "PLAIN_BACKGROUND": "search.descriptor.calibration",
    "DESCRIPTOR_VERSION": "search.descriptor.config",
    "DUPLICATE_Z": "search.descriptor.config",
    "TURNED_VIEW_DISCOUNT": "search.descriptor.config",
    "WITNESS_Z": "search.descriptor.config",
    "DescriptorConfig": "search.descriptor.config",
    "VERIFY_BUDGET_S": "search.descriptor.config",
    "VERIFY_CHECKED": "search.descriptor.config",
    "VERIFY_Z": "search.descriptor.config",
    "Descriptor": "search.descriptor.descriptors",
    "StoredImage": "search.descriptor.descriptors",
    "label_vectors": "search.descriptor.descriptors",
    "DescriptorError": "search.descriptor.errors",
    "WhiteningError": "search.descriptor.errors",
    "VerifyUnavailableError": "search.descriptor.errors",
    "CANDIDATES_PER_VIEW": "search.descriptor.rerank",
    "QueryScorer": "search.descriptor.rerank",
    "ScoredHit": "search.descriptor.rerank",
    "PreparedImage": "search.descriptor.row_cache",
    "RowCache": "search.descriptor.row_cache",
    "StoredTurns": "search.descriptor.witness",
    "LocalWitness": "search.descriptor.witness",
    "NO_COPY_OF_BETTER": "search.descriptor.witness",
    "NO_KEY_POINT_MATCH": "search.descriptor.witness",
    "key_points_match": "search.descriptor.verify",
    "LOCAL_WITNESS_Z": "search.descriptor.config",
    "LocalFeatures": "search.descriptor.verify",
    "KEY_POINT_DRAFT": "search.descriptor.verify",
    "MIN_INLIERS": "search.descriptor.verify",
    "count_inliers": "search.descriptor.verify",
    "grey_band": "search.descriptor.verify",
    "local_features": "search.descriptor.verify",
    "opencv": "search.descriptor.verify",
    "verified_copy_score": "search.descriptor.verify",
    "verified_score": "search.descriptor.verify",
    "DEFAULT_EDITS_PER_IMAGE": "search.descriptor.whitening",
    "DEFAULT_SAMPLE": "search.descriptor.whitening",
    "EditCovariance": "search.descriptor.whitening",
    "FULL_IMAGES": "search.descriptor.whitening",
    "MIN_IMAGES": "search.descriptor.whitening",
    "shrink_for": "search.descriptor.whitening",
    "Whitening": "search.descriptor.whitening",
    "learn_from_images": "search.descriptor.whitening",
    "learn_whitening": "search.descriptor.whitening",
    "sample_indices": "search.descriptor.whitening",
    "whitening_from_edits": "search.descriptor.whitening",
    "LocalCheck": "search.descriptor.rerank",
    "MoreViews": "search.descriptor.rerank",
}

__all__ = [
    "CANDIDATES_PER_VIEW",
    "DEFAULT_EDITS_PER_IMAGE",
    "DEFAULT_SAMPLE",
    "DESCRIPTOR_VERSION",
    "DUPLICATE_Z",
    "FULL_IMAGES",
    "KEY_POINT_DRAFT",
    "LOCAL_WITNESS_Z",
    "MIN_IMAGES",
    "MIN_INLIERS",
    "NO_COPY_OF_BETTER",
    "NO_KEY_POINT_MATCH",
    "PLAIN_BACKGROUND",
    "TURNED_VIEW_DISCOUNT",
    "VERIFY_BUDGET_S",
    "VERIFY_CHECKED",
    "VERIFY_Z",
    "WITNESS_Z",
    "WORK_SIDE",
    "Calibration",
    "Descriptor",
    "DescriptorConfig",
    "DescriptorError",
    "EditCovariance",
    "LocalCheck",
    "LocalFeatures",
    "LocalWitness",
    "MoreViews",
    "PreparedImage",
    "QueryScorer",
    "RowCache",
    "ScoredHit",
    "StoredImage",
    "StoredTurns",
    "VerifyUnavailableError",
    "Whitening",
    "WhiteningError",
    "augment",
    "count_inliers",
    "edit_side",
    "grey_band",
    "key_points_match",
    "label_vectors",
    "learn_from_images",
    "learn_whitening",
    "local_features",
    "opencv",
    "photo_edits",
    "sample_indices",
    "shrink_for",
    "verified_copy_score",
    "verified_score",
    "whitening_from_edits",
]


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())

if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
    from search.descriptor.augmentations import (
        WORK_SIDE,
        augment,
        edit_side,
        photo_edits,
    )
    from search.descriptor.calibration import PLAIN_BACKGROUND, Calibration
    from search.descriptor.config import (
        DESCRIPTOR_VERSION,
        DUPLICATE_Z,
        LOCAL_WITNESS_Z,
        TURNED_VIEW_DISCOUNT,
        VERIFY_BUDGET_S,
        VERIFY_CHECKED,
        VERIFY_Z,
        WITNESS_Z,
        DescriptorConfig,
    )
    from search.descriptor.descriptors import Descriptor, StoredImage, label_vectors
    from search.descriptor.errors import DescriptorError, VerifyUnavailableError, WhiteningError
    from search.descriptor.rerank import (
        CANDIDATES_PER_VIEW,
        LocalCheck,
        MoreViews,
        QueryScorer,
        ScoredHit,
    )
    from search.descriptor.row_cache import PreparedImage, RowCache
    from search.descriptor.verify import (
        KEY_POINT_DRAFT,
        MIN_INLIERS,
        LocalFeatures,
        count_inliers,
        grey_band,
        key_points_match,
        local_features,
        opencv,
        verified_copy_score,
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
    from search.descriptor.witness import (
        NO_COPY_OF_BETTER,
        NO_KEY_POINT_MATCH,
        LocalWitness,
        StoredTurns,
    )
