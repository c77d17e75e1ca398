"""A photo that failed for want of an optional package (a HEIC before ``pillow-heif``, a video
before PyAV) is tried again once the package is installed: an audit installed ``pillow-heif``
as the failure said, and `index`, `index --checksum` and `reindex` kept the file failed for
good ("install the optional 'pillow-heif' package" in `stats` ever after)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import indexer.plan
from cli.main import cli
from models import HEIF_SUPPORTED

pytestmark = pytest.mark.skipif(HEIF_SUPPORTED, reason="pillow-heif installed: no HEIC fails")


def test_a_heic_failed_for_want_of_pillow_heif_is_tried_again_once_it_is_there(
    tmp_path: Path, models_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copyfile(next((data_dir / "ukbench_subset" / "images").glob("*.jpg")), photos / "a.jpg")
    (photos / "phone.heic").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir), "index"]

    def run() -> dict:  # type: ignore[type-arg]
        done = CliRunner().invoke(cli, [*args, str(photos), "--json", "--no-progress"])
        assert done.exit_code == 0, done.output
        return json.loads(done.stdout)

    first = run()
    (failure,) = first["failures"]
    assert "install the optional 'pillow-heif'" in json.dumps(failure)
    assert run()["unchanged"] == 2  # still missing: not read again, not failed again
    monkeypatch.setattr(indexer.plan, "fixed_by_installed", lambda: ("pillow-heif",))
    again = run()  # "installed" now: read again (this one is no real HEIC: it fails again)
    assert again["unchanged"] == 1 and len(again["failures"]) == 1, again
