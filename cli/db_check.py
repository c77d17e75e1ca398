"""``imgsearch db check``: is the library's database file intact, and if not, how to recover."""

from __future__ import annotations

import json

import click

from cli.admin_cmds import db
from cli.search_cmds import user_errors
from search.settings import Settings
from search.store import check_database, printable_url, recovery, require_database


@db.command("check")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print JSON: {"database", "ok", "problems", "recovery"}.',
)
@click.pass_context
@user_errors
def check(ctx: click.Context, as_json: bool) -> None:
    """Check the database file: its header and size, then SQLite's full integrity check
    (reads every page; a minute for a few GB); a PostgreSQL library: its tables and every
    vector's size. Exits 1 with what is wrong and how to recover."""
    settings: Settings = ctx.obj
    url = settings.resolved_database_url
    path = settings.database_path if settings.database_url is None else None
    if path is not None:
        require_database(url)
    problems = check_database(url)
    where = path or printable_url(url)
    if as_json:
        fix = recovery(path) if problems and path is not None else None
        click.echo(
            json.dumps(
                {"database": str(where), "ok": not problems, "problems": problems, "recovery": fix},
                indent=2,
            )
        )
        if problems:
            ctx.exit(1)
        return
    if not problems:
        checked = (
            "header, size and SQLite's integrity check"
            if path is not None or url.startswith("sqlite")
            else "the library's tables and every vector's size; the server checks its own "
            "pages (pg_amcheck)"
        )
        click.echo(f"{where}: ok ({checked})")
        return
    lines = [f"{where} is damaged:"] + [f"  {p}" for p in problems[:20]]
    if len(problems) > 20:
        lines.append(f"  ... and {len(problems) - 20} more")
    if path is not None:
        lines.append(f"To recover: {recovery(path)}.")
    click.echo("\n".join(lines), err=True)
    ctx.exit(1)
