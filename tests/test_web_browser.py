"""The search UI in real headless Chromium against the real server (`imgsearch serve`).

Upload a photo, draw a region on the preview with the mouse, search, open an image page,
search with a region of a library image, messages for bad input, a narrow window; screenshots
go to the artifacts directory (lookup mode: test_web_browser_lookup.py).
"""

from __future__ import annotations

import os
import re
import time

import pytest

from tests import browser as browser_module
from tests import web_ui_library
from tests.browser import (
    all_images_loaded,
    chromium,
    drag_region,
    require_chromium,
    severe_console_messages,
    wait,
)
from tests.served import CLI, serving
from tests.web_library import QUERY_NAME
from tests.web_ui_library import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402

weblib = web_ui_library.weblib  # module fixtures: a library, its server, a browser
server = web_ui_library.server
browser = browser_module.browser


def test_upload_region_search_and_image_page(browser, server, weblib, artifacts_dir):
    driver = browser
    driver.get(server + "/")
    assert "imgsearch" in driver.title
    assert not driver.find_elements(By.CSS_SELECTOR, ".notice")  # a library, not empty
    driver.find_element(By.ID, "image").send_keys(str(weblib.query_photo))
    canvas = wait(driver, ec.visibility_of_element_located((By.ID, "roi-canvas")))
    wait(
        driver,
        lambda d: d.execute_script(
            "const i = document.getElementById('preview-img'); return i.complete && i.naturalWidth;"
        ),
    )
    assert QUERY_NAME in driver.find_element(By.ID, "preview-name").text

    drag_region(driver, canvas, (0.2, 0.2), (0.8, 0.8))
    roi = [float(v) for v in driver.find_element(By.ID, "roi").get_attribute("value").split(",")]
    assert len(roi) == 4
    for got, want in zip(roi, (0.2, 0.2, 0.8, 0.8), strict=True):
        assert abs(got - want) < 0.03, roi
    # The region is drawn: the canvas is dimmed outside it and clear inside.
    alpha_out, alpha_in = driver.execute_script(
        "const c = document.getElementById('roi-canvas'), x = c.getContext('2d');"
        "return [x.getImageData(c.width * 0.05, c.height * 0.05, 1, 1).data[3],"
        "        x.getImageData(c.width * 0.5, c.height * 0.5, 1, 1).data[3]];"
    )
    assert alpha_out > 100 and alpha_in == 0

    driver.find_element(By.ID, "k").clear()
    driver.find_element(By.ID, "k").send_keys("12")
    driver.find_element(By.ID, "submit").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
    cards = driver.find_elements(By.CSS_SELECTOR, "#results li.card")
    assert len(cards) == 12
    scores = [c.find_element(By.CLASS_NAME, "score").text for c in cards]
    assert all(s.endswith("%") for s in scores)
    assert "region 0." in driver.find_element(By.CSS_SELECTOR, "#results .results-head").text
    wait(driver, lambda d: all_images_loaded(d, "#results img"))
    # The preview and the drawn region stay, so the region can be changed and searched again.
    assert driver.find_element(By.ID, "roi").get_attribute("value")
    driver.execute_script("window.scrollTo(0, 0)")
    driver.set_window_size(1360, 1480)
    time.sleep(0.4)
    driver.save_screenshot(str(artifacts_dir / "web_results.png"))
    driver.set_window_size(1360, 1000)

    first = cards[0].find_element(By.TAG_NAME, "a")
    first_name = cards[0].find_element(By.CLASS_NAME, "name").text
    first.click()
    title = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".image-title")))
    assert title.text == first_name
    wait(driver, lambda d: all_images_loaded(d, "img"))
    assert driver.find_elements(By.CSS_SELECTOR, ".similar li.card")
    assert driver.find_elements(By.CSS_SELECTOR, ".label-list li")
    driver.save_screenshot(str(artifacts_dir / "web_image.png"))
    assert severe_console_messages(driver) == []


def test_back_from_a_result_keeps_the_search(browser, server, weblib):
    """Search with an upload, open a result, press Back: the query and its results are still
    there (the page came back from the browser's back/forward cache; a no-store page never
    does, and Back showed an empty form)."""
    driver = browser
    driver.get(server + "/")
    driver.find_element(By.ID, "image").send_keys(str(weblib.query_photo))
    wait(driver, ec.visibility_of_element_located((By.ID, "roi-canvas")))
    driver.find_element(By.ID, "submit").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
    names = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#results li.card .name")]
    driver.find_elements(By.CSS_SELECTOR, "#results li.card a")[0].click()
    wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".image-title")))
    driver.back()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
    again = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#results li.card .name")]
    assert again == names
    assert QUERY_NAME in driver.find_element(By.ID, "preview-name").text
    driver.forward()
    wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".image-title")))
    driver.back()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
    # A bad region typed after a search: refused before anything is sent, and the results
    # shown (found without it) are said to be the previous search's (a new user's audit).
    roi = driver.find_element(By.ID, "roi")
    roi.clear()
    roi.send_keys("0.5,0.5,0.5,0.9")
    driver.execute_script("window.scrollTo(0, 0)")
    driver.find_element(By.ID, "submit").click()
    note = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, "#results .stale-note")))
    assert "previous search" in note.text and "fix the region" in note.text
    roi.clear()
    # Another photo chosen: the results shown are said to be the previous photo's (they were
    # shown as they were under the new preview, as if they were its matches) until the next
    # search replaces them.
    other = next(p for p in sorted(weblib.query_photo.parent.glob("*.jpg")) if p.name != QUERY_NAME)
    driver.find_element(By.ID, "image").send_keys(str(other))
    note = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, "#results .stale-note")))
    assert "previous photo" in note.text
    assert driver.find_elements(By.CSS_SELECTOR, "#results.is-stale li.card")
    driver.execute_script("window.scrollTo(0, 0)")  # the button, not under the sticky top bar
    driver.find_element(By.ID, "submit").click()
    wait(driver, ec.invisibility_of_element_located((By.CSS_SELECTOR, "#results .stale-note")))
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
    assert not driver.find_elements(By.CSS_SELECTOR, "#results.is-stale")
    assert severe_console_messages(driver) == []


def test_a_photo_the_browser_cannot_show_leaves_no_region_to_draw(browser, server, tmp_path):
    """A TIFF upload (no browser shows one) left a broken image with the region canvas over
    it, where a drag made a region of nothing; now both are hidden and the page says why."""
    from PIL import Image

    tiff = tmp_path / "scan.tiff"
    Image.new("RGB", (64, 48), (120, 60, 30)).save(tiff)
    driver = browser
    driver.get(server + "/")
    driver.find_element(By.ID, "image").send_keys(str(tiff))
    message = driver.find_element(By.ID, "form-message")
    wait(driver, lambda d: "cannot show a preview" in message.text)
    assert not driver.find_element(By.ID, "preview-img").is_displayed()
    assert not driver.find_element(By.ID, "roi-canvas").is_displayed()
    assert "scan.tiff" in driver.find_element(By.ID, "preview-name").text
    driver.find_element(By.ID, "submit").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))


def test_region_of_a_library_image_and_keyboard(browser, server):
    driver = browser
    driver.get(server + "/labels?q=bee")
    cards = driver.find_elements(By.CSS_SELECTOR, "li.card a")
    assert cards, "the label search finds the bee photos"
    cards[0].click()
    wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".image-title")))
    driver.find_element(By.PARTIAL_LINK_TEXT, "Search with a region").click()
    canvas = wait(driver, ec.visibility_of_element_located((By.ID, "roi-canvas")))
    wait(
        driver,
        lambda d: d.execute_script(
            "const i = document.getElementById('preview-img'); return i.complete && i.naturalWidth;"
        ),
    )
    assert driver.find_element(By.ID, "image-id").get_attribute("value").isdigit()
    # Keyboard: Enter on the focused canvas selects the middle, an arrow moves it, Esc clears.
    canvas.send_keys(Keys.ENTER)
    assert driver.find_element(By.ID, "roi").get_attribute("value") == "0.25,0.25,0.75,0.75"
    canvas.send_keys(Keys.ARROW_RIGHT)
    assert driver.find_element(By.ID, "roi").get_attribute("value") == "0.27,0.25,0.77,0.75"
    canvas.send_keys(Keys.ESCAPE)
    assert driver.find_element(By.ID, "roi").get_attribute("value") == ""
    drag_region(driver, canvas, (0.3, 0.25), (0.75, 0.8))
    driver.find_element(By.ID, "submit").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
    head = driver.find_element(By.CSS_SELECTOR, "#results .results-head").text
    region = [float(v) for v in re.search(r"region ([\d., ]+) ·", head).group(1).split(",")]
    for got, want in zip(region, (0.3, 0.25, 0.75, 0.8), strict=True):
        assert abs(got - want) < 0.03, head
    assert severe_console_messages(driver) == []


def test_messages_for_bad_input(browser, server, weblib, tmp_path):
    driver = browser
    driver.get(server + "/")
    driver.find_element(By.ID, "submit").click()
    message = driver.find_element(By.ID, "form-message")
    assert "Choose a photo" in message.text
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a photo")
    driver.find_element(By.ID, "image").send_keys(str(text_file))
    assert "not an image" in message.text
    # Search after a refused file says why again (it said "Choose a photo first").
    driver.find_element(By.ID, "submit").click()
    assert "“notes.txt” is not an image" in message.text, message.text
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    driver.find_element(By.ID, "image").send_keys(str(empty))
    driver.find_element(By.ID, "submit").click()
    assert "“empty.jpg” is empty" in message.text, message.text
    # A file that claims to be a JPEG but is not: the server's message is shown in place.
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"this is not a JPEG at all" * 20)
    driver.find_element(By.ID, "image").send_keys(str(fake))
    driver.find_element(By.ID, "submit").click()
    alert = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, "#results .alert")))
    assert "Not a readable image" in alert.text
    # A good photo chosen next takes the stale error away (it stayed in the results, about
    # the file no longer chosen, under the new photo's preview).
    driver.find_element(By.ID, "image").send_keys(str(weblib.query_photo))
    wait(driver, ec.visibility_of_element_located((By.ID, "roi-canvas")))
    assert not driver.find_elements(By.CSS_SELECTOR, "#results .alert")
    # An empty region typed by hand is refused before anything is sent.
    roi = driver.find_element(By.ID, "roi")
    roi.clear()
    roi.send_keys("0.5,0.5,0.5,0.9")
    driver.find_element(By.ID, "submit").click()
    assert "region is empty" in message.text
    assert roi.get_attribute("aria-invalid") == "true"
    # A count in e-notation (a number field takes "1e2") is refused before anything is sent,
    # as the server refuses it: the page let it through and showed the API's "'k' must be...".
    roi.clear()
    count = driver.find_element(By.ID, "k")
    count.clear()
    count.send_keys("1e2")
    driver.find_element(By.ID, "submit").click()
    assert "Results must be a whole number" in message.text, message.text
    assert not driver.find_elements(By.CSS_SELECTOR, "#results .alert")
    # the region cleared is no longer marked wrong (it stayed so under the count's message)
    assert roi.get_attribute("aria-invalid") is None
    count.clear()
    count.send_keys("12")


def test_a_long_file_name_keeps_a_narrow_window_narrow(server, weblib, tmp_path):
    """At 400 px a photo with a long name made the page 700 px wide (the preview's name line
    did not shrink: a sideways scroll, a zoomed-out page on a phone)."""
    long = tmp_path / "holiday_in_the_mountains_with_the_family_2024_08_15_IMG_0001.jpg"
    long.write_bytes(weblib.query_photo.read_bytes())
    with chromium(tmp_path / "narrow-profile", width=400, height=900) as driver:
        metrics = {"width": 400, "height": 900, "deviceScaleFactor": 1, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        driver.get(server + "/")
        driver.find_element(By.ID, "image").send_keys(str(long))
        wait(driver, ec.visibility_of_element_located((By.ID, "preview")))
        inner, scroll = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]"
        )
        assert inner == 400 and scroll <= inner, (inner, scroll)


def test_a_damaged_jpeg_is_not_blamed_on_the_browser(browser, server, weblib, tmp_path):
    """A JPEG cut short (or a text file named .jpg) said "This browser cannot show a preview
    of that file; you can still search with it": every browser shows JPEGs, the file is what
    is wrong. In Find copies mode a TIFF's message spoke of a Region box that is not there."""
    from PIL import Image

    cut = tmp_path / "cut short.jpg"
    cut.write_bytes(weblib.query_photo.read_bytes()[:2000])
    tiff = tmp_path / "scan.tiff"
    Image.new("RGB", (64, 48), (120, 60, 30)).save(tiff)
    driver = browser
    driver.get(server + "/")
    message = driver.find_element(By.ID, "form-message")
    driver.find_element(By.ID, "image").send_keys(str(cut))
    wait(driver, lambda d: "cannot be shown" in message.text)
    assert "“cut short.jpg” cannot be shown: it may be damaged, or not really a JPEG" in (
        message.text
    )
    assert "This browser" not in message.text
    assert not driver.find_element(By.ID, "preview-img").is_displayed()
    driver.execute_script("window.scrollTo(0, 0)")
    driver.find_element(
        By.XPATH, "//label[contains(@class, 'mode')][.//span[.='Find copies']]"
    ).click()
    driver.find_element(By.ID, "image").send_keys(str(tiff))
    wait(driver, lambda d: "cannot show a preview of “scan.tiff”" in message.text)
    assert "Region" not in message.text, message.text


def test_a_refused_file_leaves_the_photo_shown_the_query(browser, server, weblib, tmp_path):
    """Choosing a text file after a photo was previewed refused it but emptied the file
    field: the preview still showed the photo while Search said "“notes.txt” is not an
    image" and searched nothing. The photo shown stays the query."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    driver = browser
    driver.get(server + "/")
    driver.find_element(By.ID, "image").send_keys(str(weblib.query_photo))
    wait(driver, ec.visibility_of_element_located((By.ID, "roi-canvas")))
    message = driver.find_element(By.ID, "form-message")
    driver.find_element(By.ID, "image").send_keys(str(notes))
    wait(driver, lambda d: "“notes.txt” is not an image" in message.text)
    assert QUERY_NAME in driver.find_element(By.ID, "preview-name").text
    driver.find_element(By.ID, "submit").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
    assert message.text == ""
    first = driver.find_element(By.CSS_SELECTOR, "#results li.card .name").text
    assert first == QUERY_NAME


def test_an_error_page_before_the_search_shows_its_message_only(browser, weblib):
    """A server that wants its access token, asked by a page whose token cookie is gone (the
    server restarted with a new one): the whole 401 page - a second header, nav bar, footer,
    another label-search field - was put inside the results. Now only its message is."""
    command = [*CLI, "--library", str(weblib.settings.library), "--model-path"]
    command += [str(weblib.models_dir), "serve", "--port", "0", "--token", "sekrit"]
    with serving(command, REPO, {**os.environ, "PYTHONPATH": str(REPO)}) as served:
        driver = browser
        driver.get(served.url + "/?token=sekrit")
        driver.find_element(By.ID, "image").send_keys(str(weblib.query_photo))
        wait(driver, ec.visibility_of_element_located((By.ID, "roi-canvas")))
        driver.delete_all_cookies()
        driver.find_element(By.ID, "submit").click()
        alert = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, "#results .alert")))
        assert "needs its access token" in alert.text
        counts = driver.execute_script(
            "return ['header', 'footer', '#results h1', '[id=label-q]']"
            ".map(s => document.querySelectorAll(s).length)"
        )
        assert counts == [1, 1, 0, 1], counts
        severe_console_messages(driver)  # the expected 401


PHONE_PAGES = ("/", "/browse", "/labels?q=bee", "/clusters", "/outliers", "/map", "/library")


def test_every_page_fits_a_phone(server, tmp_path):
    """At 375 px an image page was 383 px wide (its "Search with a region of this image"
    button does not wrap), and at 320 px the Clusters page 336 px (its method switch asks
    320 px): a sideways scroll, a zoomed-out page on a phone."""
    with chromium(tmp_path / "phone-profile", width=500, height=900) as driver:
        driver.get(server + "/labels?q=bee")
        image_page = driver.find_element(By.CSS_SELECTOR, "li.card a").get_attribute("href")
        for width in (375, 320):
            metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": True}
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            for url in (*(server + page for page in PHONE_PAGES), image_page):
                driver.get(url)
                wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")
                inner, scroll = driver.execute_script(
                    "return [window.innerWidth, document.documentElement.scrollWidth]"
                )
                assert inner == width and scroll <= inner, (url, width, inner, scroll)
        assert severe_console_messages(driver) == []
