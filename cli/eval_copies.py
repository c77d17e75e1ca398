"""``imgsearch eval make-copies SRC OUT``: write a hard copy-detection set (registered on the
``eval`` group of :mod:`cli.eval_cmds`)."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import click

from cli.errors import writable_folder
from cli.eval_cmds import eval_group
from cli.options import NonEmptyPath, ranged_option
from models.errors import ImgsearchError
from search.evaluation import load_truth, make_copies


@eval_group.command("make-copies")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=NonEmptyPath(file_okay=False, path_type=Path))
@ranged_option(
    "--per-original",
    default=20,
    low=1,
    high=500,
    help_text="Edited copies written of each original.",
)
@ranged_option(
    "--seed",
    default=0,
    low=0,
    help_text="Seed of the random edits (0 or more): the same seed makes the same set.",
)
@ranged_option(
    "--distractors",
    "distractor_share",
    default=0.2,
    low=0.0,
    high=0.95,
    help_text="Share of the originals that get no copies.",
)
@click.option("--max-originals", type=click.IntRange(1), help="Use a seeded sample of SRC.")
@click.option("--overwrite", is_flag=True, help="Replace a set this command made in OUT.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print JSON: {"copies", "originals", "distractors", "skipped", "seconds", "truth"}.',
)
def make_copies_cmd(
    src: Path,
    out: Path,
    per_original: int,
    seed: int,
    distractor_share: float,
    max_originals: int | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Write a hard copy-detection set of SRC's images into OUT (with ground_truth.json).

    OUT must be empty or new, or with --overwrite hold only a set this command made; it must
    lie apart from SRC. An old set is replaced only once the new one is complete. Unreadable
    originals, and a second file with the same bytes as another, are skipped with a warning
    and counted (exit 0, as `index` counts its failed files); none readable is an error."""
    created = not out.exists()
    writable_folder(out, "the copy set into")
    start = time.perf_counter()
    skipped: list[Path] = []

    def skip(path: Path, reason: str) -> None:
        skipped.append(path)
        click.echo(f"warning: skipped original {path} ({reason})", err=True)

    try:
        path = make_copies(
            src,
            out,
            per_original=per_original,
            seed=seed,
            distractor_share=distractor_share,
            max_originals=max_originals,
            overwrite=overwrite,
            on_skip=skip,
        )
        gt = load_truth(path)
    except ImgsearchError as exc:
        if created:  # refused before anything was written: no empty folder left behind
            with contextlib.suppress(OSError):
                out.rmdir()
        raise click.ClickException(str(exc)) from exc
    n, seconds = len(skipped), time.perf_counter() - start
    if as_json:
        made = {"copies": len(gt.copy_queries), "originals": len(gt.groups)}
        made |= {"distractors": len(gt.distractors), "skipped": [str(p) for p in skipped]}
        click.echo(json.dumps(made | {"seconds": round(seconds, 2), "truth": str(path.absolute())}))
        return
    unread = f", {n} original{'s' if n != 1 else ''} skipped (see above)" if n else ""
    click.echo(
        f"{len(gt.copy_queries)} copies of {len(gt.groups)} originals "
        f"(+{len(gt.distractors)} distractors){unread} in {seconds:.1f} s"
    )
    click.echo(f"ground truth: {path}")
    click.echo(f"evaluate with: imgsearch eval {out} --truth {path}")
