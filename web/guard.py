"""Who gets in: the Host allow-list, cross-origin POSTs, the access token, and what clients
are told about the server's files.

* **Host**: only the names the server was told about (loopback names when bound to loopback,
  which defeats DNS rebinding; plus ``--allow-host`` names, the machine's own names and IP
  literals when it serves the network). Others get 400, as JSON or an HTML page - never 500.
* **Cross-origin POSTs** (a web page in a browser driving the server: searches are costly)
  are refused with 403: ``Sec-Fetch-Site`` must be same-origin or none, and ``Origin``, when
  sent, must be this server (or ``null`` with ``Sec-Fetch-Site: same-origin``: our own pages'
  forms, whose origin the ``no-referrer`` policy hides). So are cross-origin GETs that run
  an image query (a library image's similar images), unless they open a page (a top-level
  navigation: a link followed from another site).
* **Token**: outside loopback every request but static files needs the server's token, as
  ``Authorization: Bearer TOKEN``, or once as ``?token=TOKEN`` in the browser (a cookie keeps
  it: HttpOnly, SameSite=Strict). Compared in constant time.
* **Paths**: a server that serves the network shows paths relative to their collection and no
  database URL or library directory; absolute paths are for loopback and the CLI.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

from flask import Flask, Response, current_app, redirect, request

from web.errors import ApiError
from web.limits import is_image_query
from web.text import visible

COOKIE = "imgsearch_token"
NO_TOKEN = (
    "This server needs its access token: open the address `imgsearch serve` printed "
    "(…/?token=…), or send 'Authorization: Bearer TOKEN'."
)
# a mistyped token, or one of an earlier run (without --token each start makes a new one)
WRONG_TOKEN = (
    "The access token in this address (?token=…) is not this server's: open the address "
    "`imgsearch serve` printed at its start (without --token or IMGSEARCH_TOKEN, every "
    "start makes a new token)."
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})
PRIVATE_STATS_KEYS = ("library", "database")


def host_name(host: str) -> str:
    """``Host`` header -> its name without port or IPv6 brackets, lower case."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def install(app: Flask, *, hosts: Iterable[str] | None, token: str | None, exposed: bool) -> None:
    """Check every request's Host, origin and token (see the module's doc)."""
    allowed = None if hosts is None else {host_name(h) for h in hosts}
    app.config.update(IMGSEARCH_EXPOSED=exposed, IMGSEARCH_TOKEN=token)

    @app.before_request
    def check_request() -> Any:
        name = host_name(request.host)  # the Host header, else the server's own name
        if allowed is not None and name not in allowed and not (exposed and is_ip_literal(name)):
            raise ApiError(
                400,
                f"This server does not answer to the host name '{visible(name, 80)}'; use the "
                "address it printed at start, or start it with --allow-host NAME.",
                "host_not_allowed",
            )
        if request.method in UNSAFE_METHODS and not same_origin():
            raise ApiError(
                403,
                "Cross-origin requests are refused: post from this server's "
                "own pages or from a script that sends no Origin.",
                "cross_origin",
            )
        if is_image_query() and not same_origin() and not _opened_as_a_page():
            raise ApiError(
                403,
                "Cross-origin requests for similar images are refused: ask from this "
                "server's own pages or from a script that sends no Origin.",
                "cross_origin",
            )
        if token is None or request.endpoint == "static":
            return None
        given = request.args.get("token")
        if given is not None and hmac.compare_digest(given.encode(), token.encode()):
            if request.method == "GET" and not request.path.startswith("/api/"):
                response = redirect(same_site_target(without="token"), 303)
                response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
                return response
            return None
        if not _has_token(token):
            raise ApiError(401, WRONG_TOKEN if given else NO_TOKEN, "unauthorized")
        return None

    app.add_template_filter(client_path, "client_path")

    @app.after_request
    def ask_for_the_token(response: Response) -> Response:
        if response.status_code == 401:
            response.headers.setdefault("WWW-Authenticate", 'Bearer realm="imgsearch"')
        return response


PATH_SAFE = "/:@!$&'()*+,;=-._~"  # RFC 3986 pchar and "/": kept as they are
QUERY_SAFE = PATH_SAFE + "?%"  # "%": the query's own escapes stay as sent


def same_site_target(*, without: str) -> str:
    """The address of this request as it was asked for, less the query parameter
    ``without``: a path of this site only (one leading "/": never "//host" or "/\\host",
    another site to a browser), its path and query bytes as requested. Rebuilt from the
    decoded ``request.path`` and ``request.args``, ``%FF`` came back as ``%25FF`` or
    ``%EF%BF%BD`` (U+FFFD), and ``a%20b`` as ``a+b``."""
    raw = request.environ.get("REQUEST_URI")  # the request line's target (waitress, werkzeug)
    if raw:  # its escapes as sent ("%" kept); an absolute form (via a proxy): its path only
        target = raw.split("?", 1)[0] if raw.startswith("/") else urlsplit(raw).path
        path = quote(target.encode("latin-1", "replace"), safe=PATH_SAFE + "%")
    else:  # another server: the decoded path, escaped again
        path = request.script_root + request.environ.get("PATH_INFO", "")
        path = quote(path.encode("latin-1", "replace"), safe=PATH_SAFE)
    kept = [
        quote(part, safe=QUERY_SAFE)
        for part in request.query_string.split(b"&")
        if part and unquote_plus(part.split(b"=", 1)[0].decode("latin-1")) != without
    ]
    return "/" + path.lstrip("/") + ("?" + "&".join(kept) if kept else "")


def _has_token(token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and hmac.compare_digest(cookie.encode(), token.encode())


def same_origin() -> bool:
    """Whether an unsafe request comes from this server's pages (or from no page at all)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in SAME_ORIGIN_FETCH:
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == "null":  # a form of our own pages: Referrer-Policy no-referrer hides it
        return fetch_site is not None and fetch_site.lower() == "same-origin"
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()


def _opened_as_a_page() -> bool:
    """A top-level navigation (a link followed from another site, a bookmark): a page may
    be opened from anywhere; a script, an image tag or a frame of another site may not run
    its query."""
    headers = request.headers
    mode, dest = headers.get("Sec-Fetch-Mode", ""), headers.get("Sec-Fetch-Dest", "")
    return mode.lower() == "navigate" and dest.lower() == "document"


def exposed() -> bool:
    """Whether this server serves the network (then clients see no absolute path)."""
    return bool(current_app.config.get("IMGSEARCH_EXPOSED"))


def public_item(item: dict[str, Any]) -> dict[str, Any]:
    """An image's JSON as clients outside loopback see it: the path relative to its
    collection, the collection by its folder name."""
    if not exposed():
        return item
    if "path" in item:
        item["path"] = item.get("rel_path") or str(item["path"]).rsplit("/", 1)[-1]
    if isinstance(item.get("collection"), str):
        item["collection"] = item["collection"].rstrip("/").rsplit("/", 1)[-1]
    return item


def public_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """Library figures without the database URL, library directory and absolute paths, nor
    the collections' --exclude patterns (they name what the owner keeps out of the library)."""
    if not exposed():
        return stats
    out = {k: v for k, v in stats.items() if k not in PRIVATE_STATS_KEYS}
    out["collections"] = [
        {k: v for k, v in c.items() if k != "excludes"}
        | {"root": str(c.get("root", "")).rstrip("/").rsplit("/", 1)[-1]}
        for c in stats.get("collections", [])
    ]
    roots = [str(c.get("root", "")) for c in stats.get("collections", [])]
    for key in ("failures", "removed_paths"):  # removals named absolute paths too
        out[key] = [{**f, "path": client_path(f.get("path"), roots)} for f in stats.get(key, [])]
    return out


def client_path(path: object, roots: Iterable[str] = ()) -> str:
    """A path as this client may see it: as is on loopback, else relative to the collection
    in ``roots`` that holds it (else the file name). Also a template filter."""
    text = "" if path is None else str(path)
    if not exposed():
        return text
    for root in sorted(roots, key=len, reverse=True):
        prefix = root.rstrip("/") + "/"
        if root and text.startswith(prefix):
            return text[len(prefix) :]
    return text.rstrip("/").rsplit("/", 1)[-1]
