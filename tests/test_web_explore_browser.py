"""The explore pages in headless Chromium against `imgsearch serve`: the clusters and outliers
galleries show their thumbnails, the map draws every image as a point, pointing at one shows
its thumbnail and clicking it opens the image page. Screenshots (explore_*.png) go to the
artifacts directory."""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.browser import chromium, page_problem, require_chromium, wait
from tests.served import serving
from tests.web_library import run_index

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

# the point farthest on screen from any other (nothing else under the pointer), and where it is
ISOLATED = """
const m = window.imgsearchMap, n = m.count(), p = [...Array(n).keys()].map(m.screenPoint);
let best = 0, far = -1;
for (let i = 0; i < n; i++) {
  let near = Infinity;
  for (let j = 0; j < n; j++)
    if (j !== i) near = Math.min(near, Math.hypot(p[i].x - p[j].x, p[i].y - p[j].y));
  if (near > far) { far = near; best = i; }
}
return p[best];
"""
TILE_NAMES = """
return Array.from(document.querySelectorAll('.tile-card')).map(card => {
  const name = card.querySelector('.tile-name');
  return {title: card.querySelector('a').title, text: name.textContent,
          clipped: name.scrollHeight > name.clientHeight + 1
                   || name.scrollWidth > name.clientWidth + 1};
});
"""
LOADED = (
    "return Array.from(document.querySelectorAll(arguments[0]))"
    ".every(i => i.complete && i.naturalWidth > 0);"
)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path
) -> Iterator[str]:
    """`imgsearch serve` of ukbench_subset (66 photos: 14 groups of four and distractors)."""
    library = tmp_path_factory.mktemp("explore") / "library"
    run_index(library, models_dir, data_dir / "ukbench_subset" / "images")
    command = [sys.executable, "-u", "-c", "from cli.main import main; main()"]
    command += ["--library", str(library), "--model-path", str(models_dir)]
    command += ["serve", "--port", "0", "--threads", "4"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
    with serving(command, REPO, {**env, "PYTHONPATH": str(REPO)}) as served:
        yield served.url


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as browser:
        yield browser


def screenshot(driver, path: Path) -> None:  # type: ignore[no-untyped-def]
    """The whole page (up to 2400 px high), every thumbnail loaded."""
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1360, min(max(height, 900) + 140, 2400))
    driver.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    wait(driver, lambda d: d.execute_script(LOADED, "main img:not(.map-tip img)"))
    time.sleep(0.3)
    shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    shot.quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
    driver.set_window_size(1360, 1000)


def test_clusters_page_shows_each_group_and_switches_method(
    server: str, driver, artifacts_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    driver.get(server + "/")
    driver.find_element(By.LINK_TEXT, "Clusters").click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".cluster"))
    clusters = driver.find_elements(By.CSS_SELECTOR, ".cluster")
    assert len(clusters) == 8  # a page of clusters; ukbench's groups of four
    for cluster in clusters:
        assert cluster.find_elements(By.CSS_SELECTOR, ".is-representative img")
        assert "image" in cluster.find_element(By.CSS_SELECTOR, "h3").text
    screenshot(driver, artifacts_dir / "explore_clusters.png")  # waits for every thumbnail
    # Every tile shows its name's start and end (ukbench00004.jpg and ukbench00005.jpg differ
    # only there; the tiles read "ukbench000..." alike), and nothing of it is hidden.
    for width in (1360, 500):
        driver.set_window_size(width, 1000)
        for tile in driver.execute_script(TILE_NAMES):
            name = tile["title"].rsplit("/", 1)[-1]
            assert not tile["clipped"], (width, tile)
            assert tile["text"].endswith(name[-8:]) and tile["text"][:6] == name[:6], (width, tile)
    driver.set_window_size(1360, 1000)

    driver.find_element(By.CSS_SELECTOR, "a[rel=next]").click()  # the last page: noise apart
    wait(driver, lambda d: "page=2" in d.current_url)
    assert driver.find_elements(By.CSS_SELECTOR, ".noise .tile-card img")
    screenshot(driver, artifacts_dir / "explore_clusters_noise.png")

    driver.find_element(By.CSS_SELECTOR, "label[for=method-kmeans], #method-kmeans").click()
    k = driver.find_element(By.ID, "k")
    assert k.is_displayed()  # k is asked only for k-means
    k.send_keys("3")
    driver.find_element(By.ID, "clusters-submit").click()
    wait(driver, lambda d: "method=kmeans" in d.current_url)
    sizes = [
        int(c.get_attribute("data-size")) for c in driver.find_elements(By.CSS_SELECTOR, ".cluster")
    ]
    assert (
        len(sizes) == 3 and sum(sizes) == 66 and not driver.find_elements(By.CSS_SELECTOR, ".noise")
    )
    driver.find_element(By.CSS_SELECTOR, ".cluster-more summary").click()  # "show all"
    wait(driver, lambda d: d.execute_script(LOADED, ".cluster-more[open] img"))


def test_outliers_page_ranks_with_score_and_reason(
    server: str, driver, artifacts_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    driver.get(server + "/outliers")
    wait(driver, lambda d: "/outliers" in d.current_url and d.find_elements(By.TAG_NAME, "h1"))
    cards = driver.find_elements(By.CSS_SELECTOR, ".outlier")
    assert len(cards) == 20, page_problem(driver)
    assert cards[0].find_element(By.CSS_SELECTOR, ".rank").text == "#1"
    scores = [float(c.find_element(By.CSS_SELECTOR, ".score").text.split()[0]) for c in cards]
    assert scores == sorted(scores, reverse=True)
    assert "sd" in cards[0].find_element(By.CSS_SELECTOR, ".reason").text
    screenshot(driver, artifacts_dir / "explore_outliers.png")
    cards[0].find_element(By.CSS_SELECTOR, "a").click()
    wait(driver, lambda d: "/images/" in d.current_url)


def test_map_draws_every_image_and_opens_the_one_clicked(
    server: str, driver, artifacts_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    driver.get(server + "/")
    driver.find_element(By.LINK_TEXT, "Map").click()
    wait(driver, lambda d: d.execute_script("return document.getElementById('map').dataset.ready"))
    assert "66 images" in driver.find_element(By.ID, "map-status").text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#map-legend li")) >= 2
    # a drawn point under the pointer: the script's own screen position of the first image
    canvas = driver.find_element(By.ID, "map-canvas")
    painted = driver.execute_script(
        "const c = arguments[0], d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;",
        canvas,
    )
    assert painted > 66 * 9  # every point is a few pixels
    screenshot(driver, artifacts_dir / "explore_map.png")
    time.sleep(0.5)  # the canvas follows the window's size back
    wait(driver, lambda d: d.execute_script("return document.getElementById('map').dataset.ready"))
    target = driver.execute_script(ISOLATED)
    rect = canvas.rect
    ActionChains(driver).move_to_element_with_offset(
        canvas, round(target["x"] - rect["width"] / 2), round(target["y"] - rect["height"] / 2)
    ).perform()
    tip = driver.find_element(By.ID, "map-tip")
    wait(driver, lambda d: tip.is_displayed())
    wait(driver, lambda d: d.execute_script(LOADED, "#map-tip img"))
    assert tip.get_attribute("data-id") == str(target["id"])
    driver.save_screenshot(str(artifacts_dir / "explore_map_hover.png"))
    # zooming keeps the page drawn; then a click on the point opens its image page
    driver.find_element(By.ID, "map-zoom-in").click()
    driver.find_element(By.ID, "map-reset").click()
    time.sleep(0.2)
    target = driver.execute_script(ISOLATED)
    ActionChains(driver).move_to_element_with_offset(
        canvas, round(target["x"] - rect["width"] / 2), round(target["y"] - rect["height"] / 2)
    ).click().perform()
    wait(driver, lambda d: d.current_url.endswith(f"/images/{target['id']}"))
    assert driver.find_element(By.CSS_SELECTOR, ".image-title")


# the map's cluster polls wait at a gate the test opens (the library changes meanwhile)
GATE = """
window.gate = new Promise((open) => (window.openGate = open));
const plain = window.fetch;
window.fetch = async (url, options) => {
  if (String(url).endsWith("/map/clusters")) await window.gate;
  return plain(url, options);
};
"""
MAP_IDS = (
    "const m = window.imgsearchMap;"
    "return [...Array(m.count()).keys()].map((i) => m.screenPoint(i).id);"
)


def _indexed_photos(
    tmp_path: Path, data_dir: Path, models_dir: Path, kind: str, count: int
) -> tuple[Path, Path]:
    """``count`` hymenoptera photos of ``kind`` copied into ``tmp_path/photos`` and indexed
    into ``tmp_path/library``: (photos, library)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    folder = data_dir / "hymenoptera" / "images" / "val" / kind
    for source in sorted(folder.glob("*.jpg"))[:count]:
        (photos / source.name).write_bytes(source.read_bytes())
    library = tmp_path / "library"
    run_index(library, models_dir, photos)
    return photos, library


def test_the_map_draws_again_when_the_library_changed_before_its_clusters(
    tmp_path: Path, data_dir: Path, models_dir: Path, driver
) -> None:  # type: ignore[no-untyped-def]
    from tests.cli_process import run_cli

    photos, library = _indexed_photos(tmp_path, data_dir, models_dir, "bees", 6)
    base = ["--library", str(library), "--model-path", str(models_dir)]
    # every map comes before its clusters here (as a library of 20 000 images' does)
    command = [sys.executable, "-u", "-c", "import search.explore.service as s; "]
    command[-1] += "s.MAP_WAITS_UP_TO = 0; from cli.main import main; main()"
    command += [*base, "serve", "--port", "0", "--threads", "4"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
    with serving(command, REPO, {**env, "PYTHONPATH": str(REPO)}) as served:
        driver.get(served.url + "/map")
        wait(driver, lambda d: d.execute_script("return window.imgsearchMap?.count()") == 6)
        driver.execute_script(GATE)  # before the first poll (2 s after the map)
        drawn = set(driver.execute_script(MAP_IDS))
        # one photo removed and another added: the same count, other images
        gone = sorted(photos.iterdir())[0]
        assert run_cli([*base, "remove", str(gone)], tmp_path).returncode == 0
        Image.new("RGB", (300, 200), (10, 10, 250)).save(photos / "blue.png")
        assert run_cli([*base, "index", "--no-progress", str(photos)], tmp_path).returncode == 0
        driver.execute_script("window.openGate()")
        ready = "return document.getElementById('map').dataset.clustersReady"
        wait(driver, lambda d: d.execute_script(ready) == "true")
        shown = set(driver.execute_script(MAP_IDS))
    assert len(shown) == len(drawn) == 6
    assert shown != drawn  # the map was drawn again for the new images, then coloured
    assert "6 images" in driver.find_element(By.ID, "map-status").text


def test_pointing_at_a_deleted_file_on_the_map_says_file_missing(
    tmp_path: Path, data_dir: Path, models_dir: Path, driver
) -> None:  # type: ignore[no-untyped-def]
    """The map's tip of an image whose file was deleted since indexing showed a broken
    thumbnail (a 404): it now says it has no picture, the file missing or changed (a 409: the
    tip said "File missing" of a changed file too)."""
    import requests

    _photos, library = _indexed_photos(tmp_path, data_dir, models_dir, "ants", 4)
    command = [sys.executable, "-u", "-c", "from cli.main import main; main()"]
    command += ["--library", str(library), "--model-path", str(models_dir)]
    command += ["serve", "--port", "0", "--threads", "4"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
    with serving(command, REPO, {**env, "PYTHONPATH": str(REPO)}) as served:
        listed = requests.get(served.url + "/api/v1/images", timeout=30).json()["results"]
        gone = listed[0]
        Path(gone["path"]).unlink()
        driver.get(served.url + "/map")
        wait(driver, lambda d: d.execute_script("return window.imgsearchMap?.count()") == 4)
        point = driver.execute_script(
            "const m = window.imgsearchMap; return [...Array(m.count()).keys()]"
            ".map(m.screenPoint).find((p) => p.id === arguments[0]);",
            gone["id"],
        )
        canvas = driver.find_element(By.ID, "map-canvas")
        rect = canvas.rect
        ActionChains(driver).move_to_element_with_offset(
            canvas, round(point["x"] - rect["width"] / 2), round(point["y"] - rect["height"] / 2)
        ).perform()
        tip = driver.find_element(By.ID, "map-tip")
        wait(driver, lambda d: tip.is_displayed() and tip.get_attribute("data-id"))
        assert tip.get_attribute("data-id") == str(gone["id"])
        text = tip.find_element(By.TAG_NAME, "span")
        wait(driver, lambda d: text.text.startswith("No picture (file missing or changed)"))
        assert not tip.find_element(By.TAG_NAME, "img").is_displayed()


def test_the_map_reaches_and_opens_a_point_from_the_keyboard(server: str, driver) -> None:  # type: ignore[no-untyped-def]
    """The map had no keyboard way to reach or open a point: Tab now reaches the canvas (a
    point chosen, its tip shown and announced), the arrow keys go to the nearest point that
    way, and Enter opens that image's page."""
    from selenium.webdriver.common.keys import Keys

    driver.get(server + "/map")
    wait(driver, lambda d: d.execute_script("return document.getElementById('map').dataset.ready"))
    driver.find_element(By.ID, "map-reset").click()
    ActionChains(driver).send_keys(Keys.TAB).perform()
    canvas = driver.find_element(By.ID, "map-canvas")
    assert driver.switch_to.active_element == canvas
    current = "return document.getElementById('map').dataset.current"
    first = wait(driver, lambda d: d.execute_script(current))
    tip = driver.find_element(By.ID, "map-tip")
    assert tip.is_displayed() and tip.get_attribute("data-id") == first
    announced = driver.find_element(By.ID, "map-focus").get_attribute("textContent")
    assert f"#{first}" in announced and "Enter opens it" in announced, announced
    where = (
        "const m = window.imgsearchMap; return [...Array(m.count()).keys()]"
        ".map(m.screenPoint).find((p) => String(p.id) === arguments[0]);"
    )
    ActionChains(driver).send_keys(Keys.ARROW_RIGHT).perform()
    second = wait(
        driver, lambda d: (d.execute_script(current) != first) and d.execute_script(current)
    )
    before, after = (driver.execute_script(where, i) for i in (first, second))
    assert after["x"] > before["x"], (before, after)  # it went right (one view: both now)
    assert tip.get_attribute("data-id") == second
    ActionChains(driver).send_keys(Keys.ARROW_LEFT, Keys.ARROW_UP, Keys.ARROW_DOWN).perform()
    chosen = driver.execute_script(current)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait(driver, lambda d: d.current_url.endswith(f"/images/{chosen}"))
    assert driver.find_element(By.CSS_SELECTOR, ".image-title")
