"""The output folder of a copy set: checked before anything is written, filled through a
staging folder, and swapped in only when the new set is complete.

Every refusal (OUT is, holds or lies inside the sources; OUT holds files that are not a set
of this generator; a set without ``overwrite``) comes before a file is touched. The new set is
written into a hidden folder inside OUT (``.imgsearch-copies-new-*``: same file system, so
moving a file in is a rename) and moved in once complete; only then are the files of the old
set that the new one does not replace removed. A failure half-way leaves the old set as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from search.evaluation.errors import CopiesError

TRUTH_NAME = "ground_truth.json"
STAGING_PREFIX = ".imgsearch-copies-new-"


def check_sources_apart(src: Path | Sequence[Path], files: Sequence[Path], out: Path) -> None:
    """Refuse an ``out`` that is the source folder, lies inside it or holds it (or holds a
    source file): the set would read its own files as originals, or replacing it would delete
    the originals."""
    real_out = out.resolve()
    if isinstance(src, (str, Path)):
        real_src = Path(src).resolve()
        if real_out == real_src:
            raise CopiesError(f"the output folder {out} is the source folder: give another one")
        if real_out.is_relative_to(real_src):
            raise CopiesError(
                f"the output folder {out} lies inside the source folder {src}: its files would "
                "be read as originals; give a folder outside it"
            )
    for path in [Path(src)] if isinstance(src, (str, Path)) else files:
        if path.resolve().is_relative_to(real_out):
            raise CopiesError(
                f"the source {path} lies inside the output folder {out}: give an output "
                "folder apart from the sources"
            )


def old_set_names(out: Path, generator: str, overwrite: bool) -> set[str]:
    """The file names of the set in ``out`` that the new one replaces (empty: ``out`` is
    missing or empty). Refuses, before anything is deleted, an ``out`` that is not a folder,
    a set without ``overwrite``, and an ``out`` that holds anything besides a set of
    ``generator``."""
    if out.exists() and not out.is_dir():
        raise CopiesError(f"output path exists and is not a folder: {out}")
    if not out.is_dir():
        return set()
    entries = [p for p in out.iterdir() if not p.name.startswith(STAGING_PREFIX)]
    if not entries:
        return set()
    try:
        old = json.loads((out / TRUTH_NAME).read_text(encoding="utf-8"))
        ours = old["generator"]["module"] == generator
        members = [f for files in old["clusters"].values() for f in files] + old["distractors"]
        names = {Path(str(name)).name for name in members} | {TRUTH_NAME}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        ours, names = False, set()
    if not (overwrite and ours):
        why = "overwrite (--overwrite) replaces it" if ours else "it is not a generated set"
        raise CopiesError(f"output folder {out} is not empty ({why})")
    others = sorted(p.name for p in entries if p.name not in names or p.is_dir())
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise CopiesError(
            f"output folder {out} holds other files ({shown}); refusing to mix them in: "
            "nothing was changed"
        )
    return names


@contextmanager
def staged_set(out: Path, old_names: set[str]) -> Iterator[Path]:
    """The folder to write the new set in; when the block ends without error its files are
    moved into ``out`` (the ground truth last), and the old set's other files removed. On an
    error only the staging folder goes: ``out`` keeps what it held."""
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    try:
        yield stage
        written = sorted(p.name for p in stage.iterdir())
        for name in written:
            if name != TRUTH_NAME:
                os.replace(stage / name, out / name)
        for name in old_names - set(written):
            (out / name).unlink(missing_ok=True)
        if TRUTH_NAME in written:
            os.replace(stage / TRUTH_NAME, out / TRUTH_NAME)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for leftover in out.glob(f"{STAGING_PREFIX}*"):  # of a run that was killed
        shutil.rmtree(leftover, ignore_errors=True)
