"""`imgsearch dedup --verify` as a user runs it: heavy crops that the copy score leaves out
are confirmed by local features and grouped, and the summary says why they are there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_process import run_cli
from tests.engine_library import quarter_crop

pytest.importorskip("cv2")
pytestmark = pytest.mark.slow  # a small library indexed by the CLI


def test_verify_groups_heavy_crops_and_says_so(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[:12]
    (tmp_path / "col").mkdir()
    for photo in photos:
        Image.open(photo).convert("RGB").save(tmp_path / "col" / f"{photo.stem}.jpg", quality=92)
    for photo in photos[:4]:  # below the copy score
        quarter_crop(photo, tmp_path / "col" / f"{photo.stem}__crop.jpg")
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    assert run_cli([*args, "index", str(tmp_path / "col")], tmp_path).returncode == 0

    plain = run_cli([*args, "dedup", "--json"], tmp_path)
    verified = run_cli([*args, "dedup", "--verify", "--json"], tmp_path)
    assert plain.returncode == 0 and verified.returncode == 0, verified.stderr
    crops = {f"{p.stem}__crop.jpg" for p in photos[:4]}
    found = json.loads(verified.stdout)
    members = {Path(m["path"]).name: m for g in found["groups"] for m in g["members"]}
    assert crops <= set(members), members
    # each keeps its own copy score (it was reported at the threshold) and says why it is there
    for crop in crops:
        assert members[crop]["verified"] and members[crop]["score"] < found["threshold"], crop
    assert not any(m["verified"] for m in members.values() if m["score"] >= found["threshold"])
    assert len(json.loads(plain.stdout)["groups"]) < len(found["groups"])
    # the summary said "at copy score >= 0.840" for pairs that scored below it
    confirmed = found["stats"]["verify_confirmed"]
    assert confirmed >= 1
    # the lower band's pairs were asked to attach images no group took (counted, maybe 0)
    assert found["stats"]["attached"] == sum(m["via"] is not None for m in members.values())
    # ... and how many members joined below it (not every pair checked: an audit read 544
    # pairs for 120 such members)
    joined = sum(m["verified"] and m["via"] is None for m in members.values())
    assert joined >= len(crops)
    assert f"or confirmed by local features ({joined} of them)" in verified.stderr
    assert "confirmed" not in plain.stderr
    # the key points it made are kept: the next run reads them, makes none, reports the same
    kept = {p: p.stat().st_mtime_ns for p in (tmp_path / "lib" / "key-points").rglob("*.npz")}
    assert len(kept) >= 2 * len(crops)
    again = run_cli([*args, "dedup", "--verify", "--json"], tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["groups"] == found["groups"]
    after = (tmp_path / "lib" / "key-points").rglob("*.npz")
    assert {p: p.stat().st_mtime_ns for p in after} == kept
