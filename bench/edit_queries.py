"""Edited copies as queries against a library of originals: the issue 16 protocol.

    python bench/edit_queries.py [--sets photos-120,scenes-50,scenes-450]
                                 [--configs 'plain;default;default,verify=on'] [--every 1]
                                 [--indexed-edits 3]

``bench/quality.py --library`` indexes a whole copy set (originals *and* their edits) and
searches with every file. A user's reverse lookup is the other way round, and so is the
issue's hold-out: the library holds the originals (plus unrelated photos, other views of the
same objects and burst shots), and edited copies that were never indexed are uploaded as
queries. This bench does exactly that for the hold-out sets of ``bench/holdout.py`` (``POOL-N``:
N originals; made under /tmp when missing), one fresh library per descriptor configuration,
every query through :meth:`search.query.SearchEngine.search_image` (the code the API runs),
k = 20, and prints per configuration:

* recall@1, strict (the first hit must be the query's original) and same-object neutral
  (hits that are other photos of the original's object or scene - UKBench views, burst shots
  - are skipped);
* recall at 99 % precision: the queries' first hits ranked by copy score, the largest share
  of queries whose first hit is the original with at most 1 % wrong first hits above it;
* the ``duplicate`` flag: precision over every flagged hit, recall over queries (is the
  original flagged?), strict and neutral;
* query latency p50 / p99 (in process; the model, FAISS and BLAS in one thread, as served);
* per edit kind recall@1 (strict / neutral), '<' where a configuration is below plain
  (the first configuration) by either count.

With ``--indexed-edits N`` the library also holds N edits of each original (sibling copies),
the other edits are the queries, and a hit of the query's picture - its original or a
sibling - is a right answer (first hit, flags; the flag's recall still asks for the
original): a library that already holds copies of a picture, queried with another one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.holdout import check_sets, holdout_options, holdout_set, one_thread  # noqa: E402
from indexer.run import IndexOptions, index_collections  # noqa: E402
from search.evaluation import GroundTruth, load_truth  # noqa: E402
from search.library import Library  # noqa: E402
from search.query import SearchEngine  # noqa: E402
from search.settings import Settings  # noqa: E402

K = 20


@dataclass
class Outcome:
    """One configuration's answers: per query, what its first hits were."""

    kinds: list[str] = field(default_factory=list)
    first_strict: list[bool] = field(default_factory=list)  # first hit is the original
    first_neutral: list[bool | None] = field(default_factory=list)  # None: nothing left
    first_score: list[float] = field(default_factory=list)  # copy score of the first hit
    flagged_right: int = 0  # flagged hits that are the original
    flagged_neutral: int = 0  # flagged hits of the original's object (another photo)
    flagged_wrong: int = 0
    original_flagged: int = 0
    ms: list[float] = field(default_factory=list)
    hit_z: list[tuple[float, int, int]] = field(default_factory=list)  # (z, query, 1/0/-1)
    whitening: str = ""


def kind_of(truth: GroundTruth, name: str) -> str:
    edit = (truth.edit_of(name) or "?").rsplit("-", 1)[0]
    return "combination" if "+" in edit else edit


def library_files(truth: GroundTruth, indexed_edits: int = 0) -> tuple[list[str], list[str]]:
    """(files the library holds, edited copies to query with); ``indexed_edits``: that many
    edits of each original (drawn at random, seed 0) are indexed beside it and not queried,
    so a query's right answers are its original *and* those sibling copies."""
    copies = [f for f in truth.files if f in truth.originals]
    stored = [f for f in truth.files if f not in truth.originals]
    if indexed_edits:
        by_original: dict[str, list[str]] = {}
        for f in copies:
            by_original.setdefault(truth.originals[f], []).append(f)
        rng = np.random.default_rng(0)
        chosen = {
            f
            for group in by_original.values()
            for f in rng.permutation(sorted(group))[:indexed_edits].tolist()
        }
        stored += sorted(chosen)
        copies = [f for f in copies if f not in chosen]
    return stored, copies


def run_config(
    truth: GroundTruth,
    models: tuple[Path, ...],
    config: str,
    every: int,
    work: Path,
    indexed_edits: int = 0,
) -> Outcome:
    stored, copies = library_files(truth, indexed_edits)
    folder = work / "photos"
    if not folder.exists():  # one folder of the library's files, shared by every config
        folder.mkdir(parents=True)
        for name in stored:
            os.link(truth.root / name, folder / Path(name).name)
    library = work / f"library-{config.replace(',', '_').replace('=', '-')}"
    settings = Settings(library=library, model_path=models, descriptor=config, threads=1)
    with Library.open(settings, create=True) as lib:
        model = lib.load_model(settings.model, bind=True)
        summary = index_collections(lib, model, IndexOptions(paths=[folder], progress=False))
    out = Outcome(whitening=str(summary.to_json().get("whitening", "")))
    with SearchEngine.open(settings) as engine:
        name_of = {engine.records.image_id_for(folder / Path(n).name): n for n in stored}
        picked = np.random.default_rng(0).permutation(len(copies))[: len(copies) // every]
        for query in [copies[i] for i in sorted(picked.tolist())]:  # every kind alike
            original = truth.originals[query]
            picture = {original, *(f for f in stored if truth.originals.get(f) == original)}
            t0 = time.perf_counter()
            hits = engine.search_image(truth.root / query, k=K)
            out.ms.append(1000 * (time.perf_counter() - t0))
            names = [name_of.get(h.id, "") for h in hits]
            out.kinds.append(kind_of(truth, query))
            out.first_strict.append(bool(names) and names[0] in picture)
            rest = [n for n in names if n in picture or not truth.is_neutral(original, n)]
            out.first_neutral.append(rest[0] in picture if rest else None)
            first = hits[0] if hits else None
            score = first.copy_score if first and first.copy_score is not None else -1.0
            out.first_score.append(score if first else -1.0)
            for hit, name in zip(hits, names, strict=True):
                what = (
                    1 if name in picture else 0 if name and truth.is_neutral(original, name) else -1
                )
                if hit.z is not None:
                    out.hit_z.append((hit.z, len(out.ms) - 1, what))
                if not hit.duplicate:
                    continue
                if name in picture:
                    out.flagged_right += 1
                    out.original_flagged += name == original
                elif name and truth.is_neutral(original, name):
                    out.flagged_neutral += 1
                else:
                    out.flagged_wrong += 1
    return out


def run_configs(
    spec: str,
    truth: GroundTruth,
    configs: list[str],
    model_path: Path,
    every: int,
    indexed_edits: int = 0,
) -> dict[str, Outcome]:
    """:func:`run_config` for each configuration, in one scratch folder, each timed."""
    work = Path(tempfile.mkdtemp(prefix="imgsearch-editq-"))
    outcomes: dict[str, Outcome] = {}
    try:
        for config in configs:
            t0 = time.perf_counter()
            outcomes[config] = run_config(truth, (model_path,), config, every, work, indexed_edits)
            print(
                f"{spec} {config}: {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return outcomes


def recall_at_precision(right: list[bool | None], score: list[float], p: float = 0.99) -> float:
    """Largest share of all queries answered right above a score cut with precision >= p
    (neutral first hits, None, count neither way)."""
    order = np.argsort(-np.asarray(score), kind="stable")
    good = bad = 0
    best = 0
    for i in order:
        if right[i] is None:
            continue
        good, bad = good + bool(right[i]), bad + (not right[i])
        if good / (good + bad) >= p:
            best = max(best, good)
    return best / len(right)


def summary_row(o: Outcome) -> dict[str, float]:
    n = len(o.first_strict)
    neutral = [r for r in o.first_neutral if r is not None]
    flagged = o.flagged_right + o.flagged_wrong
    return {
        "R@1 strict": sum(o.first_strict) / n,
        "R@1 neutral": sum(neutral) / max(1, len(neutral)),
        "r@P99 strict": recall_at_precision(list(o.first_strict), o.first_score),
        "r@P99 neutral": recall_at_precision(o.first_neutral, o.first_score),
        "dup P strict": o.flagged_right / max(1, flagged + o.flagged_neutral),
        "dup P neutral": o.flagged_right / max(1, flagged),
        "dup R": o.original_flagged / n,
        "p50 ms": float(np.percentile(o.ms, 50)),
        "p99 ms": float(np.percentile(o.ms, 99)),
    }


def print_z_sweep(config: str, o: Outcome) -> None:
    """The `duplicate` flag if it were set at other z: precision (strict / neutral), recall."""
    if not o.hit_z:
        return
    z = np.array([h[0] for h in o.hit_z])
    query = np.array([h[1] for h in o.hit_z])
    what = np.array([h[2] for h in o.hit_z])
    cells = []
    for t in (3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0):
        up = z >= t
        right, neutral, wrong = (int(np.sum(up & (what == v))) for v in (1, 0, -1))
        recall = len(set(query[up & (what == 1)].tolist())) / len(o.ms)
        strict = right / max(1, right + neutral + wrong)
        cells.append(f"z>={t:g}: {strict:.3f}/{right / max(1, right + wrong):.3f}, {recall:.3f}")
    print(f"  {config}: flag at " + "; ".join(cells))


def print_tables(name: str, outcomes: dict[str, Outcome], files: int) -> None:
    configs = list(outcomes)
    first = outcomes[configs[0]]
    print(f"\n{name}: library of {files} files, {len(first.kinds)} edited copies as queries")
    rows = {c: summary_row(o) for c, o in outcomes.items()}
    keys = list(rows[configs[0]])
    print(f"{'configuration':<22}" + "".join(f"{k:>14}" for k in keys))
    for c in configs:
        print(
            f"{c:<22}"
            + "".join(f"{rows[c][k]:>14.3f}" for k in keys)
            + f"  {outcomes[c].whitening}"
        )
    for c in configs:
        print_z_sweep(c, outcomes[c])
    kinds = sorted(set(first.kinds))
    print(
        f"\n{'recall@1 per kind, strict / neutral':<36}{'n':>5}"
        + "".join(f"{c[:22]:>24}" for c in configs)
    )
    for kind in kinds:
        cells, base = "", None
        for c in configs:
            o = outcomes[c]
            mine = [i for i, k in enumerate(o.kinds) if k == kind]
            strict = sum(o.first_strict[i] for i in mine) / len(mine)
            judged = [o.first_neutral[i] for i in mine if o.first_neutral[i] is not None]
            neutral = sum(judged) / max(1, len(judged))
            base = (strict, neutral) if base is None else base
            worse = strict < base[0] - 1e-9 or neutral < base[1] - 1e-9
            cells += f"{strict:>15.3f} / {neutral:.3f}{'<' if worse else ' '}"
        print(f"{kind:<36}{first.kinds.count(kind):>5}{cells}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sets", default="photos-120,scenes-50,scenes-450")
    ap.add_argument("--configs", default="plain;default;default,verify=on")
    ap.add_argument(
        "--every", type=int, default=0, help="query one copy in n, drawn at random (0: by size)"
    )
    ap.add_argument(
        "--indexed-edits",
        type=int,
        default=0,
        help="index this many edits of each original beside it (right answers too), query "
        "with the rest",
    )
    holdout_options(ap)
    args = ap.parse_args()
    sets = check_sets(ap, args.sets)
    one_thread()
    for spec, (pool, size) in zip(args.sets.split(","), sets, strict=True):
        truth = load_truth(holdout_set(pool, size, args.seed, args.data))
        every = args.every or (1 if size <= 200 else 2)
        outcomes = run_configs(
            spec, truth, args.configs.split(";"), args.model_path, every, args.indexed_edits
        )
        print_tables(spec, outcomes, len(library_files(truth, args.indexed_edits)[0]))


if __name__ == "__main__":
    main()
