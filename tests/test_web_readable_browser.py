"""What the pages say and how they read in headless Chromium (`imgsearch serve` of the web
UI's library): the map without scripts says it needs them."""

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
