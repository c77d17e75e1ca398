"""A control character in a collection's folder or a removed file's name (a newline) broke
`stats` and `remove --undo` lines in two, as the result tables once did: every line names it
escaped (``\\n``), as `search`, the summaries and `stats`' failures do."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli_process import run_cli
from tests.indexer_helpers import photo_paths


def test_stats_and_remove_write_a_newline_in_a_path_escaped(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    root = tmp_path / "root\nwith newline"
    root.mkdir()
    first, second = photo_paths(data_dir, 2)
    shutil.copyfile(first, root / "new\nline.jpg")
    shutil.copyfile(second, root / "plain.jpg")
    model = ["--model-path", str(models_dir)]
    assert run_cli([*model, "index", str(root)], tmp_path).returncode == 0
    removed = run_cli(["remove", str(root / "new\nline.jpg")], tmp_path)
    assert removed.returncode == 0, removed.stderr

    stats = run_cli(["stats"], tmp_path)
    assert stats.returncode == 0, stats.stderr
    shown = str(root).replace("\n", "\\n")
    lines = stats.stdout.splitlines()
    assert f"collection  {shown}: 1 image" in lines, stats.stdout
    assert any(line.startswith(f"removed     {shown}/new\\nline.jpg: 1 image") for line in lines)
    assert not any(line.startswith(("with newline", "line.jpg")) for line in lines)

    undone = run_cli(["remove", "--undo", str(root / "new\nline.jpg")], tmp_path)
    assert undone.returncode == 0, undone.stderr
    assert undone.stdout.startswith(f"{shown}/new\\nline.jpg: taken back (1 image when removed)")
    assert len(undone.stdout.strip().splitlines()) == 1
