"""A throwaway PostgreSQL server for the tests, and a fresh database per library.

``IMGSEARCH_TEST_POSTGRES_URL`` (a server URL whose user may create databases, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) is used when given; otherwise a
cluster is made in a temporary folder with the PostgreSQL binaries found on this machine
(``initdb``/``pg_ctl`` on PATH or under ``/usr/lib/postgresql/*/bin``), run as an
unprivileged user when the tests run as root (``initdb`` refuses root), and removed at the
end. Databases are copied from a template that holds the schema at head (``CREATE DATABASE
... TEMPLATE``: milliseconds, no Alembic per test); :meth:`Server.database` ``empty=True``
gives one without tables (migration tests).

``.ci/run`` starts the server itself (``tests/postgres.py start``/``stop``) and exports the
URL (and ``IMGSEARCH_TEST_POSTGRES_THROWAWAY=1``: its databases are not dropped); with
``IMGSEARCH_TEST_POSTGRES_REQUIRED=1`` (or ``CI``) a missing server fails the tests instead
of skipping them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ENV_URL = "IMGSEARCH_TEST_POSTGRES_URL"
ENV_REQUIRED = "IMGSEARCH_TEST_POSTGRES_REQUIRED"
ENV_THROWAWAY = "IMGSEARCH_TEST_POSTGRES_THROWAWAY"  # the given server is removed afterwards


def required() -> bool:
    """Must the PostgreSQL tests run (CI), rather than skip where there is no server?"""
    return any(os.environ.get(name, "") not in ("", "0") for name in (ENV_REQUIRED, "CI"))


def find_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: Debian's versioned folder (newest), else PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user() -> list[str]:
    """The command prefix that drops root (initdb and postgres refuse to run as root)."""
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam("nobody")
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]


class Cluster:
    """A cluster in a temporary folder, owned by the user the server runs as."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path(tempfile.mkdtemp(prefix="imgsearch-pg-"))
        self.data = self.folder / "data"
        self.port_file = self.folder / "port"

    @property
    def url(self) -> str:
        port = int(self.port_file.read_text())
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def start(self) -> str:
        binaries = find_bin()
        if binaries is None:
            raise RuntimeError(
                "no PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql"
            )
        prefix = _as_user()
        if prefix:
            os.chown(self.folder, pwd.getpwnam("nobody").pw_uid, -1)
        run = {"check": True, "capture_output": True, "text": True, "cwd": self.folder}
        initdb = [str(binaries / "initdb"), "-D", str(self.data), "-U", "postgres"]
        subprocess.run(
            [*prefix, *initdb, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            **run,  # type: ignore[call-overload]
        )
        port = _free_port()
        options = (
            f"-p {port} -k {self.folder} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        pg_ctl = [str(binaries / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60"]
        subprocess.run(
            [*prefix, *pg_ctl, "-l", str(self.folder / "server.log"), "-o", options, "start"],
            **run,  # type: ignore[call-overload]
        )
        self.port_file.write_text(str(port))
        return self.url

    def stop(self) -> None:
        binaries = find_bin()
        if binaries is not None and self.data.exists():
            pg_ctl = [str(binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate"]
            subprocess.run(
                [*_as_user(), *pg_ctl, "-w", "stop"],
                capture_output=True,
                check=False,
                cwd=self.folder,
            )
        # in the background: hundreds of MB of copied databases and their WAL took 13-19 s
        # to delete on a busy machine, and nothing waits for them
        gone = self.folder.with_name(self.folder.name + ".gone")
        try:
            self.folder.rename(gone)
        except OSError:
            gone = self.folder
        subprocess.run(["sh", "-c", 'rm -rf "$1" >/dev/null 2>&1 &', "sh", str(gone)], check=False)


class Server:
    """Fresh databases on a server: copies of a template with the schema at head."""

    def __init__(self, url: str, *, throwaway: bool = False) -> None:
        from sqlalchemy import create_engine, make_url

        self.url = make_url(url)
        #: the whole server goes afterwards: its databases are left (each DROP DATABASE
        #: waits for a checkpoint: 30 s for a session's databases on a busy machine)
        self.throwaway = throwaway
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=_null())
        session = uuid.uuid4().hex[:8]  # test sessions may share a server
        self._names = (f"t_{session}_{n}" for n in itertools.count())
        self._made: list[str] = []
        self.template = f"t_{session}_template"
        self._execute(f"CREATE DATABASE {self.template}")
        self._made.append(self.template)
        from search.store import make_engine, migrate

        engine = make_engine(self.url_of(self.template))
        migrate.upgrade(engine)
        engine.dispose()

    def _execute(self, statement: str) -> None:
        from sqlalchemy import text

        with self._admin.connect() as connection:
            connection.execute(text(statement))

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def database(self, *, empty: bool = False) -> str:
        """A new database's URL: the schema at head (no library row yet), or nothing."""
        name = next(self._names)
        self._execute(f"CREATE DATABASE {name} TEMPLATE {'template0' if empty else self.template}")
        self._made.append(name)
        return self.url_of(name)

    def close(self) -> None:
        for name in [] if self.throwaway else reversed(self._made):
            with contextlib.suppress(Exception):
                self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._admin.dispose()


def _null():  # type: ignore[no-untyped-def]
    from sqlalchemy.pool import NullPool

    return NullPool


def main(argv: list[str]) -> int:
    """``python tests/postgres.py start FOLDER`` prints the URL; ``stop FOLDER`` removes it."""
    action, folder = argv[0], Path(argv[1])
    if action == "start":
        folder.mkdir(parents=True, exist_ok=True)
        print(Cluster(folder).start())
    else:
        Cluster(folder).stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
