"""Security of the served pages: path traversal on the test client and on a real waitress
server, Host names, headers, over a library built by the indexer from ../shared photos."""

from __future__ import annotations

import http.client

from search.settings import Settings
from tests.web_library import API, QUERY_NAME, assert_error
from web.app import create_app
from web.server import BackgroundServer

# -- security ---------------------------------------------------------------------------------

TRAVERSALS = [
    "/api/v1/images/../../../../etc/passwd",
    "/api/v1/images/1/../../../../etc/passwd",
    "/api/v1/images/%2e%2e/%2e%2e/%2e%2e/etc/passwd/file",
    "/api/v1/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd/file",
    "/api/v1/images/1%2f..%2f..%2f..%2fetc%2fpasswd/file",
    "/api/v1/images/1/../../etc/passwd/file",
    "/api/v1/images//etc/passwd/file",
    "/api/v1/images/-1/file",
    "/api/v1/images/1.0/file",
    "/api/v1/images/%2fetc%2fpasswd/file",
    "/api/v1/images/1/file/../../../../../etc/passwd",
    "/api/v1/images/1/file?path=/etc/passwd&id=../../etc/passwd",
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/..%2fapp.py",
    "/static/%2e%2e%2fapp.py",
    "//etc/passwd",
    "/images/..%2f..%2f..%2fetc%2fpasswd",
    "/?from=../../etc/passwd",
]


def _assert_not_a_leak(status: int, body: bytes, url: str) -> None:
    assert b"root:" not in body, url
    assert b"create_app" not in body, url  # web/app.py
    assert status in (200, 400, 404, 405), (url, status)


def test_path_traversal_never_serves_a_file(client):
    for url in TRAVERSALS:
        response = client.get(url)
        _assert_not_a_leak(response.status_code, response.data, url)
        if "?path=" in url:  # refused, never read: not a parameter of the endpoint
            assert response.status_code == 400 and b"'path' is not a parameter" in response.data
        elif url.startswith("/?from"):
            assert b'image-id" name="image_id" value=""' in response.data
        else:
            assert response.status_code in (400, 404), url


def test_real_server_refuses_traversal_and_foreign_hosts(app, weblib):
    with BackgroundServer(app, weblib.settings, threads=2) as server:
        for url in TRAVERSALS:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("GET", url)  # sent as is: http.client does not normalise paths
            response = conn.getresponse()
            body = response.read()
            _assert_not_a_leak(response.status, body, url)
            conn.close()
    trusted = create_app(
        weblib.settings, app.extensions["imgsearch"].get(), trusted_hosts=["127.0.0.1", "localhost"]
    )
    client = trusted.test_client()
    assert client.get(f"{API}/stats", headers={"Host": "localhost:8000"}).status_code == 200
    assert_error(client.get(f"{API}/stats", headers={"Host": "evil.example"}), 400)


def test_security_headers(client, ids):
    for url in ("/", f"{API}/stats", "/browse", "/nope"):
        headers = client.get(url).headers
        assert headers["X-Content-Type-Options"] == "nosniff", url
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "img-src 'self' data: blob:" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"


def test_an_image_opened_on_its_own_may_be_styled_by_the_browser(client, ids):
    """ "Open original" under the pages' strict policy: Chrome's image viewer styles the
    picture inline (centred, zoom); ``style-src 'self'`` blocked it, the picture sat at the
    top left. Files and thumbnails get a policy for a bare picture: its inline styles, and
    nothing else (no script, no other source)."""
    image = ids[QUERY_NAME]
    for url in (f"{API}/images/{image}/file", f"{API}/images/{image}/thumbnail"):
        answer = client.get(url)
        assert answer.status_code == 200 and answer.mimetype.startswith("image/"), url
        csp = [part.strip() for part in answer.headers["Content-Security-Policy"].split(";")]
        assert "default-src 'none'" in csp and "style-src 'unsafe-inline'" in csp, url
        assert "img-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
        assert not any("script" in part or "unsafe-eval" in part for part in csp), url
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_sign_in_redirect_keeps_the_address_as_asked_and_on_this_site(tmp_path):
    """``?token=`` once in a browser redirects to the address without it: ``%FF`` came back
    as ``%25FF`` (in the query) or ``%EF%BF%BD`` (in the path), ``a%20b`` as ``a+b``. Only a
    path of this site: never ``//host`` or ``/\\host`` (another site to a browser)."""
    app = create_app(Settings(library=tmp_path / "none"), token="T0K")
    client = app.test_client()
    kept = {
        "/browse?flag=%FF&token=T0K": "/browse?flag=%FF",
        "/images/%FF?q=a%20b&token=T0K&y=%C3%A9+x": "/images/%FF?q=a%20b&y=%C3%A9+x",
        "/label%2Fs?token=T0K&token=T0K": "/label%2Fs",
        "/library?token=T0K": "/library",
    }
    for url, target in kept.items():
        answer = client.get(url)
        assert answer.status_code == 303 and answer.headers["Location"] == target, url
        assert "imgsearch_token=T0K" in answer.headers["Set-Cookie"]
    for raw in (
        "//evil.example/x?token=T0K",
        "/\\evil.example/x?token=T0K",
        "http://evil.example/x?token=T0K",
    ):
        answer = client.get("/x?token=T0K", environ_overrides={"REQUEST_URI": raw})
        location = answer.headers["Location"]
        assert location in ("/evil.example/x", "/%5Cevil.example/x", "/x"), raw  # paths here


# -- HTML views -------------------------------------------------------------------------------
