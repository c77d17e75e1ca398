"""The search UI in real headless Chromium against the real server (`imgsearch serve`).

Upload a photo, draw a region on the preview with the mouse, search, open an image page,
search with a region of a library image, find copies of a photo (lookup mode); screenshots go
to the artifacts directory.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import WAIT_S, chromium, require_chromium
from tests.served import serving
from tests.web_library import (
    EDITED_ORIGINAL,
    QUERY_NAME,
    RESAVED_NAME,
    WebLibrary,
    build_web_library,
)

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def weblib(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):
    return build_web_library(tmp_path_factory.mktemp("webui"), data_dir, models_dir)


@pytest.fixture(scope="module")
def server(weblib: WebLibrary) -> Iterator[str]:
    """`imgsearch serve --port 0` in a subprocess; yields its base URL."""
    command = [
        sys.executable,
        "-u",
        "-c",
        "from cli.main import main; main()",
        "--library",
        str(weblib.settings.library),
        "--model-path",
        str(weblib.models_dir),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--threads",
        "4",
    ]
    with serving(command, REPO, {**os.environ, "PYTHONPATH": str(REPO)}) as served:
        yield served.url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def wait(driver, condition):
    return WebDriverWait(driver, WAIT_S).until(condition)


def severe_console_messages(driver) -> list[str]:
    """Console errors (CSP violations, script errors, failed loads) since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def drag_region(driver, canvas, frm=(0.2, 0.2), to=(0.8, 0.8)) -> None:
    """Press at ``frm`` and release at ``to`` (fractions of the canvas), with the mouse."""
    width, height = canvas.size["width"], canvas.size["height"]
    start = (int((frm[0] - 0.5) * width), int((frm[1] - 0.5) * height))
    ActionChains(driver).move_to_element_with_offset(canvas, *start).click_and_hold().pause(
        0.1
    ).move_by_offset(
        int((to[0] - frm[0]) * width * 0.5), int((to[1] - frm[1]) * height * 0.5)
    ).move_by_offset(
        int((to[0] - frm[0]) * width * 0.5), int((to[1] - frm[1]) * height * 0.5)
    ).release().perform()


def all_images_loaded(driver, selector: str) -> bool:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".every(i => i.complete && i.naturalWidth > 0);",
        selector,
    )


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


def test_messages_for_bad_input(browser, server, tmp_path):
    driver = browser
    driver.get(server + "/")
    driver.find_element(By.ID, "submit").click()
    message = driver.find_element(By.ID, "form-message")
    assert "Choose a photo" in message.text
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a photo")
    driver.find_element(By.ID, "image").send_keys(str(text_file))
    assert "not an image" in message.text
    # A file that claims to be a JPEG but is not: the server's message is shown in place.
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"this is not a JPEG at all" * 20)
    driver.find_element(By.ID, "image").send_keys(str(fake))
    driver.find_element(By.ID, "submit").click()
    alert = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, "#results .alert")))
    assert "Not a readable image" in alert.text
    # An empty region typed by hand is refused before anything is sent.
    roi = driver.find_element(By.ID, "roi")
    roi.clear()
    roi.send_keys("0.5,0.5,0.5,0.9")
    driver.find_element(By.ID, "submit").click()
    assert "region is empty" in message.text
    assert roi.get_attribute("aria-invalid") == "true"


def evidence_of(card) -> str:
    """A lookup card's evidence as shown (without the screen readers' "Evidence:" prefix)."""
    text = " ".join(card.find_element(By.CLASS_NAME, "evidence").text.split())
    return text.removeprefix("Evidence: ")


def test_lookup_mode_shows_labelled_sections(browser, server, weblib, artifacts_dir):
    driver = browser
    severe_console_messages(driver)  # drop those of earlier tests (an expected 415)
    driver.set_window_size(1360, 1000)
    driver.get(server + "/")
    roi = driver.find_element(By.ID, "roi")
    threshold = driver.find_element(By.ID, "threshold")
    calibrated = driver.find_element(By.ID, "threshold-calibrated")
    fixed = driver.find_element(By.ID, "threshold-fixed")
    assert roi.is_displayed() and not threshold.is_displayed()
    driver.find_element(
        By.XPATH, "//label[contains(@class, 'mode')][.//span[.='Find copies']]"
    ).click()
    # Lookup mode: no region or k, a threshold instead; the form posts to /lookup.
    assert threshold.is_displayed() and not roi.is_displayed()
    assert not driver.find_element(By.ID, "k").is_displayed()
    assert driver.find_element(By.ID, "search-form").get_attribute("action").endswith("/lookup")
    assert roi.get_attribute("disabled") and not threshold.get_attribute("disabled")
    assert driver.find_element(By.ID, "submit").text == "Find copies"
    # The calibrated decision is chosen; the slider starts at the copy score it stands for.
    default = driver.find_element(By.ID, "calibrated-value").get_attribute("data-value")
    assert calibrated.is_selected() and not fixed.is_selected()
    assert float(threshold.get_attribute("value")) == pytest.approx(float(default), abs=0.003)
    assert float(threshold.get_attribute("min")) <= 0.05
    driver.find_element(By.ID, "image").send_keys(str(weblib.ukbench / EDITED_ORIGINAL))
    wait(
        driver,
        lambda d: d.execute_script(
            "const i = document.getElementById('preview-img'); return i.complete && i.naturalWidth;"
        ),
    )
    assert not driver.find_element(By.ID, "roi-canvas").is_displayed()  # nothing to draw
    driver.find_element(By.ID, "submit").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results .match-group")))
    headings = driver.find_elements(By.CSS_SELECTOR, "#results .match-group h3")
    titles = [" ".join(h.text.split()) for h in headings]  # title and count
    near_count = len(driver.find_elements(By.CSS_SELECTOR, ".match-group-near li.card"))
    assert titles == [
        "Exact copies 2",
        f"Near-duplicates (calibrated, z ≥ 6) {near_count}",
        "Other similar images (z below 6) 5",
    ]
    assert near_count >= 1
    head = driver.find_element(By.CSS_SELECTOR, "#results .results-head").text
    assert "calibrated: z ≥ 6" in head
    exact = driver.find_elements(By.CSS_SELECTOR, ".match-group-exact li.card")
    assert exact[0].find_element(By.CLASS_NAME, "name").text == EDITED_ORIGINAL
    evidence = [evidence_of(c) for c in exact]
    assert evidence == ["same bytes (sha256)", "same pixels, other encoding"]
    assert (
        exact[1].find_element(By.CLASS_NAME, "name").get_attribute("title").endswith(RESAVED_NAME)
    )
    near = driver.find_element(By.CSS_SELECTOR, ".match-group-near li.card")
    assert near.find_element(By.CLASS_NAME, "name").text == "ukbench00120__resize.jpg"
    assert near.find_element(By.CLASS_NAME, "badge").text.lower() == "near-duplicate"
    near_evidence = evidence_of(near)
    assert re.fullmatch(r"copy score 0\.9\d\d · z \d\.\d ≥ 6", near_evidence), near_evidence
    tooltip = near.find_element(By.CLASS_NAME, "evidence").get_attribute("title")
    assert "standard deviations above" in tooltip and "a near-duplicate" in tooltip
    others = driver.find_elements(By.CSS_SELECTOR, ".match-group-similar li.card")
    assert len(others) == 5 and all(evidence_of(c).endswith(" < 6") for c in others)
    assert "cosine" not in driver.find_element(By.ID, "results").text.lower()
    wait(driver, lambda d: all_images_loaded(d, "#results img"))
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1360, min(height + 140, 2400))
    time.sleep(0.4)
    driver.save_screenshot(str(artifacts_dir / "web_lookup.png"))
    driver.set_window_size(1360, 1000)
    # An explicit copy score with the keyboard: moving the slider chooses it.
    threshold.send_keys(Keys.END)  # 1.0
    for _ in range(20):
        threshold.send_keys(Keys.ARROW_LEFT)  # 20 steps of 0.005: 0.90
    assert fixed.is_selected() and not calibrated.is_selected()
    assert threshold.get_attribute("value") == "0.9"
    assert driver.find_element(By.ID, "threshold-out").text == "0.90"
    driver.find_element(By.ID, "submit").click()
    wait(
        driver,
        lambda d: (
            "threshold: copy score ≥ 0.90"
            in d.find_element(By.CSS_SELECTOR, "#results .results-head").text
        ),
    )
    headings = driver.find_elements(By.CSS_SELECTOR, "#results .match-group h3")
    assert [" ".join(h.text.split()).rsplit(" ", 1)[0] for h in headings] == [
        "Exact copies",
        "Near-duplicates (copy score ≥ 0.90)",
        "Other similar images (copy score below 0.90)",
    ]
    near = driver.find_element(By.CSS_SELECTOR, ".match-group-near li.card")
    assert re.fullmatch(r"copy score 0\.9\d\d ≥ 0\.90", evidence_of(near))
    # Choosing the calibrated decision again (keyboard too) puts the slider back.
    fixed.send_keys(Keys.ARROW_UP)  # radio buttons: arrows move the choice
    assert calibrated.is_selected()
    assert float(threshold.get_attribute("value")) == pytest.approx(float(default), abs=0.003)
    # Back to similar images: the region can be drawn again on the same photo.
    driver.find_element(
        By.XPATH, "//label[contains(@class, 'mode')][.//span[.='Similar images']]"
    ).click()
    canvas = wait(driver, ec.visibility_of_element_located((By.ID, "roi-canvas")))
    assert canvas.size["width"] > 100 and not roi.get_attribute("disabled")
    drag_region(driver, canvas, (0.25, 0.25), (0.75, 0.75))
    assert roi.get_attribute("value")
    driver.find_element(By.ID, "submit").click()
    # The lookup results stay on the page until the region search answers: wait for those.
    wait(
        driver,
        lambda d: (
            "region 0."
            in d.execute_script(
                "return document.querySelector('#results .results-head')?.textContent || ''"
            )
        ),
    )
    assert severe_console_messages(driver) == []


def test_copy_badges_on_results_and_the_image_page(browser, server, weblib):
    driver = browser
    driver.get(server + "/")
    driver.find_element(By.ID, "image").send_keys(str(weblib.ukbench / EDITED_ORIGINAL))
    driver.find_element(By.ID, "submit").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
    cards = {
        c.find_element(By.CLASS_NAME, "name").text: c
        for c in driver.find_elements(By.CSS_SELECTOR, "#results li.card")
    }

    def badge(card) -> str:
        found = card.find_elements(By.CLASS_NAME, "badge")
        return found[0].text.lower() if found else ""

    assert badge(cards[EDITED_ORIGINAL]) == "exact copy"
    resized = cards["ukbench00120__resize.jpg"]
    assert badge(resized) == "copy" and resized.find_element(By.CLASS_NAME, "badge").is_displayed()
    title = resized.find_element(By.CLASS_NAME, "score").get_attribute("title")
    assert re.search(r"copy score 0\.9\d\d, z \d\.\d ≥ 6: a copy", title), title
    unrelated = [c for name, c in cards.items() if not name.startswith("ukbench00120")]
    assert unrelated and all(badge(c) == "" for c in unrelated)
    assert "not a copy" in unrelated[0].find_element(By.CLASS_NAME, "score").get_attribute("title")
    assert "copies" in driver.find_element(By.CSS_SELECTOR, "#results .results-head").text
    # The image page's similar images: its PNG re-save is an exact copy (the same pixels).
    cards[EDITED_ORIGINAL].find_element(By.TAG_NAME, "a").click()
    wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".image-title")))
    similar = {
        c.find_element(By.CLASS_NAME, "name").text: c
        for c in driver.find_elements(By.CSS_SELECTOR, ".similar li.card")
    }
    assert badge(similar[RESAVED_NAME]) == "exact copy"
    assert badge(similar["ukbench00120__resize.jpg"]) == "copy"
    assert severe_console_messages(driver) == []


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
