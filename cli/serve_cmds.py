"""``imgsearch serve``: the web UI and JSON API on waitress (a production WSGI server)."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from urllib.parse import quote

import click

from cli.main import cli
from cli.options import no_empty_values, ranged_option
from search.settings import Settings
from search.units import plural

LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1", "[::1]"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def trusted_hosts_for(host: str, extra: tuple[str, ...]) -> list[str]:
    """The Host names to accept: loopback names and the bound address (so a web page that
    re-binds its DNS name to 127.0.0.1 cannot read the library), ``--allow-host`` names, and
    outside loopback this machine's own names (IP literals are admitted there too)."""
    names = [*LOOPBACK_NAMES, host, *extra]
    if not is_loopback(host):
        names += [socket.gethostname(), socket.getfqdn()]
    return names


def browser_urls(host: str, port: int) -> tuple[str, str | None]:
    """The address to open on this machine and, for a wildcard bind (0.0.0.0, ::), the one
    for other machines: a browser cannot open the wildcard address itself."""
    try:
        wildcard = ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        wildcard = False
    if wildcard:
        local = "[::1]" if ":" in host else "127.0.0.1"
        return f"http://{local}:{port}/", f"http://{socket.gethostname()}:{port}/"
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}/", None


def access_token(host: str, given: str | None) -> str | None:
    """The token requests must carry: the configured one, or outside loopback a new one."""
    if given:
        return given
    return None if is_loopback(host) else secrets.token_urlsafe(24)


def _check_token(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A token a client can send: printable ASCII without spaces (it travels in an HTTP
    header and a URL); "" is refused rather than read as "no token"."""
    if value is None:
        return None
    if value == "":
        raise click.BadParameter("is empty: leave it out to have one made (outside loopback)")
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        raise click.BadParameter(
            "must be printable ASCII without spaces (it is sent in an HTTP header and a URL)"
        )
    return value


def _check_host(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """An address this machine can listen on: an IP address or a name it resolves."""
    try:
        socket.getaddrinfo(value.strip("[]"), None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise click.BadParameter(
            f"{value!r} is neither an IP address nor a name this machine resolves: give "
            "127.0.0.1 (this machine only), 0.0.0.0 (every network) or one of its addresses"
        ) from None
    return value


@cli.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    callback=_check_host,
    help="Address to listen on. Only this machine can connect by default; use "
    "0.0.0.0 to serve the network (anyone who can reach it sees your photos).",
)
@ranged_option(
    "--port",
    default=8000,
    low=0,
    high=65535,
    help_text="TCP port (0: any free port, printed at start).",
)
@ranged_option(
    "--threads",
    default=16,
    low=1,
    high=256,
    help_text="Request threads; they share one loaded engine. Two run image queries, up to "
    "all but two more wait for them (the rest are told 503 busy), two are kept for pages "
    "(from 4 threads: with fewer, pages wait behind the image queries).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    callback=no_empty_values,
    help="Also accept this Host header (e.g. a reverse proxy's name). Repeatable.",
)
@click.option(
    "--token",
    envvar="IMGSEARCH_TOKEN",
    metavar="TOKEN",
    callback=_check_token,
    help="Access token every request must carry (Authorization: Bearer TOKEN, or ?token= "
    "once in a browser). Outside loopback one is made and printed when none is given. "
    "[env var: IMGSEARCH_TOKEN]",
)
@click.pass_obj
def serve_command(
    settings: Settings,
    host: str,
    port: int,
    threads: int,
    allow_hosts: tuple[str, ...],
    token: str | None,
) -> None:
    """Serve the search UI and the JSON API (/api/v1, OpenAPI at /api/v1/openapi.json).

    The library is opened once; when an index run changes it, the server serves the new
    state within about a second, without a restart. Without a library yet the server starts
    anyway and explains how to make one.
    """
    from cli.errors import describe_os_error
    from models.errors import ImgsearchError
    from search.query import SearchEngine
    from search.store import LibraryNotFoundError
    from web.app import create_app, serving_settings
    from web.server import make_server, warm_up

    exposed = not is_loopback(host)
    token = access_token(host, token)
    if exposed:
        click.echo(
            f"warning: listening on {host}: every machine that can reach this port can try; "
            "requests need the access token below. Put a TLS reverse proxy in front of it "
            "(see README, Web UI and JSON API).",
            err=True,
        )
    settings = serving_settings(settings)  # one model thread per request
    try:  # opened here, so that a library that cannot be served is said in one line
        engine = SearchEngine.open(settings)
    except LibraryNotFoundError:
        engine = None  # the server starts anyway and explains how to make one
    except ImgsearchError as error:
        raise click.ClickException(str(error)) from None
    if engine is not None and engine.store.read_only:
        from search.library import on_full_disk

        full = on_full_disk(settings)
        why = "is on a full disk, so it is served read-only" if full else "is read-only"
        click.echo(
            f"imgsearch: the library {settings.library} {why}: search, browse, image "
            "pages, thumbnails and the API work (uploads are searched, never stored); nothing "
            "is written (the vector index and explore results are kept in memory, thumbnails "
            "in a temporary folder); indexing and removing need a writable library",
            err=True,
        )
    try:
        app = create_app(
            settings,
            engine,
            trusted_hosts=trusted_hosts_for(host, allow_hosts),
            token=token,
            exposed=exposed,
        )
    except ImgsearchError as error:
        raise click.ClickException(str(error)) from None
    try:  # bound before the model is loaded: a busy port is said at once
        server = make_server(app, settings, host, port, threads)
    except (OSError, ValueError) as error:  # waitress: ValueError for a host it cannot use
        app.extensions["imgsearch"].close()
        if isinstance(error, ValueError):
            raise click.ClickException(f"cannot listen on {host} port {port}: {error}") from None
        if isinstance(error, PermissionError):  # not a file's: "check its permissions"
            raise click.ClickException(
                f"cannot listen on {host} port {port}: permission denied (ports under 1024 "
                "need administrator rights; choose another --port)"
            ) from None
        raise click.ClickException(
            describe_os_error(error, f"listen on {host} port {port}")
        ) from None
    warm_up(app)
    url, remote = browser_urls(host, server.effective_port)
    if token is not None:
        asked = f"?token={quote(token, safe='')}"  # (a cookie per address: one link each)
        opened = f"{url}{asked}" + (
            f" on this machine or {remote}{asked} from others" if remote else ""
        )
        click.echo(f"imgsearch: access token {token} (open {opened} once in a browser)")
    where = f"{url} on this machine and {remote} from others" if remote else url
    try:  # from the line that says Ctrl+C stops it, Ctrl+C stops it
        click.echo(
            f"imgsearch: serving {settings.library} at {where} ({plural(threads, 'thread')}; "
            "Ctrl+C stops)"
        )
        server.run()  # waitress ends its loop on Ctrl+C itself: run() returns then
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        app.extensions["imgsearch"].close()
    click.echo("imgsearch: stopped")
