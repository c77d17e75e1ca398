"""A photo of the whitening's learning sample on its way to the decoders, and the edits made
of it there (:mod:`indexer.learning`). Light and picklable: the worker processes
(:mod:`indexer.processes`) make the edits of the files they are sent."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from models.load import DecodedImage
from models.sources import ImageSource
from search.descriptor import photo_edits

__all__ = ["EditMaker", "SampledSource"]


class SampledSource(io.BytesIO):
    """A file's bytes on their way to the decoders: photo ``place`` of the learning sample."""

    def __init__(self, data: bytes, place: int) -> None:
        super().__init__(data)
        self.place = place


@dataclass(frozen=True)
class EditMaker:
    """The edits of a sampled photo, seeded by its place in the sample (none for the others):
    an analyzer's ``views``, called in a decode thread or a worker process."""

    seed: int
    per_image: int  # edits of each photo
    side: int  # the shorter side edits are made at (what the network reads)

    def __call__(self, source: ImageSource, decoded: DecodedImage) -> list[Image.Image]:
        if not isinstance(source, SampledSource):
            return []
        return photo_edits(
            decoded.image, self.per_image, seed=self.seed, place=source.place, side=self.side
        )
