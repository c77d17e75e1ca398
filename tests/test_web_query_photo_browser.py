"""The search page's query photo in headless Chromium against `imgsearch serve` (the web UI's
library): what the page shows is what Search sends. A file the browser puts back in the field
on Back is shown; a pasted file is taken or refused as a dropped one; a search still running
when another photo is chosen never shows its answer as the new photo's."""

from __future__ import annotations

import base64
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
# a File of the bytes arguments[0] (base64) named arguments[1] of type arguments[2], dropped
# on the drop zone or pasted (arguments[3]), as the clipboard or a file manager gives one;
# a null name: text pasted, no file
TRANSFER = """
const [b64, name, type, how] = arguments;
const transfer = new DataTransfer(), events = {bubbles: true, cancelable: true};
if (name === null) transfer.setData('text/plain', b64);
else transfer.items.add(new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], name, {type}));
if (how === 'paste') {
  document.body.dispatchEvent(new ClipboardEvent('paste', {clipboardData: transfer, ...events}));
} else {
  const zone = document.getElementById('dropzone');
  for (const kind of ['dragenter', 'dragover', 'drop'])
    zone.dispatchEvent(new DragEvent(kind, {dataTransfer: transfer, ...events}));
}
"""


def _photo_shown(driver) -> bool:  # type: ignore[no-untyped-def]
    return driver.execute_script(
        "const i = document.getElementById('preview-img');"
        "return !document.getElementById('preview').hidden && i.complete && i.naturalWidth > 0;"
    )


def _fresh_page(driver, address: str) -> None:  # type: ignore[no-untyped-def]
    """Load ``address`` anew and wait until its scripts have run (a suite run under load once
    sent an event to the page being left: the state read then was empty)."""
    driver.execute_script("window.leftHere = true")
    driver.get(address)
    wait(
        driver,
        lambda d: d.execute_script(
            "return window.leftHere === undefined && document.readyState === 'complete'"
        ),
    )


def _settled(state: dict) -> dict | None:
    """``state`` once the page has taken a file or said why not (None before)."""
    return state if state["file"] or state["message"] else None


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


def test_a_pasted_file_is_taken_or_refused_as_a_dropped_one(
    browser, server, weblib, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A pasted video was ignored without a word (only image/* pastes were read) where a drop
    of it is searched by its frames, and a pasted text file or PDF said nothing where a drop
    says why it is refused. Now a pasted file goes where a dropped one goes, in its words;
    text pasted (no file) is still left to the fields."""
    pytest.importorskip("av")
    from tests.video_clips import write_slideshow

    clip = tmp_path / "clip.mp4"
    photos = sorted(weblib.query_photo.parent.glob("*.jpg"))[:2]
    write_slideshow(photos, clip, (160, 120), hold=5)
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    driver = browser
    for name, kind, data in (
        ("clip.mp4", "video/mp4", clip.read_bytes()),
        ("notes.txt", "text/plain", b"hello, I am not an image\n"),
        ("paper.pdf", "application/pdf", pdf),
        ("photo.jpg", "image/jpeg", weblib.query_photo.read_bytes()),
    ):
        seen = {}
        for how in ("drop", "paste"):
            _fresh_page(driver, server + "/")
            encoded = base64.b64encode(data).decode()
            driver.execute_script(TRANSFER, encoded, name, kind, how)
            # taken (a file) or refused (a message): what the page settles on
            seen[how] = wait(driver, lambda d: _settled(d.execute_script(STATE)))
        assert seen["paste"] == seen["drop"], (name, seen)
        if kind.startswith(("video/", "image/")):
            assert seen["paste"]["preview"] and seen["paste"]["file"] == name, seen
            assert seen["paste"]["message"] == "", seen
            searched_as = "a video: searched by its frames, whole" if kind == "video/mp4" else "KiB"
            assert searched_as in seen["paste"]["name"], seen
        else:
            assert f"“{name}” is not an image or a video ({kind})" in seen["paste"]["message"]
            assert not seen["paste"]["preview"] and seen["paste"]["file"] is None, seen
    _fresh_page(driver, server + "/")
    driver.execute_script(TRANSFER, "some words", None, None, "paste")  # text, not a file
    assert driver.execute_script(STATE) == {
        "message": "",
        "preview": False,
        "name": "",
        "file": None,
    }


def test_a_search_running_when_another_photo_is_chosen_shows_no_answer_as_its(
    browser, server, weblib
) -> None:  # type: ignore[no-untyped-def]
    """Another photo chosen while a search ran: the running search's answer came after and
    replaced the results, unmarked, under the new photo's preview, as if they were its
    matches. Now choosing another photo stops the running search and says so; Search then
    searches the photo shown."""
    driver = browser
    first = weblib.query_photo
    other = next(p for p in sorted(weblib.extra.glob("bees_*.jpg")))
    driver.get(server + "/")
    driver.find_element(By.ID, "image").send_keys(str(first))
    wait(driver, _photo_shown)
    driver.set_network_conditions(latency=2500, download_throughput=-1, upload_throughput=-1)
    try:
        driver.find_element(By.ID, "submit").click()
        wait(driver, ec.visibility_of_element_located((By.ID, "search-progress")))
        driver.find_element(By.ID, "image").send_keys(str(other))
        wait(driver, lambda d: other.name in d.find_element(By.ID, "preview-name").text)
        time.sleep(4)  # the first photo's answer has come by now, had it been waited for
    finally:
        driver.delete_network_conditions()
    wait(driver, lambda d: d.find_element(By.ID, "submit").is_enabled())
    state = driver.execute_script(STATE)
    assert state["name"].startswith(other.name) and state["file"] == other.name, state
    unmarked = driver.find_elements(By.CSS_SELECTOR, "#results:not(.is-stale) li.card")
    assert not unmarked, [c.text for c in unmarked]  # no answer shown as the new photo's
    assert "previous photo was stopped" in state["message"], state
    assert not driver.find_element(By.ID, "search-progress").is_displayed()
    driver.find_element(By.ID, "submit").click()
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#results li.card")))
    first_card = driver.find_element(By.CSS_SELECTOR, "#results li.card")
    assert other.name in first_card.text and "EXACT COPY" in first_card.text.upper(), (
        first_card.text
    )
