"""Commands given wrong input by hand - a bad option or descriptor, an empty path or pattern, a
value out of range, an image over the pixel limit - run as a user runs them (a subprocess
where it matters): one line saying what is wrong, exit 1 or 2, never a traceback. Beside
tests/test_cli_errors.py (a library in the way) and tests/test_cli_environment.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_process import run_cli
from tests.indexer_helpers import photo_paths


def test_a_failed_first_index_leaves_no_library_behind(tmp_path: Path, data_dir: Path) -> None:
    """A wrong folder, no folder, or a model file that is not there: said before anything is
    created, so the next (right) command starts from nothing, not from an empty library."""
    no_models = tmp_path / "no-models"
    no_models.mkdir()
    photos = data_dir / "hymenoptera"
    cases = [  # a folder argument that is not there is a usage error (2), as everywhere
        (["index", "missing-folder"], "no such directory", 2),
        (["index"], "no collections yet", 1),
        (
            ["--model-path", str(no_models), "index", str(photos)],
            "mobilenet_v3_small_100_224.onnx",
            1,
        ),
    ]
    for args, said, status in cases:
        done = run_cli(args, tmp_path, timeout=120)
        assert done.returncode == status, done.stderr
        assert said in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "imgsearch-library").exists(), args


def test_a_bad_descriptor_is_refused_before_a_library_exists(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`index --descriptor` with bad text is a usage error naming the option (exit 2), bad
    IMGSEARCH_DESCRIPTOR names the variable; neither leaves an empty library behind."""
    photos = str(data_dir / "ukbench_subset" / "images")
    base = ["--model-path", str(models_dir), "index", "--no-progress"]
    done = run_cli([*base, "--descriptor", "whiten=maybe", photos], tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "'--descriptor'" in done.stderr and "whiten must be on or off" in done.stderr
    assert not (tmp_path / "imgsearch-library").exists()
    env = {"IMGSEARCH_DESCRIPTOR": "bogus"}
    done = run_cli([*base, photos], tmp_path, env=env, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "IMGSEARCH_DESCRIPTOR" in done.stderr and "'bogus'" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert not (tmp_path / "imgsearch-library").exists()


def test_make_copies_refuses_a_negative_seed_before_writing(tmp_path: Path, data_dir: Path) -> None:
    """`eval make-copies SRC OUT --seed -1` made OUT, then died in numpy with a traceback
    ("expected non-negative integer"): now exit 2 naming --seed, and no OUT folder."""
    src = str(data_dir / "ukbench_subset" / "images")
    done = run_cli(["eval", "make-copies", src, "copies", "--seed", "-1"], tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "'--seed'" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "copies").exists()


def test_embed_refuses_an_option_of_the_other_running_mode(tmp_path: Path) -> None:
    """`embed CLIP --running-mode video --roi R` embedded whole frames and `embed PHOTO
    --interval 5` ignored the interval, both without a word: each is exit 2 naming it."""
    cases = [
        (["clip.mp4", "--running-mode", "video", "--roi", "0.1,0.1,0.5,0.5"], "'--roi'"),
        (["photo.jpg", "--interval", "5"], "'--interval'"),
    ]
    for args, option in cases:
        done = run_cli(["embed", *args], tmp_path, timeout=60)
        assert done.returncode == 2, done.stderr
        assert option in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_clusters_refuses_an_option_of_the_other_method(tmp_path: Path) -> None:
    """`clusters --method density --k 3` was refused but `--method kmeans --min-size 5` ran
    k-means and ignored the size: both are usage errors naming the option (exit 2)."""
    for args, said in (
        (["--k", "3"], "--k is for --method kmeans"),
        (["--method", "kmeans", "--min-size", "5"], "--min-size is for --method density"),
    ):
        done = run_cli(["clusters", *args], tmp_path, timeout=60)
        assert done.returncode == 2 and said in done.stderr, done.stderr
    assert not (tmp_path / "imgsearch-library").exists()


def png_header(width: int, height: int) -> bytes:
    """A PNG that is only its signature, header chunk and end: its size, no pixels."""
    import struct
    import zlib

    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + end


def test_an_image_over_the_pixel_limit_is_one_line_in_imgsearchs_words(
    tmp_path: Path, models_dir: Path
) -> None:
    """A 100 M pixel image printed Pillow's DecompressionBombWarning (two lines of its source)
    before the error; a 400 M one named Pillow's limit (178956970), not imgsearch's."""
    (tmp_path / "big.png").write_bytes(png_header(10_000, 10_000))
    (tmp_path / "bomb.png").write_bytes(png_header(20_000, 20_000))
    done = run_cli(["--model-path", str(models_dir), "embed", "big.png", "bomb.png"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Warning" not in done.stderr and "warn" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and all("exceeds the limit of 90.0 million" in x for x in lines), lines


def test_an_empty_library_or_path_is_never_the_current_folder(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """IMGSEARCH_LIBRARY= (set but empty: a script's unset variable) made the current folder
    the library: imgsearch.sqlite3 and index.faiss were written among the user's photos; so
    did `--library ""` (now a usage error, as an empty path is)."""
    (tmp_path / "photos").mkdir()
    shutil.copyfile(photo_paths(data_dir, 1)[0], tmp_path / "photos" / "one.jpg")
    args = ["--model-path", str(models_dir), "index", "--no-progress", "photos"]
    done = run_cli(args, tmp_path, env={"IMGSEARCH_LIBRARY": ""}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "imgsearch-library" / "imgsearch.sqlite3").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgsearch-library", "photos"]
    done = run_cli(["--library", "", *args], tmp_path, timeout=60)  # --library "$UNSET"
    assert done.returncode == 2 and "'--library': is empty" in done.stderr, done.stderr
    assert not (tmp_path / "imgsearch.sqlite3").exists()
    # `remove ""` removed every image under the current folder (the whole library here) and
    # `index ""` indexed the current folder as a new collection
    for command in (["remove", ""], ["index", ""], ["eval", "make-copies", "photos", ""]):
        done = run_cli(command, tmp_path, timeout=60)
        assert done.returncode == 2 and "is empty (an unset variable?)" in done.stderr, command
    stats = json.loads(run_cli(["stats", "--json"], tmp_path, timeout=60).stdout)
    assert stats["images"] == 1 and len(stats["collections"]) == 1, stats
    # the last run in words (it read "+1 ~0 >0 -0 !0")
    text = run_cli(["stats"], tmp_path, timeout=60).stdout
    assert "1 added, 0 updated, 0 moved, 0 removed, 0 failed" in text, text


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["index", "photos", "--exclude", ""], "--exclude"),  # --exclude "$UNSET"
        (["index", "photos", "--exclude", "*.raw", "--exclude", "  "], "--exclude"),
        (["index", "photos", "--descriptor", ""], "--descriptor"),  # was: reset to default
        # were: the library folder's SQLite file (not the server's database), a local run,
        # "hymenoptera: no items"
        (["--database-url", "", "index", "photos"], "--database-url"),
        (["index", "photos", "--executor", ""], "--executor"),
        (["eval", "run", "photos", "--split", ""], "--split"),
        (["serve", "--allow-host", ""], "--allow-host"),
        (["serve", "--token", ""], "--token"),  # was: no token on loopback, silently
        (["classify", "photo.jpg", "--allow", ""], "--allow"),
        (["classify", "photo.jpg", "--deny", ""], "--deny"),
        (["dedup", "--keeper-rules", ""], "--keeper-rules"),  # was: no rule, silently
        (["dedup", "-o", ""], "-o' / '--output"),  # was: "cannot tell the format from ."
        (["clusters", "-o", ""], "-o' / '--output"),  # was: "cannot write ... to ."
        (["eval", "run", "photos", "--plot", ""], "--plot"),
        (["--model-path", "", "stats"], "--model-path"),
        # was ".: is a directory, not an image file" (search, lookup), " is not an image of
        # this library" (similar), an indented "ERROR: cannot read file" naming no file
        (["search", ""], "IMAGE"),
        (["lookup", ""], "IMAGE"),
        (["similar", ""], "PATH_OR_ID"),
        (["embed", ""], "IMAGES..."),
        (["classify", " "], "IMAGES..."),
        (["labels", ""], "WORD"),  # was exit 1, "give a word to search labels for"
        (["db", "upgrade", ""], "[REVISION]"),  # were Alembic's AssertionError, a traceback
        (["db", "downgrade", ""], "REVISION"),
    ],
)
def test_an_empty_pattern_or_name_is_a_usage_error_naming_its_option(
    tmp_path: Path, args: list[str], option: str
) -> None:
    """`index --exclude ''` was accepted and silently dropped (an unset variable in a nightly
    script's `--exclude "$SKIP"` indexed what it meant to skip), and so were the other
    repeatable patterns and names; an empty query image, label word or schema revision got
    a misleading message or a traceback: each is now a usage error naming its option or
    argument, before any work (no library is made)."""
    (tmp_path / "photos").mkdir()
    done = run_cli(args, tmp_path, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: Invalid value for '{option}': is empty"), last
    assert not (tmp_path / "imgsearch-library").exists()


def test_an_empty_library_says_why_a_search_finds_nothing(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A first `index` of a folder without photos (a typo, the wrong folder) said "0 files
    processed" and the searches after it "no results" (lookup: three empty sections): the
    index now warns, and `search` / `lookup` say the library has nothing indexed yet and
    what to run (exit 0, as any search without results; --json stays the plain answer)."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("not a photo")
    query = tmp_path / "query.jpg"
    shutil.copyfile(photo_paths(data_dir, 1)[0], query)
    model = ["--model-path", str(models_dir)]
    done = run_cli([*model, "index", "--no-progress", "docs"], tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "docs: no image or video files in it (1 file of other kinds)" in done.stdout
    for command in ("search", "lookup"):
        done = run_cli([command, "query.jpg"], tmp_path, timeout=120)
        assert done.returncode == 0 and not done.stderr.strip(), done.stderr
        (line,) = done.stdout.strip().splitlines()
        assert line.startswith("no results: the library has no indexed images yet"), line
        assert "imgsearch index DIR" in line
        answer = run_cli([command, "query.jpg", "--json"], tmp_path, timeout=120)
        assert json.loads(answer.stdout)["results"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["dedup", "-o", "{out}/r.html/"],
        ["clusters", "-o", "{out}/c.json/"],
        ["eval", "{out}", "--plot", "{out}/pr.png/"],
    ],
)
def test_an_output_file_named_as_a_folder_is_a_usage_error(tmp_path: Path, args) -> None:  # type: ignore[no-untyped-def]
    """`dedup -o out/r.html/` wrote out/r.html (Path() drops the trailing "/"), exit 0: a
    name that ends with "/" is a folder's, where a file is asked for (a new user's audit)."""
    argv = ["--library", str(tmp_path / "lib"), *[a.format(out=tmp_path / "out") for a in args]]
    done = run_cli(argv, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "ends with '/', a folder's name: give a file name" in done.stderr
    assert not (tmp_path / "out").exists()
