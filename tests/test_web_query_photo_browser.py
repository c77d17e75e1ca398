"""The search page's query photo in headless Chromium against `imgsearch serve` (the web UI's
library): what the page shows is what Search sends. A file the browser puts back in the field
on Back is shown."""

from __future__ import annotations

import time

import pytest

from tests import browser as browser_module
from tests import web_ui_library
from tests.browser import chromium, require_chromium, severe_console_messages, wait
from tests.web_library import QUERY_NAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402

weblib = web_ui_library.weblib  # module fixtures: a library, its server, a browser
server = web_ui_library.server
browser = browser_module.browser

# what the page shows of its query, and what its file field holds
STATE = """
const file = document.getElementById('image').files[0];
return {message: document.getElementById('form-message').textContent,
        preview: !document.getElementById('preview').hidden,
        name: document.getElementById('preview-name').textContent,
        file: file ? file.name : null};
"""


def _photo_shown(driver) -> bool:  # type: ignore[no-untyped-def]
    return driver.execute_script(
        "const i = document.getElementById('preview-img');"
        "return !document.getElementById('preview').hidden && i.complete && i.naturalWidth > 0;"
    )


def _result_names(driver) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#results li.card .name")]


def test_back_without_the_page_cache_shows_the_photo_it_searches(server, weblib, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Back to a search that the browser did not keep whole (no back/forward cache, or the
    page evicted from it after 10 minutes) showed an empty "Choose a photo" box while the
    file field still held the photo, and Search then searched that unseen photo. Now the
    photo in the field is shown, as if just chosen, and Search sends what the page shows."""
    flags = ["--disable-back-forward-cache"]
    with chromium(tmp_path / "profile", extra_args=flags) as driver:
        driver.get(server + "/")
        driver.find_element(By.ID, "image").send_keys(str(weblib.query_photo))
        wait(driver, _photo_shown)
        driver.find_element(By.ID, "submit").click()
        wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
        searched = _result_names(driver)
        driver.find_elements(By.CSS_SELECTOR, "#results li.card a")[0].click()
        wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".image-title")))
        driver.execute_script("window.leftHere = true")  # gone when the page is loaded again
        driver.back()
        wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")
        assert driver.execute_script("return window.leftHere === undefined")  # not the cache's
        time.sleep(0.5)  # pageshow and the restored field
        state = driver.execute_script(STATE)
        assert state["file"] == QUERY_NAME, state  # the browser restored the field
        assert state["preview"] and state["name"].startswith(f"{QUERY_NAME} · "), state
        wait(driver, _photo_shown)
        assert driver.find_element(By.CLASS_NAME, "drop-title").is_displayed() is False
        driver.find_element(By.ID, "submit").click()
        wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
        assert _result_names(driver) == searched  # the photo shown, searched again
        assert driver.execute_script(STATE)["name"] == state["name"]
        assert severe_console_messages(driver) == []
