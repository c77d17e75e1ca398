"""An output path (`dedup -o`, `clusters -o`, `eval run --plot`) that names a photo, a video or
a library's database is refused before anything is written: `clusters -o photo.jpg --format
text` replaced the photo with the text report, `eval run --plot photo.png` with the plot, and
`dedup -o imgsearch-library/imgsearch.sqlite3 --format json` the library with JSON."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_process import relative_library, run_cli
from tests.indexer_helpers import photo_paths


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


@pytest.fixture(scope="module")
def home(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("overwrite")
    relative_library(home, photo_paths(data_dir, 3), models_dir)
    yield home


def photo(home: Path, suffix: str = ".jpg") -> Path:
    return next(p for p in sorted((home / "photos").iterdir()) if p.suffix.lower() == suffix)


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["clusters", "-o", "{photo}", "--format", "text"],
        ["clusters", "-o", "{photo}", "--format", "json"],
        ["dedup", "-o", "{photo}", "--format", "csv"],
        ["dedup", "-o", "{photo}", "--format", "html"],
        ["dedup", "-o", "imgsearch-library/imgsearch.sqlite3", "--format", "json"],
        ["eval", "run", "{ukbench}", "--plot", "{png}"],
        ["dedup", "-o", "{video}", "--format", "csv"],
    ],
    ids=[
        "clusters-text",
        "clusters-json",
        "dedup-csv",
        "dedup-html",
        "dedup-db",
        "eval-plot",
        "dedup-video-named-csv",
    ],
)
def test_an_output_never_replaces_a_photo_or_the_database(home, data_dir, args) -> None:  # type: ignore[no-untyped-def]
    png = home / "victim.png"
    from PIL import Image

    Image.new("RGB", (32, 24), (200, 40, 10)).save(png)
    video = home / "clip-saved-as.csv"  # an MP4 by its bytes: it was replaced (an audit)
    video.write_bytes(MP4_HEAD + bytes(4096))
    values = {
        "photo": photo(home),
        "png": png,
        "ukbench": data_dir / "ukbench_subset",
        "video": video,
    }
    argv = [arg.format(**values) for arg in args]
    target = home / argv[argv.index("--plot" if "--plot" in argv else "-o") + 1]
    before = digest(target)
    done = run_cli(argv, home, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("Error: will not write") and "give a new file name" in line, line
    assert digest(target) == before
    check = run_cli(["db", "check"], home)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow
def test_an_earlier_report_is_still_replaced(home) -> None:  # type: ignore[no-untyped-def]
    (home / "old.csv").write_text("an earlier report\n")
    done = run_cli(["dedup", "-o", "old.csv"], home)
    assert done.returncode == 0, done.stderr
    assert (home / "old.csv").read_text() != "an earlier report\n"


def test_what_an_output_must_not_replace(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from PIL import Image

    from cli.errors import precious_content

    Image.new("RGB", (8, 8)).save(tmp_path / "photo.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.webp")
    fig = plt.figure()
    fig.savefig(tmp_path / "plot.png")
    plt.close(fig)
    (tmp_path / "report.html").write_text("<!doctype html>")
    (tmp_path / "db").write_bytes(b"SQLite format 3\x00" + bytes(100))
    (tmp_path / "db-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(28))
    assert precious_content(tmp_path / "photo.png") == "an image (PNG)"
    assert precious_content(tmp_path / "photo.webp") == "an image (WEBP)"
    assert precious_content(tmp_path / "db").startswith("a SQLite database")
    assert precious_content(tmp_path / "db-wal").startswith("a SQLite write-ahead log")
    for fine in ("plot.png", "report.html", "missing.csv", ""):
        assert precious_content(tmp_path / fine) is None, fine
    # videos by their bytes, whatever their names (only their extensions were looked at)
    heads = {
        "mp4.csv": MP4_HEAD,
        "mkv.json": b"\x1a\x45\xdf\xa3" + bytes(12),
        "avi": b"RIFF\x00\x00\x00\x00AVI LIST",
        "ogv.html": b"OggS" + bytes(12),
    }
    for name, head in heads.items():
        (tmp_path / name).write_bytes(head + bytes(1024))
        assert precious_content(tmp_path / name) == "a video", name


@pytest.mark.slow
def test_an_output_that_is_a_stream_is_written_to(home) -> None:  # type: ignore[no-untyped-def]
    """`dedup -o /dev/stdout` renamed its temporary file over the link (as root: /dev/stdout
    itself became a file), so the report went nowhere visible; a link to the command's
    standard output stands in for it here. A stream is written to, never replaced."""
    link = home / "stdout.csv"
    link.symlink_to("/proc/self/fd/1")
    try:
        for args, head in (
            (["dedup", "-o", link.name, "--format", "csv"], "group,keeper_path"),
            (["clusters", "-o", link.name, "--format", "json"], "{"),
        ):
            done = run_cli(args, home)
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith(head), done.stdout[:200]
            assert link.is_symlink(), args
    finally:
        link.unlink()
