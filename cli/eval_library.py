"""``imgsearch eval run FOLDER --descriptor library``: measure the real library path.

The ground truth's files are indexed into a fresh library (in a temporary folder, or
``--library`` when given: it must be new or hold exactly those files) exactly as
``imgsearch index`` would (framed photos, whitening learned from 100 images up, calibration),
then every file is searched with :meth:`search.query.engine.SearchEngine.search_image` - the code
the CLI, the web UI and the API run - or looked up (``via="lookup"``: the reverse lookup of
``imgsearch lookup``, the lookup page and ``/api/v1/lookup``, its rows in its order: exact,
near, then the others). Rankings come from the hits' rank scores, pairs from their copy
scores (the best of both directions; pairs outside each other's top ``depth`` count as not
found).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from indexer.run import IndexOptions, index_collections
from models import ImgsearchError
from search.evaluation import (
    Evaluation,
    GroundTruth,
    Scores,
    TruthError,
    evaluate_scores,
    ranking_depth,
)
from search.library import Library
from search.query import SearchEngine, SearchHit, lookup
from search.settings import Settings

LIBRARY_DEPTH = 100  # hits per query (rankings and candidate pairs)


def evaluate_library(
    settings: Settings,
    truth: GroundTruth,
    *,
    library: Path | None = None,
    threshold: float | None = None,
    descriptor: str | None = None,
    progress: Callable[[str], None] | None = None,
    via: str = "search",
) -> tuple[Evaluation, dict[str, Any]]:
    """Index ``truth``'s files into a library and evaluate its searches, or its lookups
    (``via``; module doc)."""
    if via not in VIA:
        raise ValueError(f"via must be one of {', '.join(VIA)}, got {via!r}")
    say = progress or (lambda _msg: None)
    truth.check_files()
    paths = truth.paths()
    with tempfile.TemporaryDirectory(prefix="imgsearch-eval-") as tmp:
        settings = replace(
            settings,
            library=library or Path(tmp) / "library",
            descriptor=descriptor or settings.descriptor,
        )
        roots = sorted({p.parent for p in paths})
        say(f"indexing {len(paths)} files into {settings.library}")
        with Library.open(settings, create=True) as lib:
            model = lib.load_model(settings.model, bind=True)
            summary = index_collections(lib, model, IndexOptions(paths=roots, progress=False))
        with SearchEngine.open(settings) as engine:
            ask = VIA[via](engine)
            ev, details = _search_all(engine, truth, paths, threshold, summary.to_json(), say, ask)
        return ev, {"model": model.name, **details}


def _searched(engine: SearchEngine) -> Callable[[Path, int], list[SearchHit]]:
    return lambda path, k: engine.search_image(path, k=k)


def _looked_up(engine: SearchEngine) -> Callable[[Path, int], list[SearchHit]]:
    def ask(path: Path, k: int) -> list[SearchHit]:
        return [m.hit for m in lookup(engine, path, k=k, others=k).matches][:k]

    return ask


VIA = {"search": _searched, "lookup": _looked_up}  # how each file is asked


def _search_all(
    engine: SearchEngine,
    truth: GroundTruth,
    paths: list[Path],
    threshold: float | None,
    indexed: dict[str, Any],
    say: Callable[[str], None],
    ask: Callable[[Path, int], list[SearchHit]],
) -> tuple[Evaluation, dict[str, Any]]:
    position: dict[int, int] = {}  # library image id -> file number
    for number, path in enumerate(paths):
        with contextlib.suppress(ImgsearchError):  # a file the index run could not store
            position[engine.records.image_id_for(path)] = number
    n = len(paths)
    if n < 2:
        raise TruthError(f"{truth.name}: fewer than 2 files could be evaluated")
    depth = ranking_depth(n, LIBRARY_DEPTH, truth)
    rank_scores = np.full((n, depth), -np.inf, np.float32)
    rank_idx = np.full((n, depth), -1, np.int64)
    copy: dict[tuple[int, int], float] = {}
    flagged: dict[tuple[int, int], bool] = {}  # the engine's duplicate decision, either way
    directed: set[tuple[int, int]] = set()  # (query, hit) flagged, as that search showed it
    say(f"searching the library with each of the {n} files")
    started = time.perf_counter()
    latencies, missing = [], []
    per_file: list[float | None] = [None] * n  # seconds per query, by file
    checked: list[int] = []  # files whose query ran the local check (verify=on)
    for a, path in enumerate(paths):
        t0 = time.perf_counter()
        before = engine.local.stats.queries
        try:
            hits = ask(path, depth + 1)
        except ImgsearchError:  # undecodable: recorded as failed by the index run too
            missing.append(truth.files[a])
            continue
        latencies.append(time.perf_counter() - t0)
        per_file[a] = latencies[-1]
        if engine.local.stats.queries > before:
            checked.append(a)
        hits = [h for h in hits if position.get(h.id, a) != a][:depth]
        for col, hit in enumerate(hits):
            b = position[hit.id]
            rank_idx[a, col], rank_scores[a, col] = b, hit.score
            key = (min(a, b), max(a, b))
            score = hit.copy_score if hit.copy_score is not None else hit.score
            copy[key] = max(copy.get(key, -np.inf), score)
            flagged[key] = flagged.get(key, False) or hit.duplicate
            if hit.duplicate:
                directed.add((a, b))
    # the files searched are those evaluated, as in the other modes: one that failed is
    # listed as missing, a copy of it a miss; it was a query of its own ranking nothing
    # (mAP), a file of "files" and a cosine of -1 to its original
    kept = [a for a in range(n) if per_file[a] is not None]
    if len(kept) < 2:
        raise TruthError(f"{truth.name}: fewer than 2 files could be evaluated")
    new = np.full(n + 1, -1, np.int64)  # old file number -> evaluated number (-1 stays -1)
    new[kept] = np.arange(len(kept))
    depth = ranking_depth(len(kept), LIBRARY_DEPTH, truth)
    rank_scores, rank_idx = rank_scores[kept, :depth], new[rank_idx[kept, :depth]]
    old = np.array(kept, np.int64)
    pairs = np.array(sorted(copy), np.int64).reshape(-1, 2)
    pairs = pairs[(new[pairs] >= 0).all(axis=1)]
    # float64, as the engine gave them: a copy score at the threshold stays at it
    scores = np.array([copy[(int(i), int(j))] for i, j in pairs], np.float64)
    descriptor = engine.library.descriptor()
    cal = descriptor.calibration
    decided = None  # a given threshold decides, else the engine's calibrated flags
    if threshold is None and cal is not None:
        threshold = cal.duplicate_threshold()
        decided = np.array([flagged[(int(i), int(j))] for i, j in pairs], bool)
    scored = Scores(
        rank_scores,
        rank_idx,
        new[pairs[:, 0]],
        new[pairs[:, 1]],
        scores,
        lambda a, b: copy.get((min(old[a], old[b]), max(old[a], old[b])), -1.0),
        decided,
    )
    names = [truth.files[a] for a in kept]
    ev = evaluate_scores(names, scored, truth, threshold, missing=missing)
    details = {
        "descriptor": descriptor.config.describe(),
        "whitening": None
        if descriptor.whitening is None
        else {
            "pairs": descriptor.whitening.pairs,
            "images": descriptor.whitening.images,
            "dimension": descriptor.whitening.dimension,
        },
        "whitening_note": indexed.get("whitening", ""),
        "calibration": {}
        if cal is None
        else {
            "median": round(cal.median, 4),
            "spread": round(cal.spread, 4),
            "mean": round(cal.mean, 4),
            "sd": round(cal.sd, 4),
        },
        "indexing": {k: indexed[k] for k in ("added", "failed", "seconds", "images_per_second")},
        "query_ms": {
            "p50": round(1000 * float(np.percentile(latencies, 50)), 1),
            "p90": round(1000 * float(np.percentile(latencies, 90)), 1),
        },
        "seconds": {"search": round(time.perf_counter() - started, 2)},
        "query_seconds": per_file,
        "local_check": {**asdict(engine.local.stats), "checked_queries": checked},
        "flags_per_query": flags_per_query(truth, kept, directed),
    }
    return ev, details


def flags_per_query(truth: GroundTruth, kept: list[int], directed: set[tuple[int, int]]) -> dict:
    """The `duplicate` flags as each search showed them (query -> hit; the pair counts count a
    pair flagged either way round): of the true (query, copy) pairs, those flagged, in all and
    by the query's edit (``by_edit``: an original as "original", two or more edits as "combo
    of N"); and the flags on other photos, strict and less the same object's other photos
    (neutral)."""
    files = truth.files
    searched = set(kept)
    names = {files[b] for b in kept}
    shown: dict[int, set[str]] = {}
    for a, b in directed:
        if a in searched and b in searched:
            shown.setdefault(a, set()).add(files[b])
    by_edit: dict[str, list[int]] = {}  # edit -> [flagged, true pairs]
    wrong = wrong_neutral = 0
    for a in kept:
        query, copies = files[a], truth.relevant(files[a]) & names
        hits = shown.get(a, set())
        if copies:
            edit = truth.edit_of(query) or "original"
            edit = edit if "+" not in edit else f"combo of {edit.count('+') + 1}"
            counts = by_edit.setdefault(edit, [0, 0])
            counts[0] += len(hits & copies)
            counts[1] += len(copies)
        others = hits - copies
        wrong += len(others)
        wrong_neutral += sum(not truth.is_neutral(query, h) for h in others)
    return {
        "true_pairs": sum(t for _, t in by_edit.values()),
        "flagged": sum(f for f, _ in by_edit.values()),
        "wrong": wrong,
        "wrong_neutral": wrong_neutral,
        "by_edit": {
            edit: {"flagged": f, "true_pairs": t} for edit, (f, t) in sorted(by_edit.items())
        },
    }
