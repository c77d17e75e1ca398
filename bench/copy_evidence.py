"""Two-space copy evidence as a likelihood ratio, measured on the engine's own candidates
(issue 16; a negative result: see bench/README.md).

    python bench/copy_evidence.py [--sets holdout-photos-30,...] [--keep DIR] [--why stickers]

Each set is indexed into a real library (as ``bench/quality.py --library default``) and every
file is searched through the engine; for each query the candidates the scorer ranked are
recorded (ids, copy score after the expansion, the copy tier's ``reached``, label similarity,
rank score). The positives' distribution in each space comes from the whitening's own kind
of training pairs (a seeded sample of the library's photos, ``photo_edits`` as the index run
makes them, ``edits_per_image`` of them each): their cosine in the library's space and in the
model's own (plain) space. The background: the library's calibration (library space) and
20 000 random pairs of stored raw vectors (plain space). Each distribution is a Gaussian of
robust centre and width (median, 1.4826 x MAD: the random pairs' heavy tail - copies among
them - does not count), and a candidate's evidence per space is log P(score | copy) -
log P(score | background).

The candidates are then re-ranked offline (the same hits, the same copy scores; only the
order moves) and scored with the evaluation's metrics (per edit kind next to plain, the
plain embedding's exact ranking of the raw vectors):

  engine     the engine's own order (checks the replay: equals bench/quality.py's figures)
  tier-sum   inside the copy tier, by the sum of both spaces' evidence (independence)
  tier-max   inside the copy tier, by the stronger evidence
  all-lib    every candidate by the library space's evidence alone (no labels, no tier)
  all-sum    every candidate by the sum
  all-max    every candidate by the stronger

``--why KIND``: for each query copy of edit KIND, its original against the best candidate
that is a KIND copy of *another* original: library-space robust z and plain cosine of both
(medians) and how often the other one scores above the original in each space.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality import truth_for  # noqa: E402
from cli.eval_library import LIBRARY_DEPTH, evaluate_library  # noqa: E402
from indexer.whiten import DEFAULT_SAMPLE, edits_per_image  # noqa: E402
from models import OnnxModel, locate_model  # noqa: E402
from search.descriptor import (  # noqa: E402
    Descriptor,
    QueryScorer,
    edit_side,
    photo_edits,
    sample_indices,
)
from search.evaluation import (  # noqa: E402
    Evaluation,
    GroundTruth,
    Scores,
    evaluate_scores,
    ranking_depth,
)
from search.query import SearchEngine  # noqa: E402
from search.settings import Settings  # noqa: E402

SETS = "holdout-photos-30,holdout-photos-50,holdout-scenes-30,holdout-scenes-50"
VARIANTS = ("engine", "tier-sum", "tier-max", "all-lib", "all-sum", "all-max")
Record = dict[str, np.ndarray]


def record_searches(settings: Settings, truth: GroundTruth) -> tuple[dict[str, Record], Evaluation]:
    """Index and search ``truth`` through the engine, keeping each query's scored candidates."""
    records: dict[str, Record] = {}
    current: list[str] = [""]
    search_image, expand = SearchEngine.search_image, QueryScorer._expand
    rank_scores = Descriptor.rank_scores

    def searching(self, path, *args, **kwargs):  # type: ignore[no-untyped-def]
        current[0] = str(path)
        return search_image(self, path, *args, **kwargs)

    def expanding(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = expand(self, *args, **kwargs)
        records[current[0]] = {"ids": np.asarray(out[1], np.int64)}
        return out

    def ranking(self, copy, labels, reached=None):  # type: ignore[no-untyped-def]
        rank = rank_scores(self, copy, labels, reached)
        records.setdefault(current[0], {}).update(
            copy=np.asarray(copy, np.float64),
            labels=np.zeros(len(copy)) if labels is None else np.asarray(labels),
            reached=np.asarray(copy if reached is None else reached, np.float64),
            rank=np.asarray(rank, np.float64),
        )
        return rank

    SearchEngine.search_image = searching  # type: ignore[method-assign]
    QueryScorer._expand = expanding  # type: ignore[method-assign]
    Descriptor.rank_scores = ranking  # type: ignore[method-assign]
    try:
        ev, _ = evaluate_library(settings, truth, library=settings.library, descriptor="default")
    finally:
        SearchEngine.search_image = search_image  # type: ignore[method-assign]
        QueryScorer._expand = expand  # type: ignore[method-assign]
        Descriptor.rank_scores = rank_scores  # type: ignore[method-assign]
    return records, ev


def robust(values: np.ndarray) -> tuple[float, float]:
    median = float(np.median(values))
    return median, max(1e-3, 1.4826 * float(np.median(np.abs(values - median))))


def log_ratio(x: np.ndarray, positive: tuple[float, float], background: tuple[float, float]):
    """log N(x; positive) - log N(x; background), each (centre, width)."""
    (mp, sp), (mb, sb) = positive, background
    return -0.5 * ((x - mp) / sp) ** 2 - np.log(sp) + 0.5 * ((x - mb) / sb) ** 2 + np.log(sb)


def space_models(
    model: OnnxModel, descriptor: Descriptor, paths: list[Path], vectors: np.ndarray
) -> dict[str, tuple[tuple[float, float], tuple[float, float]]]:
    """(positives, background) per space from the whitening's kind of (photo, edit) pairs."""
    chosen = sample_indices(len(paths), DEFAULT_SAMPLE, 0)
    per = edits_per_image(len(paths), len(chosen))
    side = edit_side(model.input_size, model.spec.crop_fraction)
    anchors, edits = [], []
    for place, i in enumerate(chosen):
        views = photo_edits(model.load(paths[int(i)]).image, per, seed=0, place=place, side=side)
        edits.append(model.embed_images(views))
        anchors += [vectors[int(i)]] * len(views)
    a, e = np.stack(anchors), np.concatenate(edits)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(vectors), 20_000), rng.integers(0, len(vectors), 20_000)
    keep = i != j
    cal = descriptor.calibration
    assert cal is not None
    return {
        "library": (
            robust((descriptor.transform(a) * descriptor.transform(e)).sum(1)),
            (cal.median, cal.spread),
        ),
        "plain": (robust((a * e).sum(1)), robust((vectors[i[keep]] * vectors[j[keep]]).sum(1))),
    }


def reranker(variant: str, descriptor: Descriptor, models, plain_of) -> Callable[..., np.ndarray]:
    """The rank scores of one query's candidates under ``variant`` (module doc)."""

    def order(query: str, rec: Record) -> np.ndarray:
        if variant == "engine":
            return rec["rank"]
        lib = log_ratio(rec["copy"], *models["library"])
        plain = log_ratio(plain_of(query, rec["ids"]), *models["plain"])
        evidence = {"lib": lib, "sum": lib + plain, "max": np.maximum(lib, plain)}
        e = evidence[variant.split("-")[1]]
        if variant.startswith("all-"):
            return e
        tier = descriptor.copy_tier(rec["copy"], rec["reached"]) >= 0.5
        out = rec["rank"].copy()
        out[tier] = 10.0 + np.argsort(np.argsort(e[tier]))  # above the rest, by evidence
        return out

    return order


def evaluate(truth, records, ids, threshold, order) -> Evaluation:  # type: ignore[no-untyped-def]
    """The evaluation's metrics of the recorded candidates in ``order`` (as cli.eval_library)."""
    paths = [str(p) for p in truth.paths()]
    position = {ids[p]: n for n, p in enumerate(paths) if p in ids}
    n = len(paths)
    depth = ranking_depth(n, LIBRARY_DEPTH, truth)
    rank_scores = np.full((n, depth), -np.inf, np.float32)
    rank_idx = np.full((n, depth), -1, np.int64)
    copy: dict[tuple[int, int], float] = {}
    for a, path in enumerate(paths):
        rec = records.get(path)
        if rec is None:
            continue
        rank, cand = order(path, rec), rec["ids"]
        best = sorted(range(len(cand)), key=lambda m: (-float(rank[m]), int(cand[m])))
        hits = [m for m in best[: depth + 1] if position.get(int(cand[m]), a) != a][:depth]
        for col, m in enumerate(hits):
            b = position[int(cand[m])]
            rank_idx[a, col], rank_scores[a, col] = b, rank[m]
            key = (min(a, b), max(a, b))
            copy[key] = max(copy.get(key, -np.inf), float(rec["copy"][m]))
    pairs = np.array(sorted(copy), np.int64).reshape(-1, 2)
    s = np.array([copy[(int(i), int(j))] for i, j in pairs], np.float64)
    scored = Scores(rank_scores, rank_idx, pairs[:, 0], pairs[:, 1], s, lambda a, b: -1.0)
    return evaluate_scores(list(truth.files), scored, truth, threshold)


def plain_evaluation(truth: GroundTruth, vectors: np.ndarray) -> Evaluation:
    """The plain embedding: every file ranked by the cosine of the raw vectors."""
    sim = vectors @ vectors.T
    np.fill_diagonal(sim, -np.inf)
    n = len(vectors)
    depth = ranking_depth(n, LIBRARY_DEPTH, truth)
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :depth]
    i, j = np.triu_indices(n, 1)
    scored = Scores(
        np.take_along_axis(sim, idx, 1).astype(np.float32),
        idx,
        i,
        j,
        sim[i, j].astype(np.float64),
        lambda a, b: float(sim[a, b]),
    )
    return evaluate_scores(list(truth.files), scored, truth, 0.6)


def why(kind: str, truth: GroundTruth, records, ids, raw, descriptor: Descriptor) -> None:  # type: ignore[no-untyped-def]
    """The ``--why`` diagnosis (module doc)."""
    cal = descriptor.calibration
    assert cal is not None
    name_of = {ids[str(p)]: f for p, f in zip(truth.paths(), truth.files, strict=True)}
    rows = []
    for path, name in zip(truth.paths(), truth.files, strict=True):
        rec = records.get(str(path))
        if truth.edit_of(name) != kind or rec is None:
            continue
        original = truth.originals[name]
        cand = [name_of.get(int(i)) for i in rec["ids"]]
        own = [m for m, f in enumerate(cand) if f == original]
        other = [
            m
            for m, f in enumerate(cand)
            if f and truth.edit_of(f) == kind and truth.originals.get(f) != original
        ]
        if not own or not other:
            continue
        o, b = own[0], max(other, key=lambda m: rec["copy"][m])
        q = raw[ids[str(path)]]
        plain = [float(q @ raw[int(rec["ids"][m])]) for m in (o, b)]
        rows.append([float(cal.z(rec["copy"][o])), float(cal.z(rec["copy"][b])), *plain])
    if not rows:
        print(f"   why {kind}: no query has both its original and another's {kind} copy")
        return
    r = np.array(rows)
    print(
        f"   why {kind}: {len(r)} queries; library z original {np.median(r[:, 0]):.2f}, "
        f"other original's {kind} copy {np.median(r[:, 1]):.2f}, other above in "
        f"{int((r[:, 1] > r[:, 0]).sum())}; plain cosine original {np.median(r[:, 2]):.3f}, "
        f"other {np.median(r[:, 3]):.3f}, other above in {int((r[:, 3] > r[:, 2]).sum())}"
    )


def run_set(name: str, settings: Settings, model: OnnxModel, data: Path, kind: str) -> None:
    truth = truth_for(name, data)
    records, engine_ev = record_searches(settings, truth)
    with SearchEngine.open(settings) as engine:
        descriptor = engine.library.descriptor()
        ids = {str(p): engine.records.image_id_for(p) for p in truth.paths()}
        rows = engine.store.descriptors.rows(list(ids.values()), labels=False)
    raw = {i: r.vector for i, r in rows.items()}
    paths = [p for p in truth.paths() if ids[str(p)] in raw]
    vectors = np.stack([raw[ids[str(p)]] for p in paths])
    models = space_models(model, descriptor, paths, vectors)

    def plain_of(query: str, cand: np.ndarray) -> np.ndarray:
        q = raw[ids[query]]
        return np.array([float(q @ raw[int(c)]) if int(c) in raw else -1.0 for c in cand])

    threshold = descriptor.calibration.duplicate_threshold()  # type: ignore[union-attr]
    evs = {
        v: evaluate(truth, records, ids, threshold, reranker(v, descriptor, models, plain_of))
        for v in VARIANTS
    }
    plain = plain_evaluation(truth, vectors)
    print(f"\n== {name} ({len(paths)} files; {os.getloadavg()[0]:.1f} load)")
    print("   models (centre, width): " + "; ".join(f"{k} {v}" for k, v in models.items()))
    print(f"   engine's own run: recall@1 {engine_ev.metrics['recall@1']:.3f}")
    keys = ("recall@1", "recall@1_neutral", "map", "pair_ap", "recall_at_p99_neutral")
    print(f"   {'':<12}" + "".join(f"{k:>22}" for k in keys) + "   edit kinds below plain")
    for v, ev in [("plain", plain), *evs.items()]:
        below = [
            k
            for k, m in ev.per_edit.items()
            if v != "plain" and m["recall@1"] < plain.per_edit[k]["recall@1"] - 1e-9
        ]
        cells = "".join(f"{ev.metrics.get(k, float('nan')):22.3f}" for k in keys)
        print(f"   {v:<12}{cells}   {len(below)}: {', '.join(below)}")
    print(f"   {'edit kind (n)':<22}" + "".join(f"{v:>10}" for v in ("plain", *VARIANTS)))
    for edit, m in plain.per_edit.items():
        cells = "".join(f"{evs[v].per_edit[edit]['recall@1']:10.3f}" for v in VARIANTS)
        print(f"   {edit + ' (' + str(m['n']) + ')':<22}{m['recall@1']:10.3f}{cells}")
    if kind:
        why(kind, truth, records, ids, raw, descriptor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=SETS)
    parser.add_argument("--keep", type=Path, help="keep the libraries here (re-runs reuse them)")
    parser.add_argument("--model-path", default=str(ROOT.parent / "shared" / "models"))
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--why", default="", help="an edit kind to diagnose (module doc)")
    args = parser.parse_args()
    base = Settings(model_path=tuple(Path(p) for p in args.model_path.split(os.pathsep)))
    model = OnnxModel(locate_model("mobilenet_v3_small_100", base.model_path))
    with tempfile.TemporaryDirectory(prefix="imgsearch-evidence-") as tmp:
        for name in args.sets.split(","):
            library = (args.keep or Path(tmp)) / name
            run_set(name, replace(base, library=library), model, args.data, args.why)


if __name__ == "__main__":
    main()
