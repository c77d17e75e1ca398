"""The thumbnails of the result cards and the explore pages (the web tests' library): named
once (the caption beside a thumbnail names it: its alt is empty)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

pytestmark = pytest.mark.slow  # the module's library is indexed first (tens of seconds)

VOID = {"img", "wbr", "br", "source", "input"}  # no end tag


class Cards(HTMLParser):
    """Each card's link on a page (``a.card-link``): its thumbnail's alt and src, and its
    caption's text (``.name``), in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, str]] = []
        self.link_depth = 0  # open elements inside the current card link (0: outside one)
        self.in_name = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        classes = found.get("class", "").split()
        if tag == "a" and "card-link" in classes:
            self.cards.append({"alt": "(none)", "src": "", "name": ""})
            self.link_depth = 1
            return
        if not self.link_depth:
            return
        if tag == "img" and "alt" in found and not self.cards[-1]["src"]:
            self.cards[-1].update(alt=found["alt"], src=found.get("src", ""))
        elif tag not in VOID:
            self.link_depth += 1
            if "name" in classes:
                self.in_name = self.link_depth

    def handle_endtag(self, tag: str) -> None:
        if not self.link_depth or tag in VOID:
            return
        if self.in_name == self.link_depth:
            self.in_name = 0
        self.link_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.in_name:
            self.cards[-1]["name"] += data


def cards_of(client, address: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    answer = client.get(address)
    assert answer.status_code == 200, address
    parser = Cards()
    parser.feed(answer.get_data(as_text=True))
    return parser.cards


def test_a_card_names_its_image_once(client) -> None:  # type: ignore[no-untyped-def]
    """A result card's and an outlier card's thumbnail had the file name as its alt, beside
    the caption that shows the same name: screen readers read it twice (axe's
    image-redundant-alt), as the cluster tiles did. The thumbnail's alt is empty now; the
    caption names the image and the link."""
    for address in ("/browse", "/labels?q=ant", "/outliers?n=20"):
        cards = cards_of(client, address)
        assert len(cards) >= 5, address
        for card in cards:
            assert card["src"], (address, card)  # a thumbnail: these files are all there
            assert card["alt"] == "", (address, card)
            assert card["name"].strip(), (address, card)  # the caption that names it
