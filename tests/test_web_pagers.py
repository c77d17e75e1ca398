"""The pagers of Browse, the labels and the clusters pages: First, Previous, "Page N of M",
Next and Last, every link within 1..M; a page past the last (an old link, a typed number) is
a 404 that says so and links the first and the last page (they had Previous and Next only:
from page 1, the last of many pages was a click per page away)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.slow  # the module's library is indexed first (tens of seconds)


def pager(text: str) -> tuple[str, dict[str, int | None]]:
    """The pager's label ("Page 2 of 3") and the page each of its links leads to (None: no
    link, the button disabled)."""
    found = re.search(r'<nav class="pager" aria-label="Pages">(.*?)</nav>', text, re.S)
    assert found is not None, text
    nav = found[1]
    label = re.search(r'<span class="muted">([^<]*)</span>', nav)
    assert label is not None, nav
    marks = {"first": 'data-page="first"', "prev": 'rel="prev"', "next": 'rel="next"'}
    marks["last"] = 'data-page="last"'
    links: dict[str, int | None] = {}
    for name, mark in marks.items():
        link = re.search(rf'<a class="button" {mark}[^>]* href="([^"]+)"', nav)
        if link is None:
            links[name] = None
            continue
        query = parse_qs(urlsplit(link[1].replace("&amp;", "&")).query)
        links[name] = int(query["page"][0])
    return label[1], links


def walk(client, address: str) -> int:  # type: ignore[no-untyped-def]
    """Check the pager of ``address`` on its first page, its last and past the end; the
    number of pages."""
    join = "&" if "?" in address else "?"
    label, links = pager(client.get(address).get_data(as_text=True))
    pages = int(re.fullmatch(r"Page 1 of (\d+)", label)[1])  # type: ignore[index]
    assert pages >= 2, label
    assert links == {"first": None, "prev": None, "next": 2, "last": pages}
    last = client.get(f"{address}{join}page={pages}")
    assert last.status_code == 200
    label, links = pager(last.get_data(as_text=True))
    assert label == f"Page {pages} of {pages}"
    assert links == {"first": 1, "prev": pages - 1, "next": None, "last": None}
    past = client.get(f"{address}{join}page={pages + 40}")
    assert past.status_code == 404, past.status_code
    label, links = pager(past.get_data(as_text=True))
    assert label == f"Past the last page ({pages})"
    assert links == {"first": 1, "prev": pages, "next": None, "last": pages}
    return pages


def test_browse_pages_have_first_and_last(client) -> None:  # type: ignore[no-untyped-def]
    total = client.get("/api/v1/images").get_json()["total"]
    assert walk(client, "/browse") == -(-total // 60)
    pages = walk(client, "/browse?exclude_flag=tiny")  # the filter kept in every link
    text = client.get(f"/browse?exclude_flag=tiny&page={pages}").get_data(as_text=True)
    assert 'href="/browse?page=1&amp;exclude_flag=tiny"' in text


def test_cluster_pages_have_first_and_last(client) -> None:  # type: ignore[no-untyped-def]
    walk(client, "/clusters?method=kmeans&k=20")  # 8 clusters a page: 3 pages


def test_a_label_page_past_the_last_is_a_404_with_a_way_back(client) -> None:  # type: ignore[no-untyped-def]
    past = client.get("/labels?q=ant&page=5")
    text = past.get_data(as_text=True)
    assert past.status_code == 404 and "past the end of the 5 images" in text
    label, links = pager(text)
    assert label == "Past the last page (1)"
    assert links == {"first": 1, "prev": 1, "next": None, "last": 1}
