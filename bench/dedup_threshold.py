"""The figures behind the default dedup threshold (``python bench/dedup.py threshold``): embeds
shared/data near_duplicates (+ UKBench subset and hymenoptera as hard negatives: different
photos of one object / one category) with the default model and prints pair precision /
recall per threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def main(data: Path, models: Path, model_name: str | None) -> None:
    from models import ImageAnalyzer, open_model
    from search.evaluation import load_truth

    model = open_model(model_name, [models])
    sets = {}
    for name in ("near_duplicates", "ukbench_subset", "hymenoptera"):
        truth = load_truth(data / name)
        with ImageAnalyzer(model) as analyzer:
            res = analyzer.analyze_batch([truth.root / f for f in truth.files])
        x = np.stack([r.embedding for r in res])
        i, j = np.triu_indices(len(truth.files), 1)
        files = truth.files
        positive = np.array(
            [truth.is_relevant(files[a], files[b]) for a, b in zip(i, j, strict=True)]
        )
        if name != "near_duplicates":
            positive[:] = False  # different photos: never duplicates
        sets[name] = ((x[i] * x[j]).sum(axis=1), positive)
    nd_s, nd_y = sets["near_duplicates"]
    all_s = np.concatenate([s for s, _ in sets.values()])
    all_y = np.concatenate([y for _, y in sets.values()])
    print(
        f"model {model.name}; near_duplicates {nd_s.size} pairs ({nd_y.sum()} duplicates); "
        f"max non-duplicate: near_duplicates {nd_s[~nd_y].max():.3f}, ukbench "
        f"{sets['ukbench_subset'][0].max():.3f}, hymenoptera {sets['hymenoptera'][0].max():.3f}"
    )
    print(
        f"{'thresh':>6} {'nd prec':>8} {'nd recall':>9} {'FP ukb':>7} {'FP hym':>7} "
        f"{'prec +hard neg':>14}"
    )
    for t in np.round(np.r_[np.arange(0.40, 0.80, 0.05), np.arange(0.80, 0.97, 0.01)], 2):
        acc = nd_s >= t
        tp = int((acc & nd_y).sum())
        acc_all = all_s >= t
        tp_all = int((acc_all & all_y).sum())
        print(
            f"{t:>6.2f} {tp / max(1, acc.sum()):>8.4f} {tp / nd_y.sum():>9.4f} "
            f"{int((sets['ukbench_subset'][0] >= t).sum()):>7} "
            f"{int((sets['hymenoptera'][0] >= t).sum()):>7} "
            f"{tp_all / max(1, acc_all.sum()):>14.4f}"
        )
