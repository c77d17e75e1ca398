"""The Live page in real headless Chromium against `imgsearch serve`, filmed by Chromium's fake
camera playing a Y4M video made from a library photo: results appear, the top one is that
photo, the frame-time tag moves on, and frames that come while one is in flight are dropped
(LIVE_STREAM), never queued. Also what a user sees with the camera refused or absent.
Screenshots: live_camera*.png in the artifacts directory; figures: live_camera.json.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import WAIT_S, chromium, fake_camera_args, require_chromium, waiter, write_y4m
from tests.served import indexed_library, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402

FILMED = "ukbench00005.jpg"  # among the first 12 UKBench photos of the library
LIVE_WAIT_S = 90  # first frames on a loaded 2-core machine: Chromium start + model warm-up


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):
    library = indexed_library(tmp_path_factory.mktemp("live"), data_dir, models_dir, 12)
    with serve(library, models_dir) as served:
        yield served


def live(driver) -> dict[str, str]:
    return driver.execute_script(
        "return Object.assign({}, document.getElementById('live').dataset)"
    )


def top_card(driver) -> dict[str, str]:
    """The first result's name and score and the frame tag, read at once (the grid is
    replaced with every answer)."""
    return driver.execute_script(
        "const card = document.querySelector('#live-grid .card');"
        "const badge = card && card.querySelector('.badge');"
        "const img = card && card.querySelector('.thumb img');"
        "return {name: card && card.querySelector('.name').textContent,"
        " alt: img && img.getAttribute('alt'),"
        " score: card && card.querySelector('.score').textContent,"
        " badge: badge && badge.textContent, badgeTitle: badge && badge.title,"
        " tag: document.getElementById('live-tag').textContent};"
    )


def wait_for(driver, predicate, timeout: float = LIVE_WAIT_S) -> dict[str, str]:
    waiter(driver, timeout).until(lambda d: predicate(live(d)))
    return live(driver)


@pytest.fixture()
def filmed_browser(tmp_path: Path, data_dir: Path) -> Iterator[object]:
    video = write_y4m(data_dir / "ukbench_subset" / "images" / FILMED, tmp_path / "camera.y4m")
    with chromium(tmp_path / "profile", extra_args=fake_camera_args(video)) as driver:
        yield driver


def test_live_page_finds_what_the_camera_films(filmed_browser, server, artifacts_dir: Path):
    driver = filmed_browser
    driver.get(server.url + "/live")
    assert driver.find_element(By.CSS_SELECTOR, "nav a[aria-current=page]").text == "Live"
    first = wait_for(driver, lambda d: int(d.get("answered", 0)) >= 1 and d.get("resultMs"))
    shown = top_card(driver)
    assert shown["name"] == FILMED, shown
    # the caption names the image: the thumbnail's alt is empty (read once, not twice)
    assert shown["alt"] == "", shown
    score, tag = shown["score"], shown["tag"]
    assert score.endswith("%") and float(score.removesuffix("%")) > 90, shown
    assert tag.startswith("frame at ") and " s" in tag
    # marked as the search page marks it: a copy, with its evidence in the badge's title
    assert shown["badge"] == "Copy" and shown["badgeTitle"].startswith("A copy"), shown

    # The tag moves on with newer frames; each answer is for a later frame than the last.
    seen = [int(first["resultMs"])]
    deadline = time.monotonic() + LIVE_WAIT_S
    while len(seen) < 4 and time.monotonic() < deadline:
        now = int(live(driver).get("resultMs", 0))
        if now != seen[-1]:
            seen.append(now)
        time.sleep(0.05)
    assert len(seen) >= 4 and seen == sorted(seen) and len(set(seen)) == len(seen), seen
    assert top_card(driver)["tag"] != tag

    state = live(driver)
    captured, sent = int(state["captured"]), int(state["sent"])
    dropped, answered = int(state["dropped"]), int(state["answered"])
    assert state["maxInFlight"] == "1", state  # never two frames in flight
    assert captured == sent + dropped and dropped > 0 and sent < captured, state
    assert 0 <= sent - answered <= 1, state  # nothing failed, at most one still in flight
    assert state["state"] == "live", state
    assert top_card(driver)["name"] == FILMED
    driver.save_screenshot(str(artifacts_dir / "live_camera.png"))
    figures = {
        "captured": captured,
        "sent": sent,
        "dropped": dropped,
        "answered": answered,
        "median_latency_ms": int(state["latencyMs"]),
        "load_average": os.getloadavg(),
    }
    (artifacts_dir / "live_camera.json").write_text(json.dumps(figures, indent=1) + "\n")
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


@pytest.mark.parametrize(
    ("allow", "state", "words"),
    [(False, "refused", "Camera access was refused"), (True, "absent", "No camera was found")],
)
def test_live_page_says_when_there_is_no_camera(
    tmp_path: Path, server, data_dir: Path, artifacts_dir: Path, allow: bool, state: str, words: str
):
    video = None
    if not allow:  # a camera is there, but the user says no
        video = write_y4m(data_dir / "ukbench_subset" / "images" / FILMED, tmp_path / "c.y4m")
    with chromium(tmp_path / "profile", extra_args=fake_camera_args(video, allow=allow)) as driver:
        driver.get(server.url + "/live")
        shown = wait_for(driver, lambda d: d["state"] not in ("idle", "asking"), WAIT_S)
        assert shown["state"] == state, shown
        message = driver.find_element(By.ID, "live-message")
        assert message.is_displayed() and words in message.text
        assert driver.find_element(By.ID, "live-toggle").text == "Start camera"
        assert shown["sent"] == "0"
        driver.save_screenshot(str(artifacts_dir / f"live_camera_{state}.png"))
