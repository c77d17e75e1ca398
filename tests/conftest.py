"""Shared fixtures: the real models and photo sets live in ../shared, never in the repo."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Index runs made inside the test process decode in threads: worker processes forked
    from a pytest worker (a large process) cost the suite ~1.5 min; the commands the tests run
    as subprocesses (``tests.cli_process``: no IMGSEARCH_* passed on) use them as a user's do,
    and ``tests/test_decode_processes.py`` tests them.

    Compile the project's modules once, before the workers start: the suite starts the
    CLI and the server in hundreds of subprocesses, and where PYTHONDONTWRITEBYTECODE is set
    (as in this project's sandboxes) each one compiled every module of ours from source
    again (~0.2 s of CPU apiece). Bytecode is still read where writing it is forbidden."""
    os.environ.setdefault("IMGSEARCH_DECODE_PROCESSES", "0")  # inherited by xdist workers
    if hasattr(config, "workerinput"):  # an xdist worker: the controller did it
        return
    import compileall

    for package in ("cli", "indexer", "migrations", "models", "search", "web"):
        compileall.compile_dir(REPO_ROOT / package, quiet=2, workers=1)
    _cache_rewritten_test_modules(config)


def _cache_rewritten_test_modules(config: pytest.Config) -> None:
    """Write pytest's assertion-rewritten form of the test modules once, for every worker to
    read: where bytecode may not be written pytest rewrites each module again in each xdist
    worker (~5 s of CPU apiece), but it reads a cached form that is there (checked against
    the source's hash). Only where pytest's internals are as expected; else nothing."""
    if config.getoption("assertmode", "rewrite") != "rewrite":
        return
    try:
        from _pytest.assertion import rewrite

        state = config.stash[rewrite.assertstate_key]
        here = Path(__file__).resolve()
        for source in [here, *sorted(here.parent.glob("test_*.py"))]:
            pyc = rewrite.get_cache_dir(source) / (source.name[:-3] + rewrite.PYC_TAIL)
            if rewrite._read_pyc(source, pyc) is None:
                pyc.parent.mkdir(exist_ok=True)
                source_hash, code = rewrite._rewrite_test(source, config)
                rewrite._write_pyc(state, code, source_hash, pyc)
    except (ImportError, AttributeError, KeyError, TypeError, OSError):
        return


def _shared_dir() -> Path:
    return Path(os.environ.get("IMGSEARCH_SHARED", REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session", autouse=True)
def no_library_from_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Commands the tests run in-process without --library see no library, as in a clean
    checkout: never the ./imgsearch-library that README's quick start makes in this folder
    (whose remembered model folder would answer for a missing --model-path)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("IMGSEARCH_LIBRARY", str(tmp_path_factory.mktemp("no-library") / "none"))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = _shared_dir()
    if not (path / "models").is_dir() or not (path / "data").is_dir():
        pytest.skip(f"shared models/data not found at {path} (set IMGSEARCH_SHARED)")
    return path


@pytest.fixture(scope="session")
def models_dir(shared_dir: Path) -> Path:
    return shared_dir / "models"


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    return shared_dir / "data"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep artifacts a person may look at (screenshots, reports)."""
    path = Path(os.environ.get("IMGSEARCH_ARTIFACTS", REPO_ROOT / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- the store's two back ends: SQLite (always) and PostgreSQL (tests marked ``postgres``) ----


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that uses ``backend`` (itself or through a fixture) runs on SQLite, and on
    PostgreSQL too when it is marked ``postgres``: one library per back end and module."""
    if "backend" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("postgres") is not None
        backends = ["sqlite", "postgresql"] if both else ["sqlite"]
        metafunc.parametrize("backend", backends, indirect=True, scope="module")


_OUTCOMES: dict[str, dict[str, int]] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with costly (``slow``) tests run first, the quick ones last, each file's tests
    together and in their order: pytest-xdist hands out whole files (``--dist loadfile``)
    in this order, and the costly ones (browsers, videos, the web pages) came last in the
    alphabet, where one worker still ran them while the other had nothing left; quick files
    at the end fill in. Each test's report carries the back end its library runs on (a
    property: with pytest-xdist the workers collect, the main process counts)."""
    costly = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    place = {item.nodeid: i for i, item in enumerate(items)}
    items.sort(key=lambda item: (item.nodeid.split("::")[0] not in costly, place[item.nodeid]))
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        names = getattr(item, "fixturenames", ())
        if "backend" in params:
            item.user_properties.append(("store_backend", str(params["backend"])))
        elif "postgres_server" in names:
            item.user_properties.append(("store_backend", "postgresql"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    backend = dict(report.user_properties).get("store_backend")
    if backend is None or not (report.when == "call" or report.outcome != "passed"):
        return
    counts = _OUTCOMES.setdefault(backend, {})
    counts[report.outcome] = counts.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """Tests per store back end (what `.ci/run` shows of the PostgreSQL run)."""
    if _OUTCOMES:
        line = "; ".join(
            f"{backend}: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
            for backend, counts in sorted(_OUTCOMES.items())
        )
        terminalreporter.write_line(f"store back ends: {line}")


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """The tests' PostgreSQL server (tests/postgres.py): the one given by
    IMGSEARCH_TEST_POSTGRES_URL, else a throwaway cluster; skipped where none can be started
    (a failure in CI: IMGSEARCH_TEST_POSTGRES_REQUIRED=1 or CI set)."""
    from tests import postgres

    cluster = None
    try:
        url = os.environ.get(postgres.ENV_URL)
        if not url:
            cluster = postgres.Cluster()
            url = cluster.start()
        throwaway = cluster is not None or bool(os.environ.get(postgres.ENV_THROWAWAY))
        server = postgres.Server(url, throwaway=throwaway)
    except Exception as error:  # no binaries, no server, no psycopg...
        if cluster is not None:
            cluster.stop()
        reason = f"PostgreSQL cannot be started here ({type(error).__name__}: {error})"
        if postgres.required():
            pytest.fail(reason)
        pytest.skip(reason + "; set IMGSEARCH_TEST_POSTGRES_URL or install postgresql")
    yield server
    server.close()
    if cluster is not None:
        cluster.stop()


@pytest.fixture(scope="module")
def new_database_url(backend: str, request: pytest.FixtureRequest) -> Callable[[], str | None]:
    """``new_database_url()``: a fresh library database's URL on this back end (None on
    SQLite: the library's own file)."""
    if backend != "postgresql":
        return lambda: None
    server = request.getfixturevalue("postgres_server")
    return lambda: server.database()  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def database_url(new_database_url: Callable[[], str | None]) -> str | None:
    """A fresh database for this test's library (None: SQLite in the library)."""
    return new_database_url()


# -- the web tests' library and app (tests/web_library.py), one per test module ------------


@pytest.fixture(scope="module")
def weblib(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path, new_database_url
):  # type: ignore[no-untyped-def]
    """One library per module and back end (tests marked ``postgres`` see both)."""
    from tests.web_library import web_library

    root = tmp_path_factory.mktemp("web")
    built = tmp_path_factory.getbasetemp() / "web-library-built"
    return web_library(root, data_dir, models_dir, new_database_url(), built)


@pytest.fixture(scope="module")
def app(weblib):  # type: ignore[no-untyped-def]
    from web.app import create_app

    app = create_app(weblib.settings)
    yield app
    app.extensions["imgsearch"].close()


@pytest.fixture(scope="module")
def ids(app) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from tests.web_library import library_ids

    return library_ids(app)


@pytest.fixture()
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture(scope="module")
def copies_library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    """A library of ten photos and two edited copies of the first, a third edit the query
    (tests/engine_library.py: ``copies_library``); one per test module."""
    from tests.engine_library import copies_library as build

    return build(tmp_path_factory.mktemp("witness"), data_dir, models_dir)
