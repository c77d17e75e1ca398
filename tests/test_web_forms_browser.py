"""The explore pages in headless Chromium (`imgsearch serve` of the web UI's library): after
Back and Forward their forms show the query of the results shown."""

from __future__ import annotations

import pytest

from tests import browser as browser_module
from tests import web_ui_library
from tests.browser import require_chromium, wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

weblib = web_ui_library.weblib  # module fixtures: a library, its server, a browser
server = web_ui_library.server
browser = browser_module.browser


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
