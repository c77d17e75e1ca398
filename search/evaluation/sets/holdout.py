"""Independent hold-out copy sets: photos and edits the descriptor was never tuned on.

The dev set (:mod:`search.evaluation.sets.copies`, ``bench/copies.py``) uses hymenoptera
``train/`` photos and the first view of each UKBench object, edited by
:mod:`search.evaluation.sets.edits`. The hold-out sets share neither: their edits are
:mod:`search.evaluation.sets.holdout_edits` (own code, other ranges, new kinds) and their photos:

* ``photos``: hymenoptera ``val/`` photos and the *other* UKBench views (never the first);
  an original taken from a UKBench object brings that object's other views along as
  *related* photos (same object, another viewpoint);
* ``scenes``: generated scenes (:mod:`search.evaluation.sets.scenes`), no photo at all.

A quarter of the originals (a third for scenes) also get a burst shot beside them
(:func:`search.evaluation.sets.holdout_edits.burst_shot`: the same scene, moved framing, another
exposure), listed as related. The ground truth is the ``clusters`` format plus ``related``
(lists of files that show one object or scene: neither a hit nor a miss for each other when
counting *same-object neutral*; strict counting treats them as different photos).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from search.evaluation.errors import CopiesError
from search.evaluation.sets.holdout_edits import COMBOS, HOLDOUT_EDITS, burst_shot
from search.evaluation.sets.scenes import draw_scene, scene_spec

GENERATOR_ID = "search.evaluation.holdout"  # written into ground truth: stable
HOLDOUT_POOLS = ("photos", "scenes")
MAX_SIDE = 1024
HOLDOUT_RECIPES = [(name,) for name in HOLDOUT_EDITS] + list(COMBOS)


def _photo_pool(data: Path) -> list[tuple[Path, list[Path]]]:
    """(photo, other views of its object) from hymenoptera val and UKBench's later views."""
    hym = sorted((data / "hymenoptera" / "images" / "val").rglob("*.jpg"))
    truth = json.loads((data / "ukbench_subset" / "ground_truth.json").read_text())
    uk_dir = data / "ukbench_subset" / "images"
    pool: list[tuple[Path, list[Path]]] = [(p, []) for p in hym]
    for files in truth["groups"].values():
        later = [uk_dir / f for f in sorted(files)[1:]]  # the first view is the dev set's
        if later:
            pool.append((later[0], later[1:]))
    return pool


def _load(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            img = ImageOps.exif_transpose(im).convert("RGB")
    except (OSError, ValueError) as exc:
        raise CopiesError(f"cannot read {path}: {exc}") from exc
    img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return img


def make_holdout(
    pool: str,
    out: Path | str,
    *,
    data: Path | str,
    originals: int = 40,
    per_original: int = 10,
    distractors: int = 10,
    seed: int = 0,
) -> Path:
    """Write the ``pool`` hold-out set into the empty folder ``out``; returns its truth file.

    ``originals`` photos get ``per_original`` edited copies each (the kinds in turn, so each
    kind is about equally frequent); ``distractors`` more photos get none.
    """
    if pool not in HOLDOUT_POOLS:
        raise CopiesError(f"unknown hold-out pool {pool!r}: one of {', '.join(HOLDOUT_POOLS)}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise CopiesError(f"output folder {out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0x401D])
    total = originals + distractors
    if pool == "photos":
        photos = _photo_pool(Path(data))
        if total > len(photos):
            raise CopiesError(f"the photo pool has {len(photos)} photos, {total} asked")
        picked = [photos[i] for i in sorted(rng.choice(len(photos), total, replace=False))]
    chosen = rng.permutation(total)
    is_original = set(chosen[:originals].tolist())
    clusters: dict[str, list[str]] = {}
    loose: list[str] = []
    related: list[list[str]] = []
    edits: dict[str, dict[str, object]] = {}
    step = 0
    for index in range(total):
        orng = np.random.default_rng([seed, index, 0x401D])
        if pool == "photos":
            path, views = picked[index]
            stem, img = f"{pool}{index:04d}_{path.stem}", _load(path)
            spec = None
        else:
            spec = scene_spec(orng)
            stem, img, views = f"{pool}{index:04d}", draw_scene(spec), []
        name = f"{stem}.jpg"
        img.save(out / name, "JPEG", quality=92)
        group = [name]
        for k, view in enumerate(views):
            vname = f"{stem}_view{k + 1}.jpg"
            _load(view).save(out / vname, "JPEG", quality=92)
            group.append(vname)
        if orng.random() < (1 / 3 if pool == "scenes" else 1 / 4):
            burst = draw_scene(spec, moved=0.04, seed=1) if spec else burst_shot(img, orng)
            burst.save(out / f"{stem}_burst.jpg", "JPEG", quality=92)
            group.append(f"{stem}_burst.jpg")
        loose += group[1:]
        if len(group) > 1:
            related.append(group)
        if index not in is_original:
            loose.append(name)
            continue
        members = [name]
        for _ in range(per_original):
            recipe = HOLDOUT_RECIPES[step % len(HOLDOUT_RECIPES)]
            step += 1
            params: dict[str, object] = {}
            copy = img
            for edit in recipe:
                copy = HOLDOUT_EDITS[edit](copy, orng, params)
            cname = f"{stem}__{'+'.join(recipe)}.jpg"
            k = 2
            while cname in edits:
                cname, k = f"{stem}__{'+'.join(recipe)}-{k}.jpg", k + 1
            copy.save(out / cname, "JPEG", quality=int(orng.integers(70, 95)))
            members.append(cname)
            edits[cname] = {"edits": list(recipe), "params": params}
        clusters[stem] = members
    truth = {
        "name": f"holdout-{pool}-seed{seed}-{originals}",
        "description": "Independent hold-out copy set (search.evaluation.sets.holdout): clusters "
        "of an original and its edited copies; 'related' lists files of one object or scene "
        "(other views, burst shots) that are different photos.",
        "generator": {"module": GENERATOR_ID, "pool": pool, "seed": seed},
        "clusters": clusters,
        "distractors": loose,
        "related": related,
        "edits": edits,
    }
    path = out / "ground_truth.json"
    path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return path
