"""A stored image's turned views, embedded from its file on demand: the witness of a copy that
a query found through a turned view (:mod:`search.descriptor.witness`). The file is read by
its database row only while its bytes are those indexed (else: no rows, no witness). Kept in
the library state's :attr:`search.library.Searchable.turns` cache (a turned copy that many
queries find is embedded once; dropped with the state)."""

from __future__ import annotations

import numpy as np

from models import ImgsearchError, is_video_file
from search.descriptor import PreparedImage, StoredTurns
from search.library import Searchable
from search.query.guard import ServingGuard
from search.query.records import LibraryRecords, unchanged_bytes


def turns_for(records: LibraryRecords, guard: ServingGuard, live: Searchable) -> StoredTurns:
    """``turns(image_id)``: that image's turned views [r, D'] in ``live``'s descriptor space,
    embedded by the model ``live`` was indexed with; None when its file cannot be."""

    def turns(image_id: int) -> np.ndarray | None:
        found, _missing = live.turns.take([image_id])
        if image_id not in found:
            rows = _embed(records, guard, live, image_id)  # None kept as no rows
            found[image_id] = PreparedImage(np.zeros((0, 0), np.float32) if rows is None else rows)
            live.turns.put(found)
        rows = found[image_id].rows
        return rows if len(rows) else None

    return turns


def _embed(
    records: LibraryRecords, guard: ServingGuard, live: Searchable, image_id: int
) -> np.ndarray | None:
    try:
        file = records.image_file(image_id)
        if file is None or is_video_file(file.path):
            return None
        data = unchanged_bytes(file)
        if data is None:
            return None
        turned = guard.analyzer_for(live.model).turned_embeddings(data)
    except ImgsearchError:  # gone, out of its collection, undecodable, no model
        return None
    return live.descriptor.transform(turned)
