"""What a user sees of the web UI's details, in real headless Chromium against `imgsearch
serve` started the way the quick start does: in a folder holding `imgsearch-library`, with no
--library (a relative library path).

Long file names that differ only at their end, evidence pills, the score a lookup card shows,
progress while a search runs, the browse page and its pages, label pages, the empty-library
notice. Screenshots (ui_*.png) go to the artifacts directory.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from tests import browser as browser_module
from tests.browser import WAIT_S, all_images_loaded, page_problem, require_chromium, wait
from tests.served import serving
from tests.web_library import EDITED_ORIGINAL, make_extra_collection, run_index

REPO = Path(__file__).resolve().parent.parent
LONG_NAMES = (
    "augly_dfdc_1__scale.png",
    "augly_dfdc_1__sharpen.png",
    "augly_dfdc_1__overlay_onto_screenshot.png",
    "augly_dfdc_1__png_reencode_identical_pixels.png",
)
LONGEST_NAME = "augly_dfdc_1__overlay_onto_background_image.png"  # four lines in a narrow card

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Path:
    """A folder with `imgsearch-library` in it: ukbench_subset and a scratch collection (with
    edits of one photo whose names differ only at their end)."""
    root = tmp_path_factory.mktemp("home")
    extra = make_extra_collection(data_dir, root / "photos")
    for name in (*LONG_NAMES, LONGEST_NAME):
        shutil.copy2(data_dir / "near_duplicates" / "images" / name, extra / name)
    library = root / "imgsearch-library"
    run_index(library, models_dir, data_dir / "ukbench_subset" / "images")
    run_index(library, models_dir, extra)
    return root


@contextmanager
def serve_here(cwd: Path, models_dir: Path) -> Iterator[str]:
    """`imgsearch serve --port 0` run in ``cwd`` without --library: the relative default."""
    command = [
        sys.executable,
        "-u",
        "-c",
        "from cli.main import main; main()",
        "--model-path",
        str(models_dir),
        "serve",
        "--port",
        "0",
        "--threads",
        "4",
    ]
    env = {k: v for k, v in os.environ.items() if k != "IMGSEARCH_LIBRARY"}
    with serving(command, cwd, {**env, "PYTHONPATH": str(REPO)}) as served:
        yield served.url


@pytest.fixture(scope="module")
def server(home: Path, models_dir: Path) -> Iterator[str]:
    with serve_here(home, models_dir) as url:
        yield url


browser = browser_module.browser  # a module fixture


def api(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=WAIT_S) as response:
        return json.load(response)


def screenshot(driver, path: Path, selector: str = "img") -> None:  # type: ignore[no-untyped-def]
    """The whole page (up to 2400 px high), every thumbnail loaded."""
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1360, min(max(height, 900) + 140, 2400))
    driver.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    wait(driver, lambda d: all_images_loaded(d, selector))
    time.sleep(0.3)
    shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    shot.quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)  # small enough to keep
    driver.set_window_size(1360, 1000)


def layout(driver) -> list[dict]:  # type: ignore[no-untyped-def]
    """Each result card's name (as laid out) and evidence box against the card's box."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('#results li.card')).map(card => {
          const name = card.querySelector('.name'), ev = card.querySelector('.evidence');
          const box = card.getBoundingClientRect();
          const e = ev ? ev.getBoundingClientRect() : null;
          return {title: name.title, text: name.textContent,
                  clipped: name.scrollHeight > name.clientHeight + 1,
                  nameFits: name.getBoundingClientRect().right <= box.right + 0.5,
                  evidence: ev ? ev.textContent : null,
                  evidenceFits: !ev || (e.right <= box.right + 0.5 && e.left >= box.left - 0.5
                                        && ev.scrollWidth <= ev.clientWidth + 1),
                  score: card.querySelector('.score').textContent.trim(),
                  classes: card.className};
        });""")


def test_lookup_cards_names_evidence_and_decision(browser, server, home, artifacts_dir):  # type: ignore[no-untyped-def]
    driver = browser
    driver.set_window_size(1360, 1000)
    driver.get(server + "/")
    driver.find_element(
        By.XPATH, "//label[contains(@class, 'mode')][.//span[.='Find copies']]"
    ).click()
    driver.find_element(By.ID, "image").send_keys(str(home / "photos" / "augly_dfdc_1.jpg"))
    driver.find_element(By.ID, "submit").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results .match-group")))
    cards = layout(driver)
    shown = {Path(c["title"]).name: c for c in cards}
    assert set(LONG_NAMES) <= set(shown), sorted(shown)
    for card in cards:
        name = Path(card["title"]).name  # the full name on hover
        assert not card["clipped"] and card["nameFits"], card
        # The end of the name, where edits of one photo differ, is always shown.
        assert card["text"].endswith(name[-12:]) and card["text"][:10] == name[:10], card
        assert card["evidenceFits"], card  # "same pixels, other encoding" stays in its pill
        # A copy's card shows the copy score its section is decided on; the other similar
        # images' the similarity they are ranked by (their copy score is in the evidence)
        if "match-similar" in card["classes"]:
            assert re.fullmatch(r"Score \d+(\.\d)?%", card["score"]), card
            assert card["evidence"].startswith("Evidence: copy score "), card
        else:
            assert "%" not in card["score"], card
            assert re.fullmatch(r"copy \d\.\d{3}", card["score"]), card
    assert shown["augly_dfdc_1__png_reencode_identical_pixels.png"]["evidence"].endswith(
        "same pixels, other encoding"
    )
    screenshot(driver, artifacts_dir / "ui_lookup.png", "#results img")
    # An explicit threshold decides every row: no "other" card is styled or badged a copy.
    threshold = driver.find_element(By.ID, "threshold")
    driver.execute_script(
        "arguments[0].value = '0.99';arguments[0].dispatchEvent(new Event('input'));", threshold
    )
    driver.find_element(By.ID, "submit").click()
    wait(driver, lambda d: "copy score ≥ 0.99" in d.find_element(By.ID, "results").text)
    others = [c for c in layout(driver) if "match-similar" in c["classes"]]
    assert others and all("is-copy" not in c["classes"] for c in others)
    copy_scores = [re.search(r"copy score (\d\.\d{3})", c["evidence"]) for c in others]
    assert all(m and float(m.group(1)) < 0.99 for m in copy_scores), others
    assert driver.find_elements(By.CSS_SELECTOR, ".match-group-similar .badge") == []


def test_a_running_search_shows_progress_and_time(browser, server, data_dir, artifacts_dir):  # type: ignore[no-untyped-def]
    driver = browser
    driver.get(server + "/")
    progress = driver.find_element(By.ID, "search-progress")
    assert not progress.is_displayed()
    # The network is slow for this search: each answer comes 1.5 s late.
    driver.execute_script("""
        const real = window.fetch;
        window.fetch = (...args) => new Promise(r => setTimeout(r, 1500)).then(() => real(...args));
    """)
    photo = data_dir / "ukbench_subset" / "images" / EDITED_ORIGINAL
    driver.find_element(By.ID, "image").send_keys(str(photo))
    driver.find_element(By.ID, "submit").click()
    wait(driver, lambda d: progress.is_displayed())
    first = driver.find_element(By.ID, "search-progress-text").text
    assert re.fullmatch(r"Searching… \d+\.\d s", first), first
    # The page's timer ticks every 0.1 s: wait for it to move (the answer comes 1.5 s late).
    wait(driver, lambda d: d.find_element(By.ID, "search-progress-text").text != first)
    later = driver.find_element(By.ID, "search-progress-text").text
    assert float(later.split()[1]) > float(first.split()[1]), (first, later)
    assert driver.find_element(By.ID, "results").get_attribute("aria-busy") == "true"
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
    wait(driver, lambda d: not progress.is_displayed())
    assert re.search(r"\d+ ms", driver.find_element(By.CSS_SELECTOR, ".results-head").text)
    # Similar images: cards show the score that orders them.
    scores = driver.find_elements(By.CSS_SELECTOR, "#results .score")
    assert scores and all(s.text.endswith("%") for s in scores)
    screenshot(driver, artifacts_dir / "ui_results.png", "#results img")


def test_browse_the_library_newest_first_by_pages(browser, server, artifacts_dir):  # type: ignore[no-untyped-def]
    driver = browser
    driver.get(server + "/")
    driver.find_element(By.LINK_TEXT, "Browse").click()
    head = wait(driver, ec.visibility_of_element_located((By.ID, "browse-results")))
    listed = api(server + "/api/v1/images?page=1&per_page=60")
    total = listed["total"]
    assert total > 60 and head.text == f"Images 1–60 of {total}"
    cards = driver.find_elements(By.CSS_SELECTOR, "li.card")
    ids = [
        int(c.find_element(By.TAG_NAME, "a").get_attribute("href").rsplit("/", 1)[1]) for c in cards
    ]
    assert ids == [r["id"] for r in listed["results"]]
    times = [r["mtime"] for r in listed["results"]]
    assert times == sorted(times, reverse=True)  # newest file first
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", cards[0].find_element(By.CLASS_NAME, "date").text)
    assert driver.find_element(By.CSS_SELECTOR, ".mainnav [aria-current=page]").text == "Browse"
    screenshot(driver, artifacts_dir / "ui_browse.png", "li.card img")
    driver.find_element(By.CSS_SELECTOR, ".pager a[rel=next]").click()
    head = wait(driver, ec.visibility_of_element_located((By.ID, "browse-results")))
    assert head.text == f"Images 61–{min(120, total)} of {total}"
    second = [
        int(c.find_element(By.TAG_NAME, "a").get_attribute("href").rsplit("/", 1)[1])
        for c in driver.find_elements(By.CSS_SELECTOR, "li.card")
    ]
    assert second == [r["id"] for r in api(server + "/api/v1/images?page=2")["results"]]
    assert not set(second) & set(ids)
    # A card opens the image page; its thumbnails come from the relative library.
    driver.find_elements(By.CSS_SELECTOR, "li.card a")[0].click()
    wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".image-title")))
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".similar li.card"))
    screenshot(driver, artifacts_dir / "ui_image.png")


def test_label_results_come_in_pages(browser, server, artifacts_dir):  # type: ignore[no-untyped-def]
    driver = browser
    # a label word that many photos have (labels match whole words: "a" matched nearly all)
    driver.get(server + "/labels?q=clock")
    wait(  # its results, or what it shows instead
        driver,
        lambda d: (
            "/labels" in d.current_url
            and d.find_elements(By.CSS_SELECTOR, "#label-results, .alert, .notice")
        ),
    )
    cards = driver.find_elements(By.CSS_SELECTOR, "li.card")
    assert len(cards) >= 5, page_problem(driver)
    assert driver.find_element(By.ID, "label-results").text == f"{len(cards)} images"
    overflowing = driver.execute_script("""
        return Array.from(document.querySelectorAll('li.card')).filter(card => {
          const box = card.getBoundingClientRect();
          return Array.from(card.querySelectorAll('.score, .name, .meta')).some(
            el => el.getBoundingClientRect().right > box.right + 0.5);
        }).length;""")  # a long label ("theater curtain · 6.5%") wraps inside its card
    assert overflowing == 0
    screenshot(driver, artifacts_dir / "ui_labels.png", "li.card img")


def test_no_library_notice_says_it_once(browser, tmp_path, models_dir):  # type: ignore[no-untyped-def]
    with serve_here(tmp_path, models_dir) as url:  # no imgsearch-library here
        for page in ("/", "/browse", "/library"):
            browser.get(url + page)
            notice = browser.find_element(By.CSS_SELECTOR, ".notice").text
            assert notice.startswith("No library yet. Nothing has been indexed."), notice
            assert notice.count("No library yet") == 1 and notice.count("indexed") == 1, notice


def test_the_region_box_takes_fractions_or_pixels(browser, server, data_dir):  # type: ignore[no-untyped-def]
    driver = browser
    driver.get(server + "/")
    photo = data_dir / "ukbench_subset" / "images" / "ukbench00004.jpg"  # 640x480
    driver.find_element(By.ID, "image").send_keys(str(photo))
    roi = driver.find_element(By.ID, "roi")
    message = driver.find_element(By.ID, "form-message")
    roi.send_keys("0,0,1.5,1")  # fractions beyond the image: said before anything is sent
    driver.find_element(By.ID, "submit").click()
    assert "from 0 to 1" in message.text and "px:" in message.text
    assert roi.get_attribute("aria-invalid") == "true"
    roi.clear()
    roi.send_keys("px:10,10,2000,2000")  # pixels: checked by the server against the image
    driver.find_element(By.ID, "submit").click()
    alert = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, "#results .alert")))
    assert "'roi'" in alert.text and "beyond the 640x480 image" in alert.text
    roi.clear()
    roi.send_keys("px:128,48,512,336")
    driver.find_element(By.ID, "submit").click()
    head = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".results-head")))
    assert "region px:128,48,512,336 ·" in head.text
    assert driver.find_elements(By.CSS_SELECTOR, "#results li.card")


def test_a_narrow_window_shows_every_page_without_sideways_scrolling(browser, server):  # type: ignore[no-untyped-def]
    """At a phone's width the nav bar wraps: every link stays on screen and no page scrolls
    sideways (the "Library" link used to hang off the right edge of every page)."""
    driver = browser
    image_id = api(server + "/api/v1/images?page=1&per_page=1")["results"][0]["id"]
    driver.set_window_size(400, 1000)  # headless Chromium's narrowest is about 500 px
    try:
        for page in ("/", "/browse", "/library", "/outliers", f"/images/{image_id}"):
            driver.get(server + page)
            width, view = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert width <= view, (page, width, view)
            links = driver.find_elements(By.CSS_SELECTOR, ".mainnav a")
            assert len(links) >= 6
            for link in links:
                right = driver.execute_script(
                    "return arguments[0].getBoundingClientRect().right", link
                )
                assert right <= view, (page, link.text, right, view)
    finally:
        driver.set_window_size(1360, 1000)


def test_a_long_name_is_shown_to_its_end_at_every_width(browser, server, home):  # type: ignore[no-untyped-def]
    """A 47-character name breaks at its underscores into four lines in a card of the
    narrowest column: all of it is shown, its end included (three lines were kept, and
    "..._background_image.png" lost "image.png")."""
    driver = browser
    try:
        for width in (1360, 1100, 820, 500):
            driver.set_window_size(width, 1000)
            driver.get(server + "/")
            driver.find_element(By.ID, "image").send_keys(str(home / "photos" / LONGEST_NAME))
            driver.find_element(By.ID, "submit").click()
            wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
            card = next(c for c in layout(driver) if Path(c["title"]).name == LONGEST_NAME)
            assert not card["clipped"] and card["nameFits"], (width, card)
            assert card["text"] == LONGEST_NAME, (width, card)
    finally:
        driver.set_window_size(1360, 1000)


def test_find_copies_on_an_image_page_works_in_a_browser(browser, server):  # type: ignore[no-untyped-def]
    """The image page's "Find copies" button (a plain form POST) shows the lookup: Chromium
    sends `Origin: null` for it (the pages' no-referrer policy) and the server refused it
    with 403 "Cross origin"."""
    driver = browser
    image_id = api(server + "/api/v1/images?page=1&per_page=1")["results"][0]["id"]
    driver.get(f"{server}/images/{image_id}")
    driver.find_element(By.XPATH, "//button[.='Find copies']").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results .match-group")))
    assert "Cross origin" not in driver.find_element(By.TAG_NAME, "main").text
    found = driver.find_element(By.ID, "results")
    assert "Found in your library" in found.text
    # where *else* the picture is: the image itself is not its own copy
    assert not found.find_elements(By.CSS_SELECTOR, f'a[href="/images/{image_id}"]')
