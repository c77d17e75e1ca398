"""How precise is the calibrated copy decision in a library with look-alikes?

    python bench/copy_threshold.py [--library DIR] [--data ../shared/data]

Indexes all shared photo sets into one library (a temporary one unless ``--library`` names an
existing library of them): 509 photos, so it learns its whitening like any library of 500+.
Every pair of images is scored like dedup scores it (the best cosine between their stored rows in
the library's descriptor space) and labelled: a duplicate when both files show the same photo
(``near_duplicates`` clusters and the UKBench file they were made from), otherwise not -
UKBench's other views of one object and hymenoptera's same-species photos are the hard
negatives. Prints pair precision / recall at calibrated z thresholds, with and without the
UKBench same-object pairs (which score like copies at any threshold), and the z at which
precision reaches 0.99.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from indexer.run import IndexOptions, index_collections  # noqa: E402
from search.library import (  # noqa: E402
    Library,
    to_stored,
)
from search.query import SearchEngine  # noqa: E402
from search.settings import Settings  # noqa: E402


def photo_key(path: Path) -> str:
    """Files of one photo share a key: near_duplicates' ``name__edit`` and UKBench's file."""
    if "near_duplicates" in path.parts or path.name.startswith("ukbench"):
        return path.name.split("__")[0].rsplit(".", 1)[0]
    return str(path)


def ukbench_object(path: Path) -> int | None:
    if path.name.startswith("ukbench") and "near_duplicates" not in path.parts:
        return int(path.name[7:12]) // 4
    return None


def pair_scores(engine: SearchEngine) -> tuple[np.ndarray, list[Path], list[str | None]]:
    store = engine.store
    descriptor = engine.library.descriptor()
    rows = store.descriptors.rows(store.descriptors.sample_ids(100_000), labels=False)
    ids = sorted(rows)
    searched, owner = descriptor.stored_rows([to_stored(rows[i]) for i in ids])
    sims = searched @ searched.T
    n = len(ids)
    copy = np.full((n, n), -np.inf, np.float32)
    for a in range(len(searched)):
        np.maximum.at(copy[owner[a]], owner, sims[a])
    files = [engine.records.image_file(i) for i in ids]
    return copy, [f.path for f in files], [f.sha256 for f in files]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--library", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imgsearch-bench-") as tmp:
        settings = Settings(
            library=args.library or Path(tmp) / "library", model_path=(args.models,)
        )
        if args.library is None:
            with Library.open(settings, create=True) as library:
                model = library.load_model(bind=True)
                summary = index_collections(
                    library, model, IndexOptions(paths=[args.data], progress=False)
                )
            print(f"indexed {summary.images_total} photos; {summary.whitening}")
        with SearchEngine.open(settings) as engine:
            cal = engine.library.descriptor().calibration
            print(
                f"descriptor {engine.library.descriptor_config().describe()}; background mean "
                f"{cal.mean:.4f}, sd {cal.sd:.4f}"
            )
            copy, paths, shas = pair_scores(engine)
    i, j = np.triu_indices(len(paths), 1)
    scores = copy[i, j]
    keys = [photo_key(p) for p in paths]
    objects = [ukbench_object(p) for p in paths]
    same = np.array(
        [
            keys[a] == keys[b] or (shas[a] is not None and shas[a] == shas[b])
            for a, b in zip(i, j, strict=True)
        ]
    )
    views = np.array(
        [
            objects[a] is not None and objects[a] == objects[b] and not s
            for a, b, s in zip(i, j, same, strict=True)
        ]
    )
    print(
        f"{len(scores)} pairs, {int(same.sum())} duplicate pairs, {int(views.sum())} pairs of "
        "different UKBench views of one object"
    )
    for title, keep in (
        ("all pairs", np.ones_like(same)),
        ("UKBench same-object views left out", ~views),
    ):
        s, pos = scores[keep], same[keep]
        print(title)
        for z in (4.5, 5.0, 6.0, 7.0):
            selected = s >= cal.duplicate_threshold(z)
            tp, fp = int((selected & pos).sum()), int((selected & ~pos).sum())
            print(
                f"  z {z:3.1f} (copy score {cal.duplicate_threshold(z):.3f}): precision "
                f"{tp / max(1, tp + fp):.4f}, recall {tp / max(1, pos.sum()):.3f}"
            )
        order = np.argsort(-s)
        precision = np.cumsum(pos[order]) / np.arange(1, len(s) + 1)
        reach = np.flatnonzero(precision >= 0.99)
        if len(reach):
            at = float(s[order][reach.max()])
            print(
                f"  precision >= 0.99 down to copy score {at:.3f} (z "
                f"{float(cal.duplicate_z(at)):.2f}), recall "
                f"{np.cumsum(pos[order])[reach.max()] / pos.sum():.3f}"
            )


if __name__ == "__main__":
    main()
