"""An index run that learns the whitening: bounded memory, its own progress bar, and a summary
that reports learning apart from indexing (the CLI in a subprocess, learning forced on a small
library by lowering the 500-image threshold in that process)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_process import run_on_a_terminal

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
PHOTOS = 96


# the child writes its own peak RSS (VmHWM: of its image since exec; a forked child's
# ru_maxrss would include the test process's memory at the fork)
PEAK = (
    "import atexit, os; atexit.register(lambda: open(os.environ['PEAK_FILE'], 'w').write("
    "next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])); "
)


def _cli(min_images: int, sample: int) -> list[str]:
    code = (
        PEAK + "import indexer.whiten as w, search.descriptor.whitening as s; "
        f"w.MIN_IMAGES = s.MIN_IMAGES = {min_images}; w.DEFAULT_SAMPLE = {sample}; "
        "s.MIN_PAIRS = 20; "
        "from cli.main import main; main()"
    )
    return [sys.executable, "-c", code]


def _run(args: list[str], min_images: int = 40, sample: int = 1000) -> tuple[str, float]:
    """(stdout, peak RSS in MiB) of one CLI process."""
    peak = Path(args[1]).parent / "peak-kib"  # beside the library
    done = subprocess.run(
        [*_cli(min_images, sample), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "PEAK_FILE": str(peak)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, int(peak.read_text()) / 1024


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """96 real photos: 1920x1080 video frames, 640x480 UKBench and hymenoptera photos."""
    folder = tmp_path_factory.mktemp("photos")
    files = sorted((data_dir / "near_duplicates" / "images").glob("augly_dfdc_1__*.png"))[:24]
    files += sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:36]
    files += sorted((data_dir / "hymenoptera" / "images" / "train" / "bees").glob("*.jpg"))[:36]
    for src in files:
        shutil.copy(src, folder / src.name)
    assert len(files) == PHOTOS
    return folder


def _index(
    tmp: Path, models_dir: Path, photos: Path, *extra: str, **patch: int
) -> tuple[str, float]:
    shutil.rmtree(tmp / "lib", ignore_errors=True)
    args = [
        "--library",
        str(tmp / "lib"),
        "--model-path",
        str(models_dir),
        "index",
        "--no-progress",
        *extra,
        str(photos),
    ]
    return _run(args, **patch)


@pytest.fixture(scope="module")
def learned(
    tmp_path_factory: pytest.TempPathFactory, photos: Path, models_dir: Path
) -> tuple[dict, float, str]:
    """One run that learns from the whole sample (two decode threads): (its JSON summary,
    peak RSS in MiB, the fingerprint of the whitening it stored), for the tests below."""
    tmp = tmp_path_factory.mktemp("learned")
    out, peak = _index(tmp, models_dir, photos, "--json", "--workers", "2")
    return json.loads(out), peak, _fingerprint(tmp / "lib", models_dir)


def test_learning_memory_does_not_grow_with_the_sample(
    tmp_path: Path, photos: Path, models_dir: Path, learned: tuple[dict, float, str]
) -> None:
    out, small = _index(tmp_path, models_dir, photos, "--json", sample=16)
    few = json.loads(out)
    many, large, _ = learned  # the default sample: every one of the photos
    assert few["whitening"].startswith("learned") and many["whitening"].startswith("learned")
    # 6x the photos learned from (80 more decoded photos, 24 of them 1920x1080 frames, and
    # their edits) cost no more memory: they are streamed, not held
    assert large - small < 60, f"peak RSS {small:.0f} MiB learning from 16, {large:.0f} from 96"
    assert large < 1024
    assert few["learn_photos"] == 16 and many["learn_photos"] == PHOTOS, (few, many)


def test_summary_reports_learning_apart(learned: tuple[dict, float, str]) -> None:
    summary = learned[0]
    for key in (
        "added",
        "updated",
        "moved",
        "removed",
        "failed",
        "images_per_second",
        "seconds",
        "learn_seconds",
        "learn_cpu_seconds",
        "whitening",
    ):
        assert key in summary, key  # the keys scripts rely on stay
    assert summary["learn_photos"] == PHOTOS and summary["learn_edits"] >= PHOTOS
    assert 0 < summary["learn_seconds"] < summary["seconds"]
    index_seconds = summary["seconds"] - summary["learn_seconds"]
    assert summary["index_seconds"] == pytest.approx(index_seconds, abs=0.01)
    # img/s counts indexing only, not learning
    assert summary["images_per_second"] == pytest.approx(PHOTOS / index_seconds, rel=0.02)


def test_learning_shows_a_progress_bar_and_the_text_reports_it_apart(
    tmp_path: Path, photos: Path, models_dir: Path, learned: tuple[dict, float, str]
) -> None:
    """One run on a terminal (~6 CPU s a run): its progress bar on stderr, and the text
    summary on stdout that says of its run what the JSON summary says."""
    args = [
        "--library",
        str(tmp_path / "lib"),
        "--model-path",
        str(models_dir),
        "index",
        str(photos),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PEAK_FILE": str(tmp_path / "peak-kib")}
    printed = tmp_path / "stdout.txt"
    shown = run_on_a_terminal([*_cli(40, 1000), *args], env, timeout=300, stdout=printed)
    shown = shown.replace("\r", "\n").splitlines()
    bar = [line.strip() for line in shown if "learning the whitening:" in line]
    assert bar, shown
    final = bar[-1]
    assert f"{PHOTOS}/{PHOTOS}" in final and "100%" in final and "photos/s" in final, final
    assert any("<" in line and "?" not in line.split("<")[1][:5] for line in bar[:-1]), bar  # ETA

    summary = learned[0]
    text = printed.read_text()
    lines = text.splitlines()
    # the text says the same of its own run (timings of two runs differ on a busy machine):
    # indexing time and rate without learning, learning's time, the whole run's
    indexed = re.match(rf"{PHOTOS} files processed in ([\d.]+) s \(([\d.]+) img/s\)", lines[0])
    assert indexed, lines[0]
    said = next(line for line in lines if line.startswith("learned the whitening"))
    assert f"from {summary['learn_edits']} edits of {PHOTOS} photos in " in said
    assert f"(the first for its model: the library has {PHOTOS} images)" in said
    assert "none learned yet" not in text
    whole = next(line for line in lines if line.startswith("the whole run took"))
    index_s, rate = float(indexed[1]), float(indexed[2])
    learn_s = float(re.search(r" in ([\d.]+) s \(", said)[1])  # type: ignore[index]
    assert abs(index_s + learn_s - float(whole.split()[4])) <= 0.11, (lines[0], said, whole)
    assert rate == pytest.approx(PHOTOS / index_s, rel=0.05)


def _fingerprint(library: Path, models_dir: Path) -> str:
    from search.library import Library
    from search.settings import Settings

    with Library.open(Settings(library=library, model_path=(models_dir,))) as opened:
        whitening = opened.whitening()
        assert whitening is not None
        return whitening.fingerprint


def test_learning_does_not_depend_on_thread_timing(
    tmp_path: Path, photos: Path, models_dir: Path, learned: tuple[dict, float, str]
) -> None:
    """The run's photos are edited in the decode threads while they are decoded for indexing;
    their edits are summed in plan order, so one decode thread or two learn the same."""
    out, _ = _index(tmp_path, models_dir, photos, "--json", "--workers", "1")
    assert json.loads(out)["learn_photos"] == PHOTOS
    assert _fingerprint(tmp_path / "lib", models_dir) == learned[2]


def test_a_run_after_an_interrupted_one_learns_from_the_same_photos(
    tmp_path: Path, photos: Path, models_dir: Path, learned: tuple[dict, float, str]
) -> None:
    """An audit interrupted the first index run of the shared data, ran it again, and the
    whitening was learned from 509 photos where one run learned from 507: the first run's
    exact copies (one vector with their original) were edited as photos of their own. A
    library holding a copy from an earlier run now learns from each picture once."""
    folder = tmp_path / "photos"
    shutil.copytree(photos, folder)
    first = sorted(folder.glob("*.jpg"))[0]
    shutil.copyfile(first, folder / "0-copy.jpg")  # 97 files, 96 pictures; in the first run
    later = tmp_path / "later"
    later.mkdir()
    for path in sorted(folder.glob("*.jpg"))[-40:]:  # the rest comes in a second run
        path.rename(later / path.name)
    library = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    out, _ = _run([*library, "index", "--no-progress", "--json", str(folder)], min_images=60)
    assert not json.loads(out)["whitening"].startswith("learned")  # 57 files: under 60
    for path in later.iterdir():
        path.rename(folder / path.name)
    out, _ = _run([*library, "index", "--no-progress", "--json", str(folder)], min_images=60)
    summary = json.loads(out)
    assert summary["whitening"].startswith("learned"), summary["whitening"]
    assert summary["learn_photos"] == learned[0]["learn_photos"] == PHOTOS, summary
