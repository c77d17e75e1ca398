"""The hard copy-detection generator: determinism, edits, ground truth, safety of the output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.evaluation import EDITS, CopiesError, load_truth, make_copies


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """Four small synthetic originals, including an RGBA PNG and a palette GIF."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:120, 0:160]
    for k in range(4):
        rgb = np.stack([(xx * (k + 1)) % 256, (yy * 2 + 40 * k) % 256, (xx + yy) % 256], -1)
        rgb = (rgb + rng.integers(0, 30, rgb.shape)).clip(0, 255).astype(np.uint8)
        img = Image.fromarray(rgb)
        if k == 0:
            img.save(src / "a.jpg", quality=95)
        elif k == 1:
            img.putalpha(200)
            img.save(src / "b.png")
        elif k == 2:
            img.convert("P").save(src / "sub" / "c.gif")
        else:
            img.save(src / "sub" / "d.jpg", quality=95)
    return src


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_gives_byte_identical_output(sources: Path, tmp_path: Path) -> None:
    first = make_copies(sources, tmp_path / "one", per_original=17, seed=5).parent
    second = make_copies(sources, tmp_path / "two", per_original=17, seed=5).parent
    assert _tree(first) == _tree(second)
    other = make_copies(sources, tmp_path / "three", per_original=17, seed=6).parent
    a, c = _tree(first), _tree(other)
    assert a.keys() != c.keys() or any(a[k] != c[k] for k in a if k.endswith(".jpg"))


def test_ground_truth_names_and_structure(sources: Path, tmp_path: Path) -> None:
    path = make_copies(sources, tmp_path / "out", per_original=17, seed=1, distractor_share=0.25)
    data = json.loads(path.read_text())
    truth = load_truth(path)  # the evaluator's loader reads it; every file exists
    assert truth.kind == "clusters" and truth.root == path.parent
    assert len(truth.groups) == 3 and len(truth.distractors) == 1
    assert data["pairs_positive_count"] == truth.n_duplicate_pairs() == 3 * (18 * 17 // 2)
    for key, members in data["clusters"].items():
        original, copies = members[0], members[1:]
        assert Path(original).stem == key and len(copies) == 17
        assert len(set(copies)) == 17
        singles = {truth.edit_of(c) for c in copies if "+" not in truth.edit_of(c)}
        assert singles == set(EDITS)  # 14 singles: every edit once per original
        for c in copies:
            assert c.startswith(f"{key}__") and c.endswith(".jpg")
            recipe = truth.edit_of(c).split("+")
            assert recipe == data["edits"][c]["edits"] and 1 <= len(recipe) <= 3
            assert len({EDITS[e][0] for e in recipe}) == len(recipe)  # distinct kinds
    # Originals are copied byte for byte (PNG with alpha, GIF in a subfolder included).
    assert (path.parent / "b.png").read_bytes() == (sources / "b.png").read_bytes()
    assert (path.parent / "c.gif").read_bytes() == (sources / "sub" / "c.gif").read_bytes()


def test_edits_do_what_they_say(sources: Path, tmp_path: Path) -> None:
    path = make_copies(sources, tmp_path / "out", per_original=14, seed=2, distractor_share=0)
    data = json.loads(path.read_text())
    out = path.parent
    for name, info in data["edits"].items():
        edit, params = info["edits"][0], info["params"]
        src = Image.open(
            out / f"{name.split('__')[0]}{Path(data['sources'][name.split('__')[0]]).suffix}"
        )
        img = Image.open(out / name)
        (w, h), (ow, oh) = img.size, src.size
        if edit == "crop":
            assert 0.28 <= (w * h) / (ow * oh) <= 0.62 and 0.3 <= params["crop_area"] <= 0.6
        elif edit == "rot90":
            assert (w, h) == (oh, ow)
        elif edit in ("rot180", "hflip", "vflip", "hue", "grey", "contrast", "text", "jpeg"):
            assert (w, h) == (ow, oh)
        elif edit == "rotate":
            assert w > ow and h > oh and 5 <= abs(params["angle"]) <= 25
        elif edit == "tiny":
            assert 64 <= max(w, h) <= 128
        elif edit == "caption":
            assert w == ow and h >= oh * 1.17
        elif edit == "screenshot":
            assert f"{w}x{h}" == params["canvas"] and params["photo_area"] < 0.5
        if edit == "jpeg":
            assert 10 <= params["quality"] <= 20
            assert np.mean(img.quantization[0]) > 3 * np.mean(
                Image.open(out / name.replace("__jpeg", "__hflip")).quantization[0]
            )
        if edit == "grey":
            a = np.asarray(img, dtype=np.int16)
            assert np.abs(a[..., 0] - a[..., 1]).mean() < 2
        if edit == "hflip":
            if src.mode != "RGB":  # alpha / palette originals are flattened onto white first
                continue
            ref = np.asarray(src.transpose(Image.Transpose.FLIP_LEFT_RIGHT), float)
            assert np.abs(np.asarray(img, float) - ref).mean() < 8


def test_output_folder_is_never_clobbered(sources: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(CopiesError, match="not a generated set"):
        make_copies(sources, foreign, per_original=2, overwrite=True)
    assert (foreign / "keep.txt").read_text() == "mine"

    out = tmp_path / "out"
    make_copies(sources, out, per_original=2, seed=0)
    with pytest.raises(CopiesError, match="not empty"):
        make_copies(sources, out, per_original=2, seed=0)
    make_copies(sources, out, per_original=3, seed=0, overwrite=True)  # replaces our own set
    assert len(load_truth(out).copy_queries) == 3 * 3
    (out / "notes.txt").write_text("mine")
    with pytest.raises(CopiesError, match="other files"):
        make_copies(sources, out, per_original=2, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_bad_sources_are_typed_errors(sources: Path, tmp_path: Path) -> None:
    with pytest.raises(CopiesError, match="per_original"):
        make_copies(sources, tmp_path / "o1", per_original=0)
    with pytest.raises(CopiesError, match="not found"):
        make_copies(tmp_path / "missing", tmp_path / "o2")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.jpg").write_text("not an image")
    with pytest.raises(CopiesError, match="cannot read original"):
        make_copies(bad, tmp_path / "o3", distractor_share=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CopiesError, match="no images"):
        make_copies(empty, tmp_path / "o4")


def test_an_unreadable_original_is_skipped_and_counted(sources: Path, tmp_path: Path) -> None:
    """`eval make-copies` stopped at the first unreadable original ("Error: cannot read
    original ...", exit 1, nothing made): it is skipped with a warning, the others are made,
    and the summary counts it (exit 0, as `index` counts its failed files)."""
    from click.testing import CliRunner

    from cli.main import cli

    (sources / "broken.jpg").write_text("not an image")
    told: list[Path] = []
    path = make_copies(
        sources, tmp_path / "set", per_original=2, seed=1, on_skip=lambda p, _r: told.append(p)
    )
    assert told == [sources / "broken.jpg"]
    assert "broken.jpg" not in {p.name for p in path.parent.iterdir()}
    truth = json.loads(path.read_text())
    originals = {Path(p).name for p in truth["sources"].values()}
    assert originals == {"a.jpg", "b.png", "c.gif", "d.jpg"} and truth["clusters"]
    out = tmp_path / "cli"
    done = CliRunner().invoke(
        cli, ["eval", "make-copies", str(sources), str(out), "--per-original", "2", "--seed", "1"]
    )
    assert done.exit_code == 0, done.output
    assert f"warning: skipped original {sources / 'broken.jpg'} (cannot read it:" in done.output
    assert ", 1 original skipped (see above) in " in done.output


def test_a_second_original_of_the_same_bytes_is_skipped(sources: Path, tmp_path: Path) -> None:
    """Two byte-identical originals made a set whose truth called each one's copies the
    copies of that original only (each was the other's exact copy): the second is skipped,
    and said so."""
    from click.testing import CliRunner

    from cli.main import cli

    (sources / "z-again.jpg").write_bytes((sources / "a.jpg").read_bytes())
    told: list[tuple[Path, str]] = []
    path = make_copies(
        sources, tmp_path / "set", per_original=2, seed=1, on_skip=lambda p, r: told.append((p, r))
    )
    assert told == [(sources / "z-again.jpg", f"the same bytes as {sources / 'a.jpg'}")]
    truth = json.loads(path.read_text())
    assert "z-again.jpg" not in {Path(p).name for p in truth["sources"].values()}
    done = CliRunner().invoke(
        cli, ["eval", "make-copies", str(sources), str(tmp_path / "cli"), "--per-original", "2"]
    )
    assert done.exit_code == 0, done.output
    assert f"skipped original {sources / 'z-again.jpg'} (the same bytes as" in done.output


def test_real_photos_easy_edits_find_their_original(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    from search.evaluation import evaluate_folder, model_embedder

    photos = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[::16][:4]
    path = make_copies(photos, tmp_path / "set", per_original=14, seed=3, distractor_share=0.25)
    ev = evaluate_folder(load_truth(path), model_embedder(search_path=[models_dir]))
    assert set(ev.metrics) >= {"pair_ap", "recall_at_p99", "recall@1"}
    for edit in ("hflip", "jpeg", "contrast", "caption"):  # 48/48 at rank 1 on the dev set
        assert ev.per_edit[edit]["recall@1"] == 1.0, (edit, ev.per_edit[edit])


def _run_make_copies(cwd: Path, src: Path, out: str, *args: str):  # type: ignore[no-untyped-def]
    from tests.cli_process import run_cli

    return run_cli(["eval", "make-copies", str(src), out, *args], cwd, timeout=120)


def test_overwrite_refuses_before_it_deletes_anything(tmp_path: Path, data_dir: Path) -> None:
    """`make-copies --overwrite` deleted the old set, then refused an OUT holding other files
    (or, with SRC == OUT, failed on the deleted originals): the user had neither set. Every
    refusal is now one line and exit 1 before a file is touched."""
    src = data_dir / "ukbench_subset" / "images"
    small = ["--max-originals", "2", "--per-original", "2"]
    done = _run_make_copies(tmp_path, src, "out", *small)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    (out / "notes.txt").write_text("note")
    before = _tree(out)
    assert len(before) == 8  # 2 originals, 4 copies, the ground truth, the note
    one = ["--max-originals", "1", "--per-original", "1", "--overwrite"]
    refusals = [
        (src, "holds other files (notes.txt)"),
        (out, "is the source folder"),
        (tmp_path, "lies inside the source folder"),
    ]
    for source, message in refusals:
        done = _run_make_copies(tmp_path, source, "out", *one)
        assert sorted(_tree(out)) == sorted(before), (source, done.stderr)  # nothing deleted
        assert _tree(out) == before
        assert done.returncode == 1 and message in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    (out / "notes.txt").unlink()
    (out / "originals").mkdir()
    shutil.copyfile(src / "ukbench00000.jpg", out / "originals" / "ukbench00000.jpg")
    done = _run_make_copies(tmp_path, out / "originals", "out", *one)
    assert done.returncode == 1 and "lies inside the output folder" in done.stderr, done.stderr
    assert (out / "originals" / "ukbench00000.jpg").is_file()
    # a refused OUT that did not exist is not left behind (here: inside the sources)
    done = _run_make_copies(tmp_path, out, "out/new", "--per-original", "1")
    assert done.returncode == 1 and not (out / "new").exists(), done.stderr
    shutil.rmtree(out / "originals")
    done = _run_make_copies(tmp_path, src, "out", *one)  # only the set: replaced
    assert done.returncode == 0, done.stderr
    assert sorted(_tree(out)) == ["ground_truth.json", "ukbench00000.jpg", "ukbench00000__crop.jpg"]


def test_a_failure_half_way_keeps_the_old_set(
    sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new set is written into a staging folder and moved in only when complete."""
    import search.evaluation.sets.copies as copies

    out = tmp_path / "out"
    make_copies(sources, out, per_original=2, seed=0)
    before = _tree(out)
    calls = {"n": 0}
    real = copies.apply_edits

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(copies, "apply_edits", failing)
    with pytest.raises(OSError, match="No space"):
        make_copies(sources, out, per_original=3, seed=1, overwrite=True)
    assert _tree(out) == before  # no staging folder left either
    monkeypatch.setattr(copies, "apply_edits", real)
    make_copies(sources, out, per_original=3, seed=1, overwrite=True)
    assert len(load_truth(out).copy_queries) == 3 * 3
    data = json.loads((out / "ground_truth.json").read_text())
    listed = {name for names in data["clusters"].values() for name in names}
    assert set(_tree(out)) == listed | set(data["distractors"]) | {"ground_truth.json"}


def test_a_high_distractor_share_still_leaves_an_original_with_copies(
    sources: Path, tmp_path: Path
) -> None:
    """`eval make-copies SRC OUT --distractors 0.95` of 4 originals made all 4 distractors,
    then failed its own check ("no file has a relevant match") with the set written."""
    path = make_copies(sources, tmp_path / "out", per_original=2, distractor_share=0.95)
    truth = load_truth(path)
    assert (len(truth.groups), len(truth.distractors)) == (1, 3)
    one = tmp_path / "one"
    one.mkdir()
    shutil.copyfile(sources / "a.jpg", one / "a.jpg")
    truth = load_truth(make_copies(one, tmp_path / "single", per_original=2, distractor_share=0.9))
    assert (len(truth.groups), len(truth.distractors)) == (1, 0)


def test_make_copies_prints_json(tmp_path: Path, data_dir: Path) -> None:
    """Every command that prints results takes `--json` (README); `make-copies` did not."""
    src = data_dir / "ukbench_subset" / "images"
    done = _run_make_copies(
        tmp_path, src, "set", "--max-originals", "3", "--per-original", "2", "--json"
    )
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    truth = load_truth(Path(made["truth"]))
    assert made["copies"] == len(truth.copy_queries) > 0
    assert made["originals"] == len(truth.groups) and made["skipped"] == []
