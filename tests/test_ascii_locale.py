"""Under an ASCII locale with Python's UTF-8 mode and locale coercion turned off
(``LC_ALL=C PYTHONUTF8=0 PYTHONCOERCECLOCALE=0``), file names are spelled in ASCII: a library
indexed under UTF-8 that holds ``café/`` must give a one-line error that says what to do, not
a traceback, and commands that touch no such file work as usual."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli_process import run_cli
from tests.indexer_helpers import photo_paths

ASCII = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
HINT = "run with a UTF-8 locale (e.g. LC_ALL=C.UTF-8) or PYTHONUTF8=1"


def test_a_name_the_locale_cannot_spell_is_a_clear_error(
    tmp_path: Path, models_dir: Path, data_dir: Path
) -> None:
    folder = tmp_path / "café"
    folder.mkdir()
    for photo in photo_paths(data_dir, 2):
        shutil.copyfile(photo, folder / photo.name)
    base = ["--library", "lib", "--model-path", str(models_dir)]
    made = run_cli([*base, "index", "--no-progress", "café"], tmp_path, env={"PYTHONUTF8": "1"})
    assert made.returncode == 0, made.stderr

    query = f"café/{photo_paths(data_dir, 1)[0].name}"
    for args in (["similar", "1"], ["similar", "--json", "1"], ["lookup", "1"], ["search", query]):
        done = run_cli([*base, *args], tmp_path, env=ASCII)
        assert done.returncode == 1, (args, done.stderr)
        assert "Traceback" not in done.stderr, args
        assert "cannot spell" in done.stderr and HINT in done.stderr, (args, done.stderr)

    again = run_cli([*base, "index", "--no-progress", "café"], tmp_path, env=ASCII)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "cannot spell the name" in again.stderr and "not valid UTF-8" not in again.stderr

    stats = run_cli([*base, "stats"], tmp_path, env=ASCII)
    assert stats.returncode == 0, stats.stderr
