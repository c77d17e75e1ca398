"""Videos in the served UI, in headless Chromium, as a user meets them: a clip chosen in the
search form is searched (the page refused it as "not an image" although the server takes
clips), and a result that is a video or an animated GIF shows its player (it was cut off
below the card). A region with a clip is refused in words on every path (it was dropped
without a word: the whole clip was searched)."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import chromium, require_chromium, waiter
from tests.cli_process import run_cli, served
from tests.video_clips import write_slideshow

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()
pytest.importorskip("av")

from selenium.webdriver.common.by import By  # noqa: E402

SIZE = (320, 240)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Path:
    """A folder with clips/ (an MP4, an animated GIF, two photos) indexed through the CLI
    into the default ./imgsearch-library, and a still of the clip's second shot."""
    from PIL import Image

    home = tmp_path_factory.mktemp("video-ui")
    photos = sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[:4]
    (home / "clips").mkdir()
    write_slideshow(photos[:3], home / "clips" / "clip.mp4", SIZE)
    frames = [Image.open(p).convert("RGB").resize(SIZE) for p in photos[1:4]]
    frames[0].save(
        home / "clips" / "anim.gif", save_all=True, append_images=frames[1:], duration=300
    )
    for photo in photos[2:4]:
        shutil.copyfile(photo, home / "clips" / photo.name)
    with Image.open(photos[1]) as im:
        im.convert("RGB").resize(SIZE).save(home / "still.jpg", quality=92)
    done = run_cli(["--model-path", str(models_dir), "index", "--no-progress", "clips"], home)
    assert done.returncode == 0, done.stderr
    return home


@pytest.fixture(scope="module")
def server(clips: Path) -> Iterator[str]:
    with served([], clips) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), width=1280, height=1400) as driver:
        yield driver


def search_with(driver, server: str, file: Path, roi: str = "") -> list[object]:  # type: ignore[no-untyped-def]
    """Choose ``file`` in the form (as the file picker does), search, return the cards."""
    driver.get(server + "/")
    driver.find_element(By.ID, "image").send_keys(str(file))
    if roi:
        driver.find_element(By.ID, "roi").send_keys(roi)
    driver.find_element(By.ID, "submit").click()
    if roi:
        return []
    waiter(driver).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#results .card, #results .alert")
    )
    return driver.find_elements(By.CSS_SELECTOR, "#results .card")


def test_a_clip_chosen_in_the_form_is_searched(browser, server, clips) -> None:  # type: ignore[no-untyped-def]
    driver = browser
    driver.get_log("browser")
    cards = search_with(driver, server, clips / "clips" / "clip.mp4")
    message = driver.find_element(By.ID, "form-message").text
    assert "not an image" not in message and not message, message
    names = [card.find_element(By.CLASS_NAME, "name").text for card in cards]
    assert names and names[0].startswith("clip.mp4 @ "), names
    assert "is-exact" in cards[0].get_attribute("class")
    assert driver.find_element(By.ID, "preview-video").is_displayed()
    assert not driver.find_element(By.ID, "roi-canvas").is_displayed()  # no region on a clip
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe  # the preview's blob: video is allowed by the page's CSP
    # a region typed with a clip is refused before anything is sent
    search_with(driver, server, clips / "clips" / "clip.mp4", roi="0.1,0.1,0.5,0.5")
    message = driver.find_element(By.ID, "form-message").text
    assert "region is for a photo" in message, message


def test_video_and_animation_results_show_their_player(browser, server, clips) -> None:  # type: ignore[no-untyped-def]
    driver = browser
    cards = search_with(driver, server, clips / "still.jpg")
    players = [
        (card, clip) for card in cards for clip in card.find_elements(By.CSS_SELECTOR, ".clip")
    ]
    assert len(players) == 2  # the MP4's <video> and the GIF's animation
    # their height comes with the poster / the lazy GIF: wait for it, then check the placement
    tall = "return arguments[0].getBoundingClientRect().height > 40;"
    waiter(driver).until(lambda d: all(d.execute_script(tall, clip) for _card, clip in players))
    for card, clip in players:
        inside = driver.execute_script(
            "const c = arguments[0].getBoundingClientRect(),"
            " p = arguments[1].getBoundingClientRect();"
            "return p.top >= c.top && p.bottom <= c.bottom + 1;",
            card,
            clip,
        )
        assert inside, card.text  # the player lay below the card's clipped bottom


def test_a_region_with_a_clip_is_refused_on_every_path(server, clips) -> None:  # type: ignore[no-untyped-def]
    roi = "0.1,0.1,0.5,0.5"
    for query in ("clips/clip.mp4", "clips/anim.gif"):
        done = run_cli(["search", query, "--roi", roi], clips)
        assert done.returncode == 2, done.stderr
        assert "'--roi'" in done.stderr and "region is for a photo" in done.stderr
    ids = json.loads(run_cli(["search", "clips/clip.mp4", "--json"], clips).stdout)["results"]
    video_id = next(hit["id"] for hit in ids if hit["path"].endswith("clip.mp4"))
    boundary = "imgsearch-test"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image_id"\r\n\r\n{video_id}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="roi"\r\n\r\n{roi}\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    request = urllib.request.Request(
        server + "/api/v1/search",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=60)
    assert caught.value.code == 400
    error = json.loads(caught.value.read())["error"]
    assert error["code"] == "bad_roi" and "'roi'" in error["message"], error


def test_a_video_lookup_explains_its_copies_inside_their_cards(  # type: ignore[no-untyped-def]
    browser, server, clips, data_dir, tmp_path
) -> None:
    """Finding copies of a clip (its last two shots, not in the library): the sections name
    the video rule, and each card's evidence (a sentence: "100% of the shorter video's
    frames found in order · ...") wraps inside the card (one unbreakable line was cut at the
    card's edge)."""
    photos = sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[:4]
    write_slideshow(photos[1:3], tmp_path / "trimmed.mp4", SIZE)
    driver = browser
    driver.get(server + "/")
    driver.find_element(By.ID, "mode-lookup").click()
    driver.find_element(By.ID, "image").send_keys(str(tmp_path / "trimmed.mp4"))
    driver.find_element(By.ID, "submit").click()
    waiter(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#group-near"))
    assert "frames found in order" in driver.find_element(By.ID, "group-near").text
    pills = driver.find_elements(By.CSS_SELECTOR, "#results .evidence")
    assert any("frames found in order" in pill.text for pill in pills), [p.text for p in pills]
    for pill in pills:
        fits = driver.execute_script(
            "const e = arguments[0]; return e.scrollWidth <= e.clientWidth + 1;", pill
        )
        assert fits, pill.text
