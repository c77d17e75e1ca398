"""The files a library writes whole (stats.json, thumbnails, key points, reports) get the mode
any new file of the user gets (umask): ``mkstemp`` made them 0600, so another user serving the
library read-only could not read its cached figures, thumbnails or key points (an audit found
stats.json 0600 beside the library's 0644 files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from search.library import replaced_whole
from tests.cli_process import run_cli
from tests.indexer_helpers import copy_photos


def test_a_file_written_whole_has_the_mode_of_a_new_file(tmp_path: Path) -> None:
    mask = os.umask(0o027)
    try:
        with replaced_whole(tmp_path / "cache" / "stats.json", ".json") as handle:
            handle.write(b"{}")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "cache" / "stats.json").stat().st_mode) == 0o640


def test_an_index_runs_figures_are_readable_as_its_database_is(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    sources = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:3]
    copy_photos(sources, tmp_path / "photos")
    library = ["--library", "library", "--model-path", str(models_dir)]
    assert run_cli([*library, "index", "--no-progress", "photos"], tmp_path).returncode == 0
    database = stat.S_IMODE((tmp_path / "library" / "imgsearch.sqlite3").stat().st_mode)
    figures = stat.S_IMODE((tmp_path / "library" / "stats.json").stat().st_mode)
    assert figures == database & 0o666, (oct(figures), oct(database))
