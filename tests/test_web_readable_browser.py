"""What the pages say and how they read in headless Chromium (`imgsearch serve` of the web
UI's library): the map without scripts says it needs them, links inside running text are
underlined in the light and the dark theme, and explore tiles name their image once."""

from __future__ import annotations

import re

import pytest

from tests import browser as browser_module
from tests import web_ui_library
from tests.browser import require_chromium, wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402

weblib = web_ui_library.weblib  # module fixtures: a library, its server, a browser
server = web_ui_library.server
browser = browser_module.browser

# every link inside a block of text, with how it is drawn
TEXT_LINKS = """
const blocks = 'p, nav.crumbs, footer, .notice, .alert, dd';
return Array.from(document.querySelectorAll('a')).filter(a => {
  const block = a.parentElement.closest(blocks);
  return block && !a.classList.contains('button') && a.offsetParent !== null;
}).map(a => [a.textContent.trim(), getComputedStyle(a).textDecorationLine]);
"""


def test_map_without_scripts_says_it_needs_them(browser, server) -> None:  # type: ignore[no-untyped-def]
    """With scripts off the map page said "Loading the map…" for ever, over an empty canvas;
    the Live page said it needs JavaScript. Now the map says so too, and links the explore
    pages that work without."""
    driver = browser
    shown = "return document.querySelector('main').innerText"  # <noscript> text included
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        driver.get(server + "/live")
        assert "The live page needs JavaScript." in driver.execute_script(shown)
        driver.get(server + "/map")
        text = driver.execute_script(shown)
        assert "The map needs JavaScript." in text, text
        assert "Loading the map" not in text, text
        links = driver.execute_script(
            "return Array.from(document.querySelectorAll('.notice a')).map(a => a.href)"
        )
        assert links == [server + "/clusters", server + "/outliers"]
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def test_map_with_scripts_loads_without_the_notice(browser, server) -> None:  # type: ignore[no-untyped-def]
    browser.get(server + "/map")
    wait(browser, lambda d: re.search(r"\d+ images", d.find_element(By.ID, "map-status").text))
    assert "needs JavaScript" not in browser.find_element(By.TAG_NAME, "main").text


def test_links_in_running_text_are_underlined(browser, server) -> None:  # type: ignore[no-untyped-def]
    """The breadcrumb's "Browse", "clusters · outliers · map" and "browse the library" were
    blue on grey without an underline (1.13:1 from the text around them: axe's
    link-in-text-block): told apart by colour only. Now underlined, in both themes."""
    driver = browser
    driver.get(server + "/browse")
    image = driver.find_element(By.CSS_SELECTOR, "li.card a").get_attribute("href")
    try:
        for scheme in ("light", "dark"):
            driver.execute_cdp_cmd(
                "Emulation.setEmulatedMedia",
                {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
            )
            for page, must in (
                (image, {"Browse"}),
                (server + "/clusters", {"clusters", "outliers", "map"}),
                (server + "/library", {"browse the library"}),
            ):
                driver.get(page)
                links = driver.execute_script(TEXT_LINKS)
                assert must <= {text for text, _ in links}, (page, links)
                for text, line in links:
                    assert "underline" in line, (scheme, page, text, line)
            dark = driver.execute_script(
                "return matchMedia('(prefers-color-scheme: dark)').matches"
            )
            assert dark == (scheme == "dark")
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_cluster_tiles_name_their_image_once(browser, server) -> None:  # type: ignore[no-untyped-def]
    """Each tile's thumbnail had the file name as its alt, beside the same name in the link:
    screen readers read every name twice (axe's image-redundant-alt). The thumbnail's alt is
    now empty (a picture beside its own caption), the visible name names the link."""
    browser.get(server + "/clusters")
    tiles = browser.execute_script(
        "return Array.from(document.querySelectorAll('.tile-card a')).map(a =>"
        " [a.querySelector('img') && a.querySelector('img').getAttribute('alt'),"
        "  a.querySelector('.tile-name').textContent.trim()]);"
    )
    assert len(tiles) > 20
    for alt, name in tiles:
        assert alt == "" and name, (alt, name)
