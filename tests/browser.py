"""Headless Chromium for the browser tests: Debian's chromium + chromium-driver, never a
downloaded browser. Tests skip with a clear reason where they are not installed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_S = 30
#: how often a wait asks its condition again: selenium's 0.5 s left most waits idle for up
#: to half a second after the page was ready (some 150 waits in the browser tests)
POLL_S = 0.05


def require_chromium() -> None:
    """Skip the calling test module unless selenium, chromium and chromedriver are there."""
    pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            f"headless browser tests need {CHROMIUM} and {CHROMEDRIVER} (install the "
            "distribution's chromium and chromium-driver packages)",
            allow_module_level=True,
        )


@contextmanager
def chromium(
    profile: Path, *, width: int = 1360, height: int = 1000, extra_args: Sequence[str] = ()
) -> Iterator[object]:
    """A headless Chromium WebDriver with a throw-away profile and no background traffic;
    ``extra_args`` are more command-line flags (a fake camera: :func:`fake_camera_args`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
        *extra_args,
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A headless Chromium for a test module (``browser = tests.browser.browser`` there)."""
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def waiter(driver, timeout: float = WAIT_S, also_ignore: tuple[type, ...] = ()):  # type: ignore[no-untyped-def]
    """A WebDriverWait of ``timeout`` seconds that asks every :data:`POLL_S` seconds; a
    condition that finds an element the page then replaces (stale) is asked again, as one
    that finds none yet: asked this often, it meets the page while the results are swapped.
    ``also_ignore``: more exceptions after which it asks again (a click that a still
    scrolling page made land on another element)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException, *also_ignore)
    return WebDriverWait(driver, timeout, poll_frequency=POLL_S, ignored_exceptions=ignored)


def wait(driver, condition):  # type: ignore[no-untyped-def]
    """``condition`` of a WebDriverWait, within :data:`WAIT_S` seconds."""
    return waiter(driver).until(condition)


def severe_console_messages(driver) -> list[str]:  # type: ignore[no-untyped-def]
    """Console errors (CSP violations, script errors, failed loads) since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def page_problem(driver) -> str:  # type: ignore[no-untyped-def]
    """What a page shows instead of its results (for an assertion's message): its address,
    title and any error or notice on it."""
    shown = [
        e.text for e in driver.find_elements("css selector", ".alert, .notice") if e.text.strip()
    ]
    return f"{driver.current_url} ({driver.title!r}): {shown or 'no error or notice shown'}"


def all_images_loaded(driver, selector: str) -> bool:  # type: ignore[no-untyped-def]
    """Every ``<img>`` matching ``selector`` has loaded with a picture."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".every(i => i.complete && i.naturalWidth > 0);",
        selector,
    )


def drag_region(driver, canvas, frm=(0.2, 0.2), to=(0.8, 0.8)) -> None:  # type: ignore[no-untyped-def]
    """Press at ``frm`` and release at ``to`` (fractions of the canvas), with the mouse."""
    from selenium.webdriver.common.action_chains import ActionChains

    width, height = canvas.size["width"], canvas.size["height"]
    start = (int((frm[0] - 0.5) * width), int((frm[1] - 0.5) * height))
    ActionChains(driver).move_to_element_with_offset(canvas, *start).click_and_hold().pause(
        0.1
    ).move_by_offset(
        int((to[0] - frm[0]) * width * 0.5), int((to[1] - frm[1]) * height * 0.5)
    ).move_by_offset(
        int((to[0] - frm[0]) * width * 0.5), int((to[1] - frm[1]) * height * 0.5)
    ).release().perform()


def fake_camera_args(video: Path | None, *, allow: bool = True) -> list[str]:
    """Flags for Chromium's fake camera: ``video`` (a Y4M or MJPEG file, looped) is what it
    films; ``allow`` answers the camera prompt yes, otherwise no. ``video=None``: no camera
    device at all (the real, absent one of a headless machine)."""
    args = ["--use-fake-ui-for-media-stream" if allow else "--deny-permission-prompts"]
    if video is not None:
        args += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"]
    return args


def write_y4m(
    photo: Path, target: Path, *, size: tuple[int, int] = (640, 480), frames: int = 4
) -> Path:
    """``photo`` as a Y4M video (a text header, then ``FRAME`` + raw YUV 4:2:0 planes per
    frame) that Chromium's fake camera plays in a loop."""
    from PIL import Image

    with Image.open(photo) as im:
        ycbcr = im.convert("RGB").resize(size, Image.Resampling.LANCZOS).convert("YCbCr")
    y, cb, cr = ycbcr.split()
    half = (size[0] // 2, size[1] // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with target.open("wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return target
