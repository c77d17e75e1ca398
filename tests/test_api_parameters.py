"""The API's GET endpoints each name the query parameters they read: any other is refused
(400), never ignored (a served check is in test_first_hour.py)."""

from __future__ import annotations


def test_every_get_endpoint_of_the_api_says_which_parameters_it_reads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A GET endpoint missing from ``web.api.GET_FIELDS`` would answer a mistyped parameter
    without a word (the refusal is tested through a server in test_first_hour.py)."""
    from search.settings import Settings
    from web.api import GET_FIELDS
    from web.app import create_app

    app = create_app(Settings(library=tmp_path / "library"))
    gets = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and "GET" in (rule.methods or ())
    }
    assert gets == set(GET_FIELDS)


def test_the_parameters_read_are_the_documented_ones() -> None:
    """``GET_FIELDS`` and ``/api/v1/openapi.json`` name the same query parameters."""
    from web.api import GET_FIELDS
    from web.openapi import openapi_document

    documented = {
        path: sorted(p["name"] for p in ops["get"].get("parameters", []) if p.get("in") == "query")
        for path, ops in openapi_document()["paths"].items()
        if "get" in ops
    }
    assert sorted(map(sorted, documented.values())) == sorted(map(sorted, GET_FIELDS.values()))


def test_head_refuses_the_parameters_get_refuses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """HEAD answers with GET's status: an unknown or repeated parameter was 200 to HEAD."""
    from search.settings import Settings
    from web.app import create_app

    client = create_app(Settings(library=tmp_path / "library")).test_client()
    for url in ("/api/v1/openapi.json?bogus=1", "/api/v1/openapi.json?bogus=1&bogus=2"):
        assert client.get(url).status_code == client.head(url).status_code == 400, url
    assert client.head("/api/v1/openapi.json").status_code == 200
