"""Every command, run as a user runs it (a subprocess), with something in the way: a read-only
or locked library, a database of another program or of a newer imgsearch, an output folder
that cannot be written, a busy port. Each must fail with one line saying what is wrong and
what to do, a non-zero exit, and never a traceback (issue 10, item 6)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest

from cli.main import cli
from tests.cli_process import AS_USER, CANNOT_DROP_ROOT, relative_library, run_cli
from tests.indexer_helpers import photo_paths


def leaf_commands(group: click.Group, prefix: str = "") -> set[str]:
    names: set[str] = set()
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the root group loads its commands lazily
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            names |= leaf_commands(command, f"{prefix}{name} ")
        else:
            names.add(prefix + name)
    return names


def read_only(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        mode = item.stat().st_mode
        item.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture(scope="module")
def home(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path
) -> Iterator[Path]:
    """A folder with photos/, a good library and broken copies of it beside."""
    home = tmp_path_factory.mktemp("errors")
    relative_library(home, photo_paths(data_dir, 3), models_dir)
    good = home / "imgsearch-library"
    foreign = home / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "imgsearch.sqlite3") as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    shutil.copytree(good, home / "newer")
    with sqlite3.connect(home / "newer" / "imgsearch.sqlite3") as db:
        db.execute("UPDATE alembic_version SET version_num = '0999'")
    shutil.copytree(good, home / "locked")
    shutil.copytree(good, home / "damaged")
    damaged = home / "damaged" / "imgsearch.sqlite3"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])  # truncated
    shutil.copytree(good, home / "readonly")
    read_only(home / "readonly")
    (home / "closed").mkdir()
    read_only(home / "closed")
    yield home
    for folder in (home / "readonly", home / "closed"):
        for item in [folder, *folder.rglob("*")]:
            item.chmod(item.stat().st_mode | stat.S_IWUSR)


@contextmanager
def nothing(_home: Path) -> Iterator[None]:
    yield


@contextmanager
def writer_running(home: Path) -> Iterator[None]:
    """Another process's writer lock on the 'locked' library (as an index run holds it)."""
    with open(home / "locked" / ".writer.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


PHOTO = "photos/" + "{photo}"
FOREIGN = "not an imgsearch library"
NEWER = "newer than this imgsearch"
BUSY = "another imgsearch process is writing"
READ_ONLY = "read-only for this user"
CLOSED = "cannot write"

# (command, arguments after `imgsearch`, what the message must say, setting)
CASES = [
    ("index", ["--library", "readonly", "index", "photos"], READ_ONLY, nothing),
    ("index", ["--library", "foreign", "index", "photos"], FOREIGN, nothing),
    ("reindex", ["--library", "locked", "reindex"], BUSY, writer_running),
    ("remove", ["--library", "locked", "remove", "photos"], BUSY, writer_running),
    ("remove", ["--library", "readonly", "remove", "photos"], READ_ONLY, nothing),
    ("rebuild-index", ["--library", "readonly", "rebuild-index"], READ_ONLY, nothing),
    ("db current", ["--library", "foreign", "db", "current"], FOREIGN, nothing),
    ("db upgrade", ["--library", "newer", "db", "upgrade"], NEWER, nothing),
    ("db downgrade", ["--library", "locked", "db", "downgrade", "0002"], BUSY, writer_running),
    ("db check", ["--library", "damaged", "db", "check"], "is damaged", nothing),
    ("dedup", ["dedup", "--output", "closed/sub/report.html"], CLOSED, nothing),
    ("lookup", ["--library", "newer", "lookup", PHOTO], NEWER, nothing),
    ("clusters", ["--library", "foreign", "clusters"], FOREIGN, nothing),
    ("clusters", ["clusters", "--format", "html", "-o", "closed/sub/c.html"], CLOSED, nothing),
    ("outliers", ["--library", "newer", "outliers"], NEWER, nothing),
    ("flags", ["--library", "foreign", "flags"], FOREIGN, nothing),
    ("search", ["--library", "foreign", "search", PHOTO], FOREIGN, nothing),
    ("similar", ["--library", "foreign", "similar", PHOTO], FOREIGN, nothing),
    ("labels", ["--library", "newer", "labels", "ant"], NEWER, nothing),
    ("stats", ["--library", "foreign", "stats"], FOREIGN, nothing),
    ("serve", ["serve", "--port", "{busy_port}"], "Address already in use", nothing),
    ("serve", ["--library", "newer", "serve", "--port", "0"], NEWER, nothing),
    ("embed", ["embed", "missing.jpg"], "no such file", nothing),
    (
        "classify",
        ["classify", "--model", "mobilenet_v3_small_075", PHOTO],
        "no class head",
        nothing,
    ),
    ("models list", ["models", "list"], "IMGSEARCH_DEDUP_THRESHOLD", nothing),
    ("eval run", ["eval", "run", "{ukbench}", "--plot", "closed/pr.png"], CLOSED, nothing),
    ("eval make-copies", ["eval", "make-copies", "photos", "closed/copies"], CLOSED, nothing),
]
ENV = {"models list": {"IMGSEARCH_DEDUP_THRESHOLD": "high"}}


def test_every_command_has_a_case() -> None:
    assert {command for command, *_ in CASES} == leaf_commands(cli)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "args", "says", "setting"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_bad_input_gets_one_line_and_no_traceback(
    home, data_dir, command, args, says, setting
) -> None:  # type: ignore[no-untyped-def]
    if CANNOT_DROP_ROOT and says in (READ_ONLY, CLOSED):
        pytest.skip("running as root without setpriv: permission bits do not apply")
    photo = sorted((home / "photos").iterdir())[0].name
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        values = {
            "photo": photo,
            "busy_port": busy.getsockname()[1],
            "ukbench": data_dir / "ukbench_subset",
        }
        argv = [arg.format(**values) for arg in args]
        with setting(home):
            done = run_cli(argv, home, env=ENV.get(command), prefix=AS_USER, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    assert says.lower() in output.lower(), output
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    if errors:  # a command's own failure: one line that says what is wrong and what to do
        assert len(errors) == 1 and len(done.stderr.splitlines()) == 1, done.stderr


@pytest.mark.slow
def test_dedup_creates_the_report_folder_it_is_given(home) -> None:  # type: ignore[no-untyped-def]
    done = run_cli(["dedup", "--output", "reports/2026/dups.html"], home)
    assert done.returncode == 0, done.stderr
    report = home / "reports" / "2026" / "dups.html"
    assert report.read_text().lstrip().startswith("<!")
    # Readable as any new file of the user's is (umask), like `clusters -o`: it was 0600.
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(report.stat().st_mode) == 0o666 & ~mask


def test_a_failed_first_index_leaves_no_library_behind(tmp_path: Path, data_dir: Path) -> None:
    """A wrong folder, no folder, or a model file that is not there: said before anything is
    created, so the next (right) command starts from nothing, not from an empty library."""
    no_models = tmp_path / "no-models"
    no_models.mkdir()
    photos = data_dir / "hymenoptera"
    cases = [
        (["index", "missing-folder"], "no such directory"),
        (["index"], "no collections yet"),
        (["--model-path", str(no_models), "index", str(photos)], "mobilenet_v3_small_100_224.onnx"),
    ]
    for args, said in cases:
        done = run_cli(args, tmp_path, timeout=120)
        assert done.returncode == 1, done.stderr
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


@pytest.mark.slow
def test_a_video_query_is_named_and_explained(home) -> None:  # type: ignore[no-untyped-def]
    """A broken clip is named in the error (it said "query: not a readable video"); an
    animation searched in a library of photos says why nothing came (it said "no results")."""
    from PIL import Image

    (home / "broken.mp4").write_bytes(b"not a video at all")
    done = run_cli(["search", "broken.mp4"], home)
    assert done.returncode == 1 and done.stderr.startswith("Error: broken.mp4: "), done.stderr
    assert "Traceback" not in done.stderr
    frames = [Image.new("RGB", (64, 64), (40 * i, 90, 0)) for i in range(4)]
    frames[0].save(home / "anim.gif", save_all=True, append_images=frames[1:], duration=200)
    done = run_cli(["search", "anim.gif"], home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("no results: anim.gif is a video"), done.stdout
    assert "library's videos" in done.stdout


def test_serve_on_a_host_it_cannot_use_says_so(tmp_path: Path) -> None:
    """A --host that is no address of this machine (a typo, a name that does not resolve):
    exit 2 naming --host, no traceback (waitress's ValueError came through)."""
    for host in ("nosuchhost.invalid", "999.1.1.1"):
        done = run_cli(["serve", "--host", host, "--port", "0"], tmp_path, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "'--host'" in done.stderr and "neither an IP address" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "imgsearch-library").exists()


def test_serve_on_a_bracketed_ipv6_host_prints_a_working_address(tmp_path: Path) -> None:
    """`--host [::1]` printed http://[[::1]]:PORT/; the address printed is one to open."""
    import urllib.request

    from tests.cli_process import ENTRY, cli_env
    from tests.served import serving

    command = [*ENTRY, "serve", "--host", "[::1]", "--port", "0", "--threads", "2"]
    with serving(command, tmp_path, cli_env()) as server:
        assert server.url.startswith("http://[::1]:"), server.url
        with urllib.request.urlopen(server.url + "/static/app.css", timeout=30) as answer:
            assert answer.status == 200


def test_a_setting_out_of_range_names_its_variable(tmp_path: Path) -> None:
    """IMGSEARCH_DEDUP_THRESHOLD=5 said "threshold must be in (0, 1], got 5.0" (at lookup or
    dedup: which threshold?), a negative decode budget was clamped, a negative thread count
    passed, IMGSEARCH_INDEX=bogus let `index` build a flat index and exit 0: each is one line
    naming the variable and what it may be."""
    cases = {
        "IMGSEARCH_INDEX": ("bogus", "one of auto, flat, hnsw, ivf-sq8, ivfpq-ondisk"),
        "IMGSEARCH_DEDUP_THRESHOLD": ("5", "a copy score above 0 and at most 1"),
        "IMGSEARCH_DECODE_BUDGET_MB": ("-5", "at least 64"),
        "IMGSEARCH_THREADS": ("-1", "0 (automatic) or more"),
        "IMGSEARCH_LOCK_WAIT": ("-3", "0 or more seconds"),
    }
    for name, (value, said) in cases.items():
        done = run_cli(["stats"], tmp_path, env={name: value}, timeout=60)
        assert done.returncode == 1, done.stderr
        assert f"{name}='{value}' must be {said}" in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr


def test_a_bad_executor_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    """IMGSEARCH_EXECUTOR=bogus said "Invalid value for '--executor'" (an option the user
    never gave): now one line naming the variable and its value, before any work; the option
    itself is still a usage error naming ``--executor``."""
    (tmp_path / "photos").mkdir()
    env = {"IMGSEARCH_EXECUTOR": "bogus"}
    done = run_cli(["index", "--no-progress", "photos"], tmp_path, env=env, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: IMGSEARCH_EXECUTOR='bogus': give 'local'"), done.stderr
    assert "--executor" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    done = run_cli(["index", "--executor", "bogus", "photos"], tmp_path, timeout=60)
    assert done.returncode == 2 and "'--executor'" in done.stderr, done.stderr
    assert "IMGSEARCH_EXECUTOR" not in done.stderr, done.stderr  # the option, not the variable
    assert not (tmp_path / "imgsearch-library").exists()


def test_db_check_of_an_empty_database_file_says_there_is_no_library(tmp_path: Path) -> None:
    """An empty SQLite file where the library's database belongs (``touch``, a failed copy)
    passed ``db check`` as "ok" while every other command refused it: now one line saying it
    holds no library yet and what creates one."""
    (tmp_path / "imgsearch-library").mkdir()
    (tmp_path / "imgsearch-library" / "imgsearch.sqlite3").touch()
    done = run_cli(["db", "check"], tmp_path, timeout=60)
    assert done.returncode == 1 and "ok (" not in done.stdout, done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert "has no imgsearch library yet" in line and "`imgsearch index PATH`" in line, line


def test_help_names_the_environment_variables_readme_documents(tmp_path: Path) -> None:
    """README documents IMGSEARCH_LIBRARY, IMGSEARCH_DATABASE_URL, IMGSEARCH_EXECUTOR and
    IMGSEARCH_TOKEN beside their options; no ``--help`` said so (a user who set one in a
    shell profile could not find where a value came from)."""
    cases = {
        (): ("IMGSEARCH_LIBRARY", "IMGSEARCH_DATABASE_URL", "IMGSEARCH_MODEL_PATH"),
        ("index",): ("IMGSEARCH_EXECUTOR",),
        ("reindex",): ("IMGSEARCH_EXECUTOR",),
        ("serve",): ("IMGSEARCH_TOKEN",),
    }
    for command, names in cases.items():
        done = run_cli([*command, "--help"], tmp_path, timeout=60)
        assert done.returncode == 0, done.stderr
        text = " ".join(done.stdout.split())  # wrapped to the terminal's width
        for name in names:
            assert name in text, (command, name, done.stdout)


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
    assert len(lines) == 2 and all("exceeds the limit of 90000000" in x for x in lines), lines


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
        (["serve", "--allow-host", ""], "--allow-host"),
        (["classify", "photo.jpg", "--allow", ""], "--allow"),
        (["classify", "photo.jpg", "--deny", ""], "--deny"),
        (["dedup", "--keeper-rules", ""], "--keeper-rules"),  # was: no rule, silently
        (["dedup", "-o", ""], "-o' / '--output"),  # was: "cannot tell the format from ."
        (["clusters", "-o", ""], "-o' / '--output"),  # was: "cannot write ... to ."
        (["eval", "run", "photos", "--plot", ""], "--plot"),
        (["--model-path", "", "stats"], "--model-path"),
    ],
)
def test_an_empty_pattern_or_name_is_a_usage_error_naming_its_option(
    tmp_path: Path, args: list[str], option: str
) -> None:
    """`index --exclude ''` was accepted and silently dropped (an unset variable in a nightly
    script's `--exclude "$SKIP"` indexed what it meant to skip), and so were the other
    repeatable patterns and names: each is now a usage error naming its option, before any
    work (no library is made)."""
    (tmp_path / "photos").mkdir()
    done = run_cli(args, tmp_path, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: Invalid value for '{option}': is empty"), last
    assert not (tmp_path / "imgsearch-library").exists()


@pytest.mark.slow
@pytest.mark.skipif(CANNOT_DROP_ROOT, reason="root reads every folder; setpriv is missing")
def test_a_query_in_a_folder_that_cannot_be_read_says_permission_denied(home) -> None:  # type: ignore[no-untyped-def]
    """`lookup locked/photo.jpg` said "File ... does not exist" of a photo whose folder it
    may not read; it now says what `search` says: the permission is denied."""
    locked = home / "locked-photos"
    locked.mkdir(exist_ok=True)
    shutil.copyfile(next((home / "photos").iterdir()), locked / "photo.jpg")
    locked.chmod(0)
    try:
        for command in ("lookup", "search"):
            done = run_cli([command, "locked-photos/photo.jpg"], home, prefix=AS_USER)
            assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
            (line,) = done.stderr.strip().splitlines()
            assert "Permission denied" in line and "does not exist" not in line, line
    finally:
        locked.chmod(0o755)


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


def test_an_unknown_keeper_rule_is_a_usage_error_before_any_work(tmp_path: Path) -> None:
    """`dedup --keeper-rules exif,bogus` failed with exit 1 after opening the library; it
    is now a usage error naming the option, as other bad option values are."""
    done = run_cli(["dedup", "--keeper-rules", "exif,bogus"], tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: Invalid value for '--keeper-rules'") and "bogus" in last


@pytest.mark.parametrize(
    ("args", "option", "default"),
    [
        (["serve", "--port", "70000"], "--port", "8000"),
        (["serve", "--threads", "0"], "--threads", "8"),
        (["eval", "make-copies", "--per-original", "0", "src", "out"], "--per-original", "20"),
        (["eval", "make-copies", "--distractors", "0.99", "src", "out"], "--distractors", "0.2"),
        (["lookup", "--others", "101", "x.jpg"], "--others", "5"),
        (["outliers", "--k", "31"], "--k", None),
        (["classify", "--score-threshold", "1.5", "x.jpg"], "--score-threshold", "0.0"),
        (["embed", "--interval", "0.01", "x.jpg"], "--interval", "2.0"),
    ],
)
def test_a_number_out_of_its_range_is_a_usage_error_and_help_shows_its_default(
    tmp_path: Path, args: list[str], option: str, default: str | None
) -> None:
    """The number options shared one shape written out in each command (serve's --port and
    --threads, eval make-copies', lookup's, outliers', classify's, embed's): now one helper
    (``cli.options.ranged_option``) makes them; each still refuses a value out of its range
    before any work, naming itself, and its help still shows the default."""
    done = run_cli(args, tmp_path, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: Invalid value for '{option}'") and "range" in last, last
    command = args[: 2 if args[0] == "eval" else 1]
    shown = run_cli([*command, "--help"], tmp_path, timeout=60).stdout
    assert option in shown and (default is None or f"[default: {default}" in shown), shown


def test_json_and_another_format_are_refused(tmp_path: Path) -> None:
    """`clusters --json --format html -o x.html` wrote JSON into x.html; `dedup --json` was
    "No such option" although every command that prints results takes --json."""
    for command in (["clusters"], ["dedup"]):
        done = run_cli([*command, "--json", "--format", "html", "-o", "x.html"], tmp_path)
        assert done.returncode == 2, done.stderr
        assert "--json and --format html ask for two formats" in done.stderr, done.stderr
    assert not (tmp_path / "x.html").exists()


@pytest.mark.slow
def test_dedup_takes_json_like_every_command(home) -> None:  # type: ignore[no-untyped-def]
    done = run_cli(["dedup", "--json"], home)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) >= {"threshold", "groups"}


@pytest.mark.parametrize(
    "args",
    [["--help"], ["models", "list"], ["index", "--help"]],
    ids=["help", "models-list", "command-help"],
)
def test_a_reader_that_leaves_ends_the_command_quietly(
    tmp_path: Path, models_dir: Path, args: list[str]
) -> None:
    """`imgsearch ... | head`: the reader is gone before the output is written; the command
    stops with status 1 (as click's own help does) and says nothing."""
    from tests.cli_process import ENTRY, cli_env

    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [*ENTRY, "--model-path", str(models_dir), *args],
            cwd=tmp_path,
            env=cli_env(),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("given", "says"),
    [("nothere", "nothere: no such folder"), ("photos/a.jpg", "photos/a.jpg: not a folder")],
)
def test_a_model_path_that_is_not_a_folder_is_named(
    tmp_path: Path, models_dir: Path, given: str, says: str
) -> None:
    """`--model-path` with a typo was searched silently - and ignored outright once the
    library remembered its model folder: the user never learnt the folder was not there."""
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"not searched")
    for model_path in (given, f"{models_dir}{os.pathsep}{given}"):
        done = run_cli(["--model-path", model_path, "stats"], tmp_path, timeout=60)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        said = f"Error: Invalid value for '--model-path': {says} (a folder to search for model"
        assert last == said + " files)", last


def test_a_model_path_variable_with_a_missing_folder_warns(
    tmp_path: Path, models_dir: Path
) -> None:
    """IMGSEARCH_MODEL_PATH's entries are searched as they are (a folder may come back), but
    one that is not there is named once on stderr; empty entries (``$X:...``) are not."""
    env = {"IMGSEARCH_MODEL_PATH": f":{models_dir}:nothere:"}
    done = run_cli(["stats"], tmp_path, env=env, timeout=60)
    warning = "Warning: IMGSEARCH_MODEL_PATH nothere: no such folder (a folder to search for"
    assert done.stderr.startswith(warning), done.stderr
    assert done.returncode == 1 and "no library database" in done.stderr
    fine = run_cli(["stats"], tmp_path, env={"IMGSEARCH_MODEL_PATH": f":{models_dir}:"})
    assert "Warning" not in fine.stderr, fine.stderr
