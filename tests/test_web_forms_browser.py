"""The explore pages in headless Chromium (`imgsearch serve` of the web UI's library): after
Back and Forward their forms show the query of the results shown, and long file names on
cards and tiles keep their extension whole, at a phone's and a desktop's width. Screenshots
(names_*.png) go to the artifacts directory."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests import browser as browser_module
from tests import web_ui_library
from tests.browser import page_problem, require_chromium, wait
from web.present import TILE_NAME_MAX, short_name

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

weblib = web_ui_library.weblib  # module fixtures: a library, its server, a browser
server = web_ui_library.server
browser = browser_module.browser

# each character of an element's text with the top of the line it is drawn on
CHARACTER_LINES = """
const out = [], walker = document.createTreeWalker(arguments[0], NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode())
  for (let i = 0; i < node.length; i++) {
    const range = document.createRange();
    range.setStart(node, i); range.setEnd(node, i + 1);
    const box = range.getClientRects()[0];
    if (box) out.push([node.data[i], Math.round(box.top)]);
  }
return out;
"""
HASH_NAME = "5f0c2b9e7d4a1c83e6b27f9d0a4c1e8b7d3ac70.jpg"  # a camera app's or a CDN's name


def test_back_and_forward_show_the_form_of_the_results(browser, server) -> None:  # type: ignore[no-untyped-def]
    """Chromium's back/forward cache brought the page back with the fields changed before
    leaving it: Browse's "Show" still "overexposed" over "Images 1–60 of N" (all images),
    Clusters' k-means tab and k=4 over the density clusters."""
    driver = browser
    driver.get(server + "/browse")
    head = driver.find_element(By.ID, "browse-results").text
    driver.execute_script("window.leftHere = true")  # still set: the back/forward cache's page
    Select(driver.find_element(By.ID, "flag-select")).select_by_value("bright")
    driver.find_element(By.CSS_SELECTOR, ".flag-filter button[type=submit]").click()
    wait(driver, lambda d: "flag=bright" in d.current_url)
    driver.back()
    wait(driver, lambda d: "flag=" not in d.current_url)
    assert driver.find_element(By.ID, "browse-results").text == head
    assert driver.find_element(By.ID, "flag-select").get_attribute("value") == ""
    cached = driver.execute_script("return window.leftHere === true")
    driver.forward()
    wait(driver, lambda d: "flag=bright" in d.current_url)
    assert driver.find_element(By.ID, "flag-select").get_attribute("value") == "bright"

    driver.get(server + "/clusters")
    assert "density" in driver.find_element(By.CSS_SELECTOR, ".results-head").text
    driver.find_element(By.CSS_SELECTOR, "label:has(#method-kmeans)").click()
    driver.find_element(By.ID, "k").send_keys("4")
    driver.find_element(By.ID, "clusters-submit").click()
    wait(driver, lambda d: "method=kmeans" in d.current_url)
    assert "k-means, k = 4" in driver.find_element(By.CSS_SELECTOR, ".results-head").text
    driver.back()
    wait(driver, lambda d: "method=kmeans" not in d.current_url)
    assert "density" in driver.find_element(By.CSS_SELECTOR, ".results-head").text
    assert driver.find_element(By.ID, "method-density").is_selected()
    assert not driver.find_element(By.ID, "k").is_displayed()
    assert driver.find_element(By.ID, "k").get_attribute("value") == ""
    assert cached  # what was checked is the page the back/forward cache kept


def _lines(driver, element) -> list[str]:  # type: ignore[no-untyped-def]
    """The text of ``element`` line by line, as drawn."""
    lines: dict[int, str] = {}
    for char, top in driver.execute_script(CHARACTER_LINES, element):
        lines[top] = lines.get(top, "") + char
    return [lines[top] for top in sorted(lines)]


def _screenshot(driver, path: Path) -> None:  # type: ignore[no-untyped-def]
    shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    shot.quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


def test_long_file_names_keep_their_extension_whole(browser, server, artifacts_dir) -> None:  # type: ignore[no-untyped-def]
    """A card's or a tile's file name wrapped inside its extension ("…3ac70.jp" / "g"):
    now it breaks before ".jpg" (or at '_' and '-'), at 390 px and on a desktop."""
    driver = browser
    try:
        for width in (390, 1360):
            driver.set_window_size(width, 900)
            for page, selector, limit in (
                ("/browse", "li.card .name", None),
                ("/clusters", ".tile-card:not(.is-representative) .tile-name", TILE_NAME_MAX),
            ):
                driver.get(server + page)
                wait(  # its cards, or what it shows instead (one suite run read none)
                    driver,
                    lambda d, page=page, selector=selector: (
                        page in d.current_url
                        and d.find_elements(By.CSS_SELECTOR, f"{selector}, .alert, .notice")
                    ),
                )
                names = driver.find_elements(By.CSS_SELECTOR, selector)[:4]
                assert names, page_problem(driver)
                markup = str(
                    short_name(HASH_NAME) if limit is None else short_name(HASH_NAME, limit)
                )
                for name in names:  # the server's markup of such a name, in the page's cards
                    driver.execute_script("arguments[0].innerHTML = arguments[1]", name, markup)
                    lines = _lines(driver, name)
                    assert len(lines) >= 1 and "".join(lines).endswith("3ac70.jpg"), lines
                    assert all(".jpg" in line or "." not in line for line in lines), lines
                    assert lines[-1].endswith(".jpg") and ".jpg" in lines[-1], lines
                    assert not any(line in (".", ".j", ".jp", "g", "pg", "jpg") for line in lines)
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", names[0])
                _screenshot(driver, artifacts_dir / f"names_{page[1:]}_{width}.png")
    finally:
        driver.set_window_size(1360, 1000)
