"""Retrieval quality of each descriptor option, and what it costs (issue 6, second half).

    python bench/quality.py [--sets dev0,dev1,ukbench,hymenoptera,near_duplicates]
                            [--verify] [--skip-quality] [--skip-cost]
    python bench/quality.py --sets holdout-photos-30,holdout-scenes-50 --library plain,default
    python bench/quality.py --sets holdout-photos-30 --library 'plain;default;default,verify=on'
    python bench/quality.py --sets dev0,holdout-photos-50 --library default --upright-first
    python bench/quality.py --sets holdout-scenes-30 --library default --lookup

Sets: ``dev0``/``dev1`` (the tuning sets), ``dev0s`` (a small dev library, 30 x 10 edits),
``holdout-POOL-N`` (the independent sets of ``bench/holdout.py``: never tuned on), the shared
sets. Copy sets get a per-edit recall@1 table of every configuration next to plain ('<' marks
an edit kind where a configuration loses to plain). Through libraries (``--library``) each
run also prints the `duplicate` flags as each search showed them (query -> hit; the pair
columns count a pair flagged either way round), ``--upright-first`` searches as
``IMGSEARCH_UPRIGHT_FIRST=1`` serves them, and ``--lookup`` also looks every file up in the same
library (``imgsearch lookup``: its exact and near rows are the flags).

Quality: every set is described once (all query views, frames), the whitening is learned once
per set from edits of its own files (self-supervised, as a library of those files would),
then each configuration is scored - the same code as ``imgsearch eval --descriptor``:

  plain          one embedding, exact cosine (the baseline, measured in the same run)
  +frames        the photo found inside a screenshot / caption / padding frame
  +rotations     query turned by 0/90/180/270 degrees (and the frame's photo likewise)
  +whiten        learned whitening (libraries >= 500 images; smaller keep the plain space)
  +labels        rank score fused with top-5 label similarity
  +expand        duplicate-graph expansion through the 3 best sure copies = the default
  +verify        ORB + RANSAC confirmation of duplicate candidates (``--verify``; slow)

The dev sets are the hard copy sets of ``bench/copies.py`` (seed 0 and 1; built when missing).

Cost (2 decode threads + 1 ORT thread, the indexer's configuration): indexing img/s and CPU
ms/img on web-size photos (hymenoptera) with and without frame detection; bytes per image;
single-query latency (decode + views + whitening + scoring) plain vs default. Other people
share the CPU: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality_cost import cost, load_avg  # noqa: E402
from models import OnnxModel, locate_model  # noqa: E402
from search.descriptor import DescriptorConfig  # noqa: E402
from search.evaluation import (  # noqa: E402
    GroundTruth,
    TruthError,
    learn_set_whitening,
    load_truth,
    prepare_set,
    score_set,
)

CONFIGS = [
    ("plain", "plain"),
    ("+frames", "plain,frames=on"),
    ("+rotations", "plain,frames=on,rotations=4"),
    ("+whiten", "plain,frames=on,rotations=4,whiten=on"),
    ("+labels", "default,expand=0"),
    ("+expand (default)", "default"),
]
KEYS = [
    ("recall@1", "r@1"),
    ("recall_at_p99", "r@P99"),
    ("pair_precision", "dupP"),
    ("pair_recall", "dupR"),
    ("recall@1_neutral", "r@1n"),
    ("recall_at_p99_neutral", "r@P99n"),
    ("pair_precision_neutral", "dupPn"),
    ("pair_recall_neutral", "dupRn"),
    ("pair_ap", "pairAP"),
    ("precision@10", "P@10"),
    ("ns_score", "N-S"),
    ("map", "mAP"),
]


def dev_set(seed: int, data: Path) -> Path:
    """The hard copy dev set of ``bench/copies.py`` for ``seed`` (made when missing)."""
    out = Path("/tmp/imgsearch-copies-dev" + (f"-seed{seed}" if seed else ""))
    truth = out / "ground_truth.json"
    if not truth.is_file():
        from bench.copies import pick_originals
        from search.evaluation import make_copies

        print(f"making the dev set {out} (seed {seed})")
        make_copies(pick_originals(data, 60, seed), out, per_original=20, seed=seed, overwrite=True)
    return truth


def truth_for(name: str, data: Path) -> GroundTruth:
    if name.startswith("holdout-"):  # holdout-POOL-ORIGINALS[-SEED]: bench/holdout.py
        from bench.holdout import holdout_set

        _, pool, size, *seed = name.split("-")
        return load_truth(holdout_set(pool, int(size), int(seed[0]) if seed else 0, data))
    if name.startswith("dev") and name.endswith("s"):  # a small dev library: 30 x 10 edits
        from search.evaluation import make_copies

        seed = int(name[3:-1] or 0)
        out = Path(f"/tmp/imgsearch-copies-dev-small-seed{seed}")
        if not (out / "ground_truth.json").is_file():
            from bench.copies import pick_originals

            make_copies(pick_originals(data, 30, seed), out, per_original=10, seed=seed)
        return load_truth(out)
    if name.startswith("dev"):
        return load_truth(dev_set(int(name[3:] or 0), data))
    return load_truth(data / {"ukbench": "ukbench_subset"}.get(name, name))


def quality(model: OnnxModel, sets: list[str], data: Path, verify: bool) -> None:
    configs = CONFIGS + ([("+verify", "default,verify=on")] if verify else [])
    header = f"{'set':<20}{'configuration':<20}" + "".join(f"{k:>8}" for _, k in KEYS)
    rows = [header, "-" * len(header)]
    edit_tables: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for name in sets:
        truth = truth_for(name, data)
        t0 = time.perf_counter()
        prepared = prepare_set(truth, model)
        t1 = time.perf_counter()
        whitening, note = learn_set_whitening(prepared, model)
        t2 = time.perf_counter()
        print(
            f"\n{name}: {len(prepared.files)} files; views {t1 - t0:.1f} s; whitening "
            f"{'learned' if whitening else note} in {t2 - t1:.1f} s; {load_avg()}"
        )
        for label, text in configs:
            config = DescriptorConfig.parse(text)
            ev, run = score_set(prepared, config, whitening)
            cells = "".join(
                f"{ev.metrics[k]:8.3f}" if k in ev.metrics else f"{'-':>8}" for k, _ in KEYS
            )
            rows.append(f"{name:<20}{label:<20}{cells}")
            if ev.per_edit:
                edit_tables.setdefault(name, {})[label] = ev.per_edit
            thr = ev.p99_threshold
            cal = run.calibration
            z = "-" if thr is None else f"{(thr - cal['mean']) / cal['sd']:.2f}"
            print(
                rows[-1] + f"   (P99 threshold {thr if thr is None else round(thr, 3)}, "
                f"duplicate z {z}; {run.seconds.get('scoring', 0):.1f} s)"
            )
    print("\n" + "\n".join(rows))
    for name, table in edit_tables.items():
        print_edit_table(name, table)


def print_edit_table(name: str, table: dict[str, dict[str, dict[str, float]]]) -> None:
    """Per-edit recall@1 of each configuration, strict / same-object neutral; '<' marks an
    edit kind below plain by the neutral count (the issue's), '.' below it by the strict count
    only (another photo of the query's object ranked first)."""
    labels = list(table)
    kinds = sorted({k for per in table.values() for k in per})
    print(
        f"\nper edit, {name}: recall@1 strict / neutral ('<' = below plain neutral, "
        "'.' = below plain strict only)"
    )
    print(f"{'edit':<28}{'n':>5}" + "".join(f"{lab[:16]:>18}" for lab in labels))
    nan = float("nan")
    for kind in kinds:
        ref = table.get("plain", table[labels[0]]).get(kind, {})  # the baseline: plain
        strict0, neutral0 = ref.get("recall@1", nan), ref.get("recall@1_neutral", nan)
        cells = ""
        for lab in labels:
            row = table[lab].get(kind, {})
            strict, neutral = row.get("recall@1", nan), row.get("recall@1_neutral", nan)
            mark = "<" if neutral < neutral0 - 1e-9 else "." if strict < strict0 - 1e-9 else " "
            cells += f"{strict:>9.3f} / {neutral:.3f}{mark}"
        print(f"{kind:<28}{ref.get('n', 0):>5}{cells}")


def library_row(name: str, label: str, ev: Any, details: dict, files: int, started: float) -> str:
    """One library run's row of the closing table, printed with its whitening, latency and
    the `duplicate` flags as each query showed them (all, then by the query's edit)."""
    cells = "".join(f"{ev.metrics[k]:8.3f}" if k in ev.metrics else f"{'-':>8}" for k, _ in KEYS)
    row = f"{name:<20}{label:<20}{cells}"
    white = details["whitening"]
    print(
        row + f"   ({files} files; whitening "
        f"{'from ' + str(white['images']) + ' images' if white else 'none'}; "
        f"query p50 {details['query_ms']['p50']} ms; {time.perf_counter() - started:.0f} s; "
        f"{load_avg()})",
        flush=True,
    )
    flags = details["flags_per_query"]
    print(
        f"  {name} {label}: `duplicate` flags as each query showed them (query -> hit): "
        f"{flags['flagged']} of {flags['true_pairs']} true pairs "
        f"({flags['flagged'] / max(flags['true_pairs'], 1):.3f}), "
        f"wrong flags {flags['wrong']} strict / {flags['wrong_neutral']} same-object neutral",
        flush=True,
    )
    print(
        "    per query, by its edit: "
        + ", ".join(
            f"{edit} {c['flagged'] / c['true_pairs']:.2f}" for edit, c in flags["by_edit"].items()
        ),
        flush=True,
    )
    return row


def library_quality(
    model_path: str,
    sets: list[str],
    data: Path,
    configs: list[str],
    upright_first: bool = False,
    lookup: bool = False,
) -> None:
    """The closing figures: each set indexed into a real library per configuration and every
    file searched through search.query.SearchEngine (``imgsearch eval run --descriptor
    library``: frames, whitening, calibration exactly as ``imgsearch index``); ``lookup``:
    every file looked up in the same library too (``imgsearch lookup``), a row of its own."""
    from cli.eval_library import evaluate_library
    from search.settings import Settings

    models = tuple(Path(p) for p in model_path.split(os.pathsep))
    settings = Settings(model_path=models, upright_first=upright_first)
    header = f"{'set (library)':<20}{'configuration':<20}" + "".join(f"{k:>8}" for _, k in KEYS)
    rows = [header, "-" * len(header)]
    tables: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for name in sets:
        truth = truth_for(name, data)
        runs: dict[str, dict] = {}
        for text in configs:
            # a fresh library per configuration; its lookups ask the same one
            with tempfile.TemporaryDirectory(prefix="imgsearch-quality-") as scratch:
                for via in ("search", "lookup")[: 1 + lookup]:
                    t0 = time.perf_counter()
                    library = Path(scratch) / "library"
                    ev, details = evaluate_library(
                        settings, truth, library=library, descriptor=text, via=via
                    )
                    label = text if via == "search" else f"{text} (lookup)"
                    runs[label] = details
                    rows.append(library_row(name, label, ev, details, len(truth.files), t0))
                    if ev.per_edit:
                        tables.setdefault(name, {})[label] = ev.per_edit
        print_local_cost(name, runs)
        if name in tables:  # now too: a long run's tables survive its later sets
            print_edit_table(name, tables[name])
    print("\n" + "\n".join(rows))
    for name, table in tables.items():
        print_edit_table(name, table)


def print_local_cost(name: str, runs: dict[str, dict]) -> None:
    """``verify=on``'s cost on one set: latency of the queries that ran the local check
    (grey zone) and of the others, in every configuration measured on the set (the same
    files), and the files read per checked query."""
    checked = [
        set(d["local_check"]["checked_queries"])
        for d in runs.values()
        if d["local_check"]["checked_queries"]
    ]
    if not checked:
        return
    grey = set.union(*checked)
    for text, d in runs.items():
        lc = d["local_check"]
        parts = []
        for label, keep in (("grey zone", True), ("the others", False)):
            ms = [
                1000 * s
                for n, s in enumerate(d["query_seconds"])
                if s is not None and (n in grey) == keep
            ]
            if ms:
                p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
                parts.append(f"{label} ({len(ms)}) p50 {p50:.1f} / p99 {p99:.1f} ms")
        q = lc["queries"]
        reads = (
            f"; {lc['files_read'] / q:.2f} files read, {lc['checked'] / q:.2f} pairs checked, "
            f"{lc['confirmed']} raised, {1000 * lc['seconds'] / q:.1f} ms checking per query"
            if q
            else ""
        )
        print(f"  {name} {text}: " + "; ".join(parts) + reads, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-path", default=str(ROOT.parent / "shared" / "models"))
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--model", default="mobilenet_v3_small_100")
    parser.add_argument("--sets", default="dev0,dev1,ukbench,hymenoptera,near_duplicates")
    parser.add_argument("--verify", action="store_true", help="also score +verify (slow)")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument(
        "--library",
        default="",
        help="comma-separated descriptors (e.g. plain,default; or ';'-separated: "
        "'plain;default;default,verify=on') measured through real libraries "
        "and the search engine instead of the score matrices",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--upright-first",
        action="store_true",
        help="with --library: searches as IMGSEARCH_UPRIGHT_FIRST=1 serves them",
    )
    parser.add_argument(
        "--lookup",
        action="store_true",
        help="with --library: every file looked up too (imgsearch lookup: exact, near, then "
        "the others), in the same library; a row '<configuration> (lookup)'",
    )
    args = parser.parse_args()
    if (args.lookup or args.upright_first) and not args.library:
        parser.error("--lookup and --upright-first measure libraries: give --library too")
    located = locate_model(args.model, [Path(p) for p in args.model_path.split(os.pathsep)])
    model = OnnxModel(located, threads=1)
    print(f"model {model.name}; {load_avg()}")
    sets = [s for s in args.sets.split(",") if s]
    if args.library:
        sep = ";" if ";" in args.library else ","  # ';' lets a configuration hold commas
        configs = args.library.split(sep)
        library_quality(args.model_path, sets, args.data, configs, args.upright_first, args.lookup)
    elif not args.skip_quality:
        quality(model, sets, args.data, args.verify)
    if not args.skip_cost:
        cost(model, args.data, args.repeat)
    print(f"\n{load_avg()}")


if __name__ == "__main__":
    try:
        main()
    except TruthError as error:  # an unknown set, or files missing from one: one clear line
        sys.exit(f"quality.py: error: {error}")
