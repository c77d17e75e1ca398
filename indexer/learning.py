"""The whitening's learning sample of an index run, edited while the run has it decoded.

A run that may end by learning the library's whitening (:func:`indexer.whiten.whitening_due`
counting the files the run may add) chooses the sample when it is planned: a seeded sample of
the library's images from before the run (whose vectors stay) followed by the files the run
embeds. The pipeline hands the sampled files' bytes to the decoders marked with their place in
the sample (:class:`SampledSource`); the decode threads make their edits from the photo they
decoded for indexing (:meth:`LearningSample.edits_of`, seeded by that place) and the analyzer
embeds them in an extra model pass of their batch; :meth:`LearningSample.add` adds each
(photo, edit) difference to the edit covariance in plan order, so the sum does not depend on
thread timing. Only the sampled images from before the run are decoded again, after the
pipeline (:func:`indexer.whiten.update_whitening`). Sampled files that the run does not
embed (unreadable ones, and copies or moves of bytes whose vector is reused) drop out.

Memory stays bounded: a sampled photo's edits live as model inputs only while its batch is
in flight (the analyzer decodes at most two batches ahead).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from indexer import whiten
from indexer.plan import Plan
from indexer.sampled import EditMaker, SampledSource
from models import Analysis, OnnxModel
from search.descriptor import EditCovariance, edit_side, sample_indices
from search.library import Library

Progress = Callable[[int, int], None]  # (photos done, photos in the sample)


@dataclass
class LearningSample:
    """The learning sample of one run, and what has been learned from it so far."""

    seed: int
    per_image: int  # edits of each photo
    side: int  # the shorter side edits are made at (what the network reads)
    in_run: dict[int, int]  # position in ``plan.work`` -> place in the sample
    stored: list[tuple[int, int]]  # (place, image id): library images from before the run
    edits: EditCovariance
    progress: Progress | None = None
    photos: int = 0  # photos of the run's files edited so far
    cpu_seconds: float = 0.0  # CPU time making and embedding their edits
    seconds: float = 0.0  # learning's share of the pipeline's wall time (:meth:`settle`)

    @property
    def size(self) -> int:
        """Photos in the sample."""
        return len(self.in_run) + len(self.stored)

    def source(self, position: int, data: bytes) -> io.BytesIO:
        """The bytes of ``plan.work[position]`` for the decoders, marked when sampled."""
        place = self.in_run.get(position)
        return io.BytesIO(data) if place is None else SampledSource(data, place)

    @property
    def edits_of(self) -> EditMaker:
        """The edits of a sampled photo (none for the others): the analyzer's ``views``, run
        in a decode thread or a worker process."""
        return EditMaker(self.seed, self.per_image, self.side)

    def add(self, result: Analysis) -> None:
        """Add a photo's (vector, edit) differences; called in plan order."""
        views = result.view_embeddings
        if views is None or not len(views):
            return
        self.edits.add(np.broadcast_to(result.embedding, views.shape), views)
        self.photos += 1
        _make_wall, make_cpu, _pass_wall, pass_cpu = result.view_costs
        self.cpu_seconds += make_cpu + pass_cpu
        if self.progress:
            self.progress(self.photos, self.size)

    def settle(self, wall: float, cpu: float) -> None:
        """Learning's share of a pipeline that took ``wall`` seconds and ``cpu`` seconds of
        the process's CPU time: the wall time in proportion to the CPU time its edits took
        (making them in the decode threads, embedding them: the threads share the cores)."""
        self.seconds = wall * min(1.0, self.cpu_seconds / cpu) if cpu > 0 else 0.0


def plan_learning(
    library: Library,
    plan: Plan,
    model: OnnxModel,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> LearningSample | None:
    """The learning sample when the run may learn the whitening and has files to embed;
    None otherwise (:func:`indexer.whiten.update_whitening` then samples on its own)."""
    if not plan.work:
        return None
    # most runs learn nothing: said from the counts before every stored id is read
    stored = library.store.vector_count()
    if whiten.whitening_due(library, stored + len(plan.work))[0] != "learn":
        return None
    gone = plan.busy | set(plan.vanished)  # vectors this run replaces or removes
    kept = whiten.one_per_content(
        library.store, [i for i in library.store.descriptors.sample_ids(stored) if i not in gone]
    )
    count = len(kept) + len(plan.work)  # at most, after the run
    if whiten.whitening_due(library, count)[0] != "learn":
        return None
    chosen = sample_indices(count, whiten.DEFAULT_SAMPLE, seed)
    stored = [(place, kept[int(i)]) for place, i in enumerate(chosen) if i < len(kept)]
    in_run = {int(i) - len(kept): place for place, i in enumerate(chosen) if i >= len(kept)}
    return LearningSample(
        seed=seed,
        per_image=whiten.edits_per_image(count, len(chosen)),
        side=edit_side(model.input_size, model.spec.crop_fraction),
        in_run=in_run,
        stored=stored,
        edits=EditCovariance(model.dimension),
        progress=progress,
    )
