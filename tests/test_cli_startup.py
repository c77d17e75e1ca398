"""Start-up of the command line: help and light commands do not load the heavy libraries.

Each check runs ``imgsearch`` in a fresh interpreter and reads ``sys.modules`` at exit: a
behaviour (what a command loads), not a timing.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import click
import pytest

from cli.main import LAZY_COMMANDS, cli, load_all_commands, short_help
from tests.cli_process import REPO, cli_env, relative_library, run_cli
from tests.indexer_helpers import photo_paths

HEAVY = ("onnxruntime", "faiss", "sqlalchemy", "alembic", "numpy", "PIL", "flask", "mako")

PROBE = """
import atexit, json, sys
HEAVY = set(json.loads(sys.argv[1]))
def report():
    loaded = sorted({m.split('.')[0] for m in sys.modules} & HEAVY)
    sys.__stderr__.write('LOADED ' + json.dumps(loaded) + '\\n')
atexit.register(report)
sys.argv = ['imgsearch', *sys.argv[2:]]
from cli.main import main
main()
"""


def loaded_by(*args: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """The heavy top-level packages that ``imgsearch ARGS`` imported, and the process."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *args],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED "))
    return json.loads(line.removeprefix("LOADED ")), done


@pytest.mark.parametrize("args", [("--help",), ("index", "--help"), ("--version",)])
def test_help_imports_no_heavy_library(args: tuple[str, ...]) -> None:
    loaded, done = loaded_by(*args)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout or "version" in done.stdout
    assert loaded == [], f"imgsearch {' '.join(args)} imported {loaded}"


@pytest.mark.parametrize(
    "args",
    [
        ("search", "--help"),
        ("lookup", "--help"),
        ("dedup", "--help"),
        ("remove", "--help"),
        ("rebuild-index", "--help"),
        ("flags", "--help"),
        ("db", "check", "--help"),
        ("search", "-k", "0", "x.jpg"),  # a usage error
        ("lookup", "--threshold", "nan", "x.jpg"),
        ("search", "no-such-photo.jpg"),  # a query file that is not there: 1.1 -> 0.2 s
        ("lookup", "no-such-photo.jpg"),
    ],
)
def test_a_commands_help_and_usage_errors_load_no_engine(args: tuple[str, ...]) -> None:
    """`imgsearch search --help` (or a usage error of search, lookup, dedup, remove...) took
    0.6-1.1 s: the command's module imported the engine (SQLAlchemy, FAISS, Alembic) for its
    type hints and constants. They load when the command runs now (0.15-0.3 s)."""
    loaded, done = loaded_by(*args)
    assert done.returncode in (0, 1, 2), done.stderr
    if "no-such-photo.jpg" in args:  # what is said is the missing file
        assert "no such file" in done.stderr or "does not exist" in done.stderr, done.stderr
    assert not {"sqlalchemy", "faiss", "alembic", "onnxruntime"} & set(loaded), loaded


def test_stats_of_a_missing_library_says_so_before_importing_anything_heavy(
    tmp_path: Path,
) -> None:
    """It imported SQLAlchemy, NumPy and FAISS (~1 s) to say there is no library."""
    loaded, done = loaded_by("--library", str(tmp_path / "none"), "stats")
    assert done.returncode == 1 and "no library database at" in done.stderr, done.stderr
    assert loaded == [], f"stats of a missing library imported {loaded}"
    assert not (tmp_path / "none").exists()  # and created nothing


def test_root_help_lists_every_command_with_its_own_help() -> None:
    load_all_commands()
    ctx = click.Context(cli)
    registered = {name: cli.commands[name] for name in cli.commands}
    assert set(registered) == set(LAZY_COMMANDS)
    for name, command in registered.items():
        module, text = LAZY_COMMANDS[name]
        assert command.callback.__module__ == module or isinstance(command, click.Group)
        for limit in (30, 60, 200):
            assert short_help(text, limit) == command.get_short_help_str(limit), name
    assert cli.list_commands(ctx) == sorted(LAZY_COMMANDS)


def test_python_m_cli_main_runs_the_commands() -> None:
    """``python -m cli.main labels --help`` said "No such command 'labels'" (the commands
    registered on cli.main's group, not on the __main__ module's)."""
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "labels", "--help"],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "WORD" in done.stdout, done.stderr


def test_every_subcommand_is_reachable_through_the_lazy_group() -> None:
    """A group's subcommands, defined in any module of the cli package, are all there when
    only that group was looked up (as `imgsearch GROUP SUB` does in a fresh process)."""
    load_all_commands()
    groups = {
        name: sorted(command.commands)
        for name, command in cli.commands.items()
        if isinstance(command, click.Group)
    }
    probe = (
        "import json, click; from cli.main import cli; "
        "ctx = click.Context(cli); names = json.loads(input()); "
        "print(json.dumps({n: sorted(cli.get_command(ctx, n).commands) for n in names}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        input=json.dumps(sorted(groups)),
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == groups


def test_index_kind_choices_are_the_index_registry() -> None:
    from cli.index_cmds import INDEX_KINDS
    from search.index import ALL_KINDS
    from search.settings import INDEX_KINDS as SETTINGS_KINDS

    assert INDEX_KINDS == SETTINGS_KINDS == ALL_KINDS


@pytest.mark.slow
def test_stats_at_head_loads_no_alembic_then_nothing_heavy_until_the_library_changes(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    from search.store import migrate

    assert migrate.light_head() == migrate.head_revision()
    relative_library(tmp_path, photo_paths(data_dir, 3), models_dir)
    library = ("--library", str(tmp_path / "imgsearch-library"))
    # the index run left the figures beside the library: the first stats after it loads
    # nothing heavy (it read the library: ~1 s of imports)
    loaded, done = loaded_by(*library, "stats", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["images"] == 3, done.stderr
    assert loaded == [], f"the first stats after index imported {loaded}"
    # they are the figures read from the library, which is read when they are gone
    (tmp_path / "imgsearch-library" / "stats.json").unlink()
    loaded, fresh = loaded_by(*library, "stats", "--json")
    assert fresh.returncode == 0 and json.loads(fresh.stdout) == json.loads(done.stdout)
    assert "alembic" not in loaded and "sqlalchemy" in loaded
    # unchanged since: the figures come from the summary saved beside it, nothing heavy loads
    loaded, again = loaded_by(*library, "stats", "--json")
    assert again.returncode == 0 and json.loads(again.stdout) == json.loads(done.stdout)
    assert loaded == [], f"stats of an unchanged library imported {loaded}"
    # a write shows at the next stats: remove leaves the new figures, nothing heavy loads
    removed = subprocess.run(
        [sys.executable, "-c", PROBE, "[]", *library, "remove", "--yes", "photos"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert removed.returncode == 0, removed.stderr
    loaded, after = loaded_by(*library, "stats")
    assert after.returncode == 0 and "0 indexed" in after.stdout, after.stderr
    assert loaded == [], f"the stats after remove imported {loaded}"
    # a write of another program (the database file changed): the library is read again
    database = tmp_path / "imgsearch-library" / "imgsearch.sqlite3"
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("CREATE TABLE scratch (x)")
    loaded, again = loaded_by(*library, "stats")
    assert again.returncode == 0 and "0 indexed" in again.stdout, again.stderr
    assert "sqlalchemy" in loaded


def test_an_unchanged_index_run_never_opens_the_model(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A nightly re-run with nothing new spent ~0.2 s CPU opening the ONNX session it never
    used; the model now opens once the run has files to embed."""
    photos = photo_paths(data_dir, 4)
    relative_library(tmp_path, photos[:3], models_dir)
    args = ("--library", str(tmp_path / "imgsearch-library"), "index", "--json")
    folder = str(tmp_path / "photos")
    loaded, done = loaded_by(*args, folder)
    summary = json.loads(done.stdout)
    assert done.returncode == 0 and summary["unchanged"] == 3, done.stderr
    assert "onnxruntime" not in loaded and "sqlalchemy" in loaded
    (tmp_path / "photos" / photos[3].name).write_bytes(photos[3].read_bytes())
    loaded, done = loaded_by(*args, folder)
    summary = json.loads(done.stdout)
    assert done.returncode == 0 and (summary["added"], summary["failed"]) == (1, 0), done.stderr
    assert "onnxruntime" in loaded
    # the new photo was embedded by the model: it is its own first hit
    found = run_cli(["search", f"photos/{photos[3].name}", "--json", "-k", "1"], tmp_path)
    first = json.loads(found.stdout)["results"][0]
    assert first["path"].endswith(photos[3].name) and first["score"] > 0.99, found.stderr


def test_model_opened_in_the_background_embeds_alike_and_reports_errors_on_use(
    models_dir: Path,
) -> None:
    """``imgsearch index`` opens its ONNX session while the first files decode."""
    import dataclasses

    import numpy as np

    from models import ModelSpecError, OnnxModel, locate_model

    located = locate_model("mobilenet_v3_small_100", [models_dir])
    batch = np.random.default_rng(0).integers(0, 255, (2, 224, 224, 3), dtype=np.uint8)
    eager = OnnxModel(located).run(batch).embeddings
    assert np.allclose(OnnxModel(located, background=True).run(batch).embeddings, eager)
    lazy = OnnxModel(located, lazy=True)  # opened by its first use, from any thread, once
    assert lazy._session is None and lazy._opening is None
    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(lambda _: lazy.run(batch).embeddings, range(4)))
    assert all(np.allclose(out, eager) for out in outputs)
    assert lazy._opening is not None and lazy._session is not None
    wrong = dataclasses.replace(located, spec=dataclasses.replace(located.spec, dimension=512))
    broken = OnnxModel(wrong, background=True)  # no error yet: nothing has used it
    with pytest.raises(ModelSpecError, match="512"):
        broken.run(batch)
