"""The dedup HTML report, opened from disk in headless Chromium with no network: it renders
its groups, thumbnails and keepers, and a screenshot is kept as a test artifact."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.browser import chromium, require_chromium
from tests.engine_library import index_library, make_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402


def test_dedup_html_report_renders_offline(
    tmp_path: Path, data_dir: Path, models_dir: Path, artifacts_dir: Path
) -> None:
    photos = tmp_path / "photos"
    shutil.copytree(data_dir / "near_duplicates" / "images", photos)
    shutil.copy2(photos / "ukbench00120.jpg", photos / "ukbench00120 (copy).jpg")
    settings = make_settings(tmp_path / "library", models_dir)
    index_library(settings, [photos])
    report = tmp_path / "report.html"
    base = ["--library", str(settings.library), "--model-path", str(models_dir)]
    result = CliRunner().invoke(cli, [*base, "dedup", "--output", str(report), "--no-progress"])
    assert result.exit_code == 0, result.output

    with chromium(tmp_path / "profile") as driver:
        driver.get(report.as_uri())
        groups = driver.find_elements(By.CSS_SELECTOR, "[data-group], .group")
        assert groups, "the report shows no group"
        images = driver.find_elements(By.TAG_NAME, "img")
        assert images
        loaded = driver.execute_script(
            "return Array.from(document.images).filter(i => i.loading !== 'lazy' || "
            "i.getBoundingClientRect().top < innerHeight).every(i => i.complete && "
            "i.naturalWidth > 0)"
        )
        assert loaded, "thumbnails in view did not render"
        text = driver.find_element(By.TAG_NAME, "body").text.lower()
        assert "keep" in text and "ukbench00120" in text
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1360, min(height + 140, 2400))
        driver.save_screenshot(str(artifacts_dir / "dedup_report.png"))
        # the filter says how many groups match, and when none does (the page went blank
        # under its header "Groups 1-12 of 12")
        box = driver.find_element(By.ID, "filter")
        box.send_keys("ukbench00120")
        said = driver.find_element(By.ID, "filter-count").text
        assert said.startswith("1 of ") and said.endswith(" groups match"), said
        box.send_keys("-no-such-name")
        said = driver.find_element(By.ID, "filter-count").text
        assert said == "No group has a path with \u201cukbench00120-no-such-name\u201d", said
        assert not any(p.is_displayed() for p in driver.find_elements(By.CSS_SELECTOR, ".page"))
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []
