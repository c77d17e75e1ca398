"""The UI in headless Chromium served from a relative library: `imgsearch serve` run from
the folder where `imgsearch index photos` made ./imgsearch-library; every result thumbnail
must really load in the browser (issue 10, item 1)."""

from __future__ import annotations

import pytest

from tests.browser import chromium, require_chromium, waiter
from tests.cli_process import relative_library, served
from tests.indexer_helpers import photo_paths

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402

LOADED = (
    "return Array.from(document.querySelectorAll(arguments[0]))"
    ".map(i => i.complete && i.naturalWidth > 0);"
)


def test_result_thumbnails_load_with_a_relative_library(
    tmp_path, data_dir, models_dir, artifacts_dir
) -> None:  # type: ignore[no-untyped-def]
    photos = photo_paths(data_dir, 4)
    others = relative_library(tmp_path / "home", photos, models_dir)
    with served([], tmp_path / "home") as url, chromium(tmp_path / "profile") as driver:
        wait = waiter(driver)
        driver.get(url + "/")
        driver.find_element(By.ID, "image").send_keys(str(photos[0]))
        driver.find_element(By.ID, "submit").click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
        images = driver.find_elements(By.CSS_SELECTOR, "#results li.card img")
        assert len(images) == len(photos)
        wait.until(lambda d: all(d.execute_script(LOADED, "#results li.card img")))
        driver.save_screenshot(str(artifacts_dir / "web_relative_results.png"))

        driver.get(url + "/")  # "Find copies" (reverse lookup) shows the same thumbnails
        driver.find_element(
            By.XPATH, "//label[contains(@class, 'mode')][.//span[.='Find copies']]"
        ).click()
        driver.find_element(By.ID, "image").send_keys(str(photos[1]))
        driver.find_element(By.ID, "submit").click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card img")))
        wait.until(lambda d: all(d.execute_script(LOADED, "#results li.card img")))
        driver.save_screenshot(str(artifacts_dir / "web_relative_lookup.png"))

        driver.get(f"{url}/images/{others[0]}")
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".image-title")))
        assert driver.find_elements(By.CSS_SELECTOR, ".similar li.card img")
        wait.until(lambda d: all(d.execute_script(LOADED, "img")))
        driver.save_screenshot(str(artifacts_dir / "web_relative_image.png"))
