"""``imgsearch serve``: the web UI and JSON API on waitress (a production WSGI server)."""

from __future__ import annotations

import ipaddress

import click

from cli.main import cli
from search.settings import Settings

LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1", "[::1]"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def trusted_hosts_for(host: str, extra: tuple[str, ...]) -> list[str] | None:
    """The Host headers to accept: loopback names when bound to loopback (so a web page
    that re-binds its DNS name to 127.0.0.1 cannot read the library), else any."""
    if not is_loopback(host):
        return list(extra) or None
    return [*LOOPBACK_NAMES, host, *extra]


@cli.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Only this machine can connect by default; use "
    "0.0.0.0 to serve the network (anyone who can reach it sees your photos).",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port (0: any free port, printed at start).",
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Request threads; they share one loaded engine.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also accept this Host header (e.g. a reverse proxy's name). Repeatable.",
)
@click.pass_obj
def serve_command(
    settings: Settings, host: str, port: int, threads: int, allow_hosts: tuple[str, ...]
) -> None:  # fmt: skip
    """Serve the search UI and the JSON API (/api/v1, OpenAPI at /api/v1/openapi.json).

    The library is opened once; when an index run changes it, the server serves the new
    state within about a second, without a restart. Without a library yet the server starts
    anyway and explains how to make one.
    """
    from cli.errors import describe_os_error
    from models.errors import ImgsearchError
    from search.engine import SearchEngine
    from search.errors import LibraryNotFoundError
    from web.app import create_app
    from web.server import make_server, warm_up

    if not is_loopback(host):
        click.echo(
            f"warning: listening on {host}: every machine that can reach this port can search "
            "and download the library's photos (there is no login).",
            err=True,
        )
    try:  # opened here, so that a library that cannot be served is said in one line
        engine = SearchEngine.open(settings)
    except LibraryNotFoundError:
        engine = None  # the server starts anyway and explains how to make one
    except ImgsearchError as error:
        raise click.ClickException(str(error)) from None
    try:
        app = create_app(settings, engine, trusted_hosts=trusted_hosts_for(host, allow_hosts))
    except ImgsearchError as error:
        raise click.ClickException(str(error)) from None
    try:  # bound before the model is loaded: a busy port is said at once
        server = make_server(app, settings, host, port, threads)
    except OSError as error:
        app.extensions["imgsearch"].close()
        raise click.ClickException(
            describe_os_error(error, f"listen on {host} port {port}")
        ) from None
    warm_up(app)
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"imgsearch: serving {settings.library} at http://{shown}:{server.effective_port}/ "
        f"({threads} threads; Ctrl+C stops)"
    )
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("imgsearch: stopped")
    finally:
        server.close()
        app.extensions["imgsearch"].close()
