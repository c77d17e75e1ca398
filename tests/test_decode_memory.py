"""Issue 15 item 2: one small upload must not take gigabytes.

Files of 0.2-2.5 MB that decode to 9400x9400 images (16-bit greyscale, RGBA, palette, float)
cost 0.4-2.3 GB each before (int64/float64 copies, full-size RGB); now they are reduced in
strips to what the model needs, decodes share one memory budget, and the server runs a few
image queries at a time. Measured with psutil on a real server and a real index run.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests

from models import ImageTooLargeError, load_image
from models.decode_memory import DecodeBudget
from tests.hostile import GIB, PeakRss, memory_bombs
from tests.served import cli_env, indexed_library, run_cli, serve, start_cli

pytestmark = pytest.mark.slow
LIMIT = int(1.5 * GIB)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return memory_bombs(tmp_path_factory)


@pytest.fixture(scope="module")
def small_library(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path
) -> Path:
    return indexed_library(tmp_path_factory.mktemp("memory"), data_dir, models_dir, 8)


def test_a_wide_image_is_reduced_before_it_is_widened(bombs: list[Path]) -> None:
    decoded = load_image(bombs[0])  # 9400x9400 16-bit: model input only needs ~450 px
    assert (decoded.width, decoded.height) == (9400, 9400)
    assert max(decoded.image.size) <= 1000 and decoded.image.mode == "RGB"
    # the 16-bit lines (every 50th row at 40000/65535) survive: box-averaged, ~156 / 50
    mean = float(np.asarray(decoded.image.convert("L")).mean())
    assert 2.8 < mean < 3.6, mean


def test_an_image_above_the_decode_budget_is_refused_with_a_typed_error() -> None:
    budget = DecodeBudget(64 * 1024 * 1024)
    too_much = budget.hold(65 * 1024 * 1024, "huge.png")
    with pytest.raises(ImageTooLargeError, match="more than the 64 MiB allowed"), too_much:
        pass
    with budget.hold(64 * 1024 * 1024):
        assert budget.free == 0
    assert budget.free == budget.total


def test_eight_hostile_uploads_at_once_stay_under_1_5_gb(
    small_library: Path, models_dir: Path, bombs: list[Path]
) -> None:
    with serve(small_library, models_dir, "--threads", "8") as served:
        payloads = [(p.name, p.read_bytes()) for p in bombs] * 2

        def upload(item: tuple[str, bytes]) -> requests.Response:
            name, data = item
            return requests.post(
                f"{served.url}/api/v1/search",
                files={"image": (name, data)},
                data={"k": "3"},
                timeout=120,
            )

        with PeakRss(served.process.pid, kill_above=LIMIT) as rss, ThreadPoolExecutor(8) as pool:
            try:
                answers = list(pool.map(upload, payloads))
            except requests.ConnectionError:
                answers = []
        assert not rss.killed, f"the server went over 1.5 GB ({rss.peak_mib:.0f} MiB): killed"
        assert rss.peak < LIMIT, f"peak RSS {rss.peak_mib:.0f} MiB"
        statuses = sorted(a.status_code for a in answers)
        assert len(answers) == 8 and all(s in (200, 503) for s in statuses), statuses
        for answer in answers:
            if answer.status_code == 503:
                assert answer.json()["error"]["code"] == "busy"
                assert answer.headers["Retry-After"]
        assert statuses.count(200) >= 2, statuses
        normal = requests.post(
            f"{served.url}/api/v1/search", data={"image_id": "1", "k": "2"}, timeout=60
        )
        assert normal.status_code == 200 and normal.json()["results"][0]["id"] == 1
        assert "Traceback" not in served.output


def test_indexing_memory_bombs_stays_under_1_5_gb(
    tmp_path: Path, models_dir: Path, bombs: list[Path], data_dir: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in bombs:
        shutil.copyfile(path, folder / path.name)
    photo = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[0]
    shutil.copyfile(photo, folder / photo.name)
    process = start_cli(
        tmp_path / "lib",
        models_dir,
        "index",
        "--no-progress",
        "--json",
        "--workers",
        "4",
        str(folder),
    )
    with PeakRss(process.pid, kill_above=LIMIT) as rss:
        out, err = process.communicate(timeout=300)
    assert not rss.killed, f"the index run went over 1.5 GB ({rss.peak_mib:.0f} MiB): killed"
    assert process.returncode == 0, err
    assert '"added": 5' in out and '"failed": 0' in out, out
    assert rss.peak < LIMIT, f"peak RSS {rss.peak_mib:.0f} MiB"


def test_the_decode_budget_is_a_setting(
    small_library: Path, models_dir: Path, bombs: list[Path]
) -> None:
    done = run_cli(
        small_library,
        models_dir,
        "search",
        str(bombs[0]),
        env=cli_env(IMGSEARCH_DECODE_BUDGET_MB="64"),
    )
    assert done.returncode == 1 and "more than the 64 MiB allowed for decoding" in done.stderr
    assert "Traceback" not in done.stderr
    bad = run_cli(small_library, models_dir, "stats", env=cli_env(IMGSEARCH_DECODE_BUDGET_MB="x"))
    assert bad.returncode == 1 and "IMGSEARCH_" in bad.stderr and "Traceback" not in bad.stderr
