"""``imgsearch models list``, ``embed`` and ``classify`` through click's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import cli


@pytest.fixture()
def runner(tmp_path: Path) -> CliRunner:
    # No inherited IMGSEARCH_MODEL_PATH: each test says where the models are.
    return CliRunner(
        env={
            "IMGSEARCH_MODEL_PATH": "",
            "IMGSEARCH_MODEL": "",
            "XDG_DATA_HOME": str(tmp_path / "xdg"),
        }
    )


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> list[str]:
    root = data_dir / "hymenoptera/images/val"
    return [
        str(sorted((root / "bees").glob("*.jpg"))[0]),
        str(sorted((root / "ants").glob("*.jpg"))[0]),
    ]


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_models_list_json_and_table(runner: CliRunner, models_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["--model-path", str(models_dir), "models", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {row["name"]: row for row in data["models"]}
    assert set(rows) >= {
        "mobilenet_v3_small_100",
        "mobilenet_v3_small_100_int8",
        "mobilenet_v3_small_075",
    }
    for row in rows.values():
        assert row["found"] and row["verified"] and Path(row["path"]).parent == models_dir
    assert rows["mobilenet_v3_small_100"]["default"] is True
    assert data["search_path"][0] == str(models_dir)

    missing = runner.invoke(cli, ["--model-path", str(tmp_path), "models", "list", "--json"])
    assert missing.exit_code == 0
    for row in json.loads(missing.output)["models"]:
        assert not row["found"] and not row["verified"] and str(tmp_path) in row["error"]

    table = runner.invoke(cli, ["--model-path", str(models_dir), "models", "list"])
    assert table.exit_code == 0
    assert "*mobilenet_v3_small_100" in table.output and "verified" in table.output


def test_embed_json_with_bad_file(
    runner: CliRunner, models_dir: Path, photos: list[str], tmp_path: Path
) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 nonsense")
    args = ["--model-path", str(models_dir), "embed", "--json", photos[0], str(bad), photos[1]]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    entries = json_lines(result.stdout)
    assert [e["path"] for e in entries] == [photos[0], str(bad), photos[1]]
    assert "error" in entries[1] and entries[1]["reason"] in ("corrupt", "truncated")
    for entry in (entries[0], entries[2]):
        head = entry["embeddings"][0]
        assert (head["head_index"], head["head_name"]) == (0, "embedding")
        assert abs(np.linalg.norm(head["embedding"]) - 1.0) < 1e-3
    assert "1 of 3 images failed" in result.stderr


def test_embed_roi_quantize_and_model(
    runner: CliRunner, models_dir: Path, photos: list[str]
) -> None:
    base = ["--model-path", str(models_dir), "embed", "--json"]
    plain = json_lines(runner.invoke(cli, [*base, photos[0]]).stdout)[0]
    roi = runner.invoke(cli, [*base, "--roi", "0.1,0.1,0.6,0.6", photos[0]])
    assert roi.exit_code == 0
    assert (
        json_lines(roi.stdout)[0]["embeddings"][0]["embedding"]
        != plain["embeddings"][0]["embedding"]
    )
    quant = json_lines(runner.invoke(cli, [*base, "--quantize", photos[0]]).stdout)[0]
    values = quant["embeddings"][0]["embedding"]
    assert all(isinstance(v, int) and -128 <= v <= 127 for v in values)
    mp = runner.invoke(cli, [*base, "--model", "mobilenet_v3_small_075", photos[0]])
    assert json_lines(mp.stdout)[0]["model"] == "mobilenet_v3_small_075"
    bad_roi = runner.invoke(cli, [*base, "--roi", "0.5,0.5,0.1", photos[0]])
    assert bad_roi.exit_code == 2 and "four numbers" in bad_roi.output
    # Units are explicit: fractions 0..1, or px: pixels that must lie within the image.
    for command in ("embed", "classify"):
        args = ["--model-path", str(models_dir), command]
        for roi in ("0,0,1.5,1", "-0.1,0,1,1", "10,10,2000,2000", "px:0,0,5000,100"):
            result = runner.invoke(cli, [*args, f"--roi={roi}", photos[0]])
            assert result.exit_code == 2, (command, roi, result.output)
            assert "Invalid value for '--roi'" in result.output, result.output
    embed = ["--model-path", str(models_dir), "embed", "--json"]
    pixels, fractions = (
        json_lines(runner.invoke(cli, [*embed, "--roi", roi, photos[0]]).output)
        for roi in ("px:0,0,183,250", "0,0,0.5,0.5")
    )  # 366x500: the same box
    assert pixels == fractions
    text = runner.invoke(cli, ["--model-path", str(models_dir), "embed", photos[0]])
    assert text.exit_code == 0 and "dim=1024" in text.output and "norm=1.0000" in text.output


def test_classify(runner: CliRunner, models_dir: Path, photos: list[str]) -> None:
    base = ["--model-path", str(models_dir), "classify"]
    result = runner.invoke(cli, [*base, "--json", "--max-results", "3", *photos])
    assert result.exit_code == 0, result.output
    entries = json_lines(result.stdout)
    assert len(entries) == 2
    for entry in entries:
        cats = entry["categories"]
        assert len(cats) == 3 and all(c["index"] != 0 for c in cats)
        assert set(cats[0]) == {"index", "score", "category_name", "display_name"}
        assert [c["score"] for c in cats] == sorted((c["score"] for c in cats), reverse=True)
    allowed = json_lines(
        runner.invoke(cli, [*base, "--json", "--allow", "bee", "--allow", "ant", photos[0]]).stdout
    )[0]
    assert sorted(c["category_name"] for c in allowed["categories"]) == ["ant", "bee"]
    denied = json_lines(
        runner.invoke(
            cli,
            [*base, "--json", "--deny", entries[0]["categories"][0]["category_name"], photos[0]],
        ).stdout
    )[0]
    assert denied["categories"][0]["index"] == entries[0]["categories"][1]["index"]
    high = json_lines(
        runner.invoke(cli, [*base, "--json", "--score-threshold", "0.999", photos[0]]).stdout
    )[0]
    assert high["categories"] == []
    both = runner.invoke(cli, [*base, "--allow", "ant", "--deny", "bee", photos[0]])
    assert both.exit_code == 2
    # background is never listed: allowing it could only ever print nothing (it exited 0)
    background = runner.invoke(cli, [*base, "--allow", "background", photos[0]])
    assert background.exit_code == 2, background.output
    assert "'--allow'" in background.output and "never listed" in background.output
    table = runner.invoke(cli, [*base, photos[0], "/no/such/file.jpg"])
    assert table.exit_code == 2  # an image argument that names no file: a usage error
    assert photos[0] in table.output and "ERROR" in table.output
    no_head = runner.invoke(cli, [*base, "--model", "mobilenet_v3_small_075", photos[0]])
    assert no_head.exit_code == 1 and "no class head" in no_head.output


def test_classify_sums_the_classes_that_share_a_name(
    runner: CliRunner, models_dir: Path, data_dir: Path
) -> None:
    """ImageNet has two "maillot" classes: `classify` lists both, as MediaPipe's classifier
    does, each with its index; an audit read the name twice with its probability split (README
    says label lists name each label once): a line under them gives their sum."""
    photo = data_dir / "near_duplicates" / "images" / "augly_dfdc_1__RandomPixelization.png"
    args = ["--model-path", str(models_dir), "classify", "--allow", "maillot", str(photo)]
    table = runner.invoke(cli, args)
    assert table.exit_code == 0, table.output
    rows = [line.split() for line in table.output.splitlines()[1:] if line.strip()[0] != "("]
    assert [row[2] for row in rows] == ["maillot", "maillot"]
    (note,) = [line.strip() for line in table.output.splitlines() if "share this name" in line]
    assert note.startswith("(maillot: 2 classes of the model share this name, ")
    assert float(note.split(", ")[1].split()[0]) == pytest.approx(
        sum(float(row[0]) for row in rows), abs=2e-4
    )


def test_error_entries_have_one_shape_in_both_running_modes(
    runner: CliRunner, models_dir: Path, tmp_path: Path
) -> None:
    """`embed --json` gives a file that fails {"path", "error": message, "reason": code};
    `--running-mode video` gave {"path", "error": code, "message": message}."""
    zero = tmp_path / "zero.jpg"
    zero.write_bytes(b"")
    entries = []
    for mode in ("image", "video"):
        args = ["--model-path", str(models_dir), "embed", "--json", "--running-mode", mode]
        result = runner.invoke(cli, [*args, str(zero)])
        assert result.exit_code == 1, result.output
        entries.append(json_lines(result.stdout)[0])
    assert entries[0] == entries[1], entries
    assert set(entries[1]) == {"path", "error", "reason"} and entries[1]["reason"] == "empty"
    assert "empty" in entries[1]["error"] and entries[1]["error"] != "empty"


def test_missing_model_is_a_clear_error(
    runner: CliRunner, tmp_path: Path, photos: list[str]
) -> None:
    result = runner.invoke(cli, ["--model-path", str(tmp_path), "embed", photos[0]])
    assert result.exit_code == 1
    assert "mobilenet_v3_small_100_224.onnx" in result.output and str(tmp_path) in result.output
    # an unknown --model is a bad option value: a usage error (exit 2, README's table), as
    # it is for the commands that write a library (it was exit 1, met while running)
    for args in (["embed", "--model", "nope", photos[0]], ["index", "--model", "nope"]):
        unknown = runner.invoke(cli, ["--library", str(tmp_path / "lib"), *args])
        assert unknown.exit_code == 2 and "unknown model 'nope'" in unknown.output, args
        assert "Known models: mobilenet_v3_small_100" in unknown.output
    unknown = runner.invoke(cli, ["--library", str(tmp_path / "lib"), "reindex", "--model", "x"])
    assert unknown.exit_code == 2 and "unknown model 'x'" in unknown.output
    assert not (tmp_path / "lib").exists()  # refused before anything was made


def test_a_missing_model_is_said_once_for_many_videos(
    runner: CliRunner, tmp_path: Path, photos: list[str]
) -> None:
    """`embed --running-mode video A B` without the model printed the whole model-not-found
    text once per file, as each file's "ERROR: error: ..." (and JSON entries with error
    "error"); it is one error before any file, as in image mode."""
    from PIL import Image

    clips = []
    for n in range(2):
        frames = [Image.open(p).convert("RGB").resize((64, 48)) for p in photos]
        clips.append(str(tmp_path / f"anim{n}.gif"))
        frames[0].save(clips[-1], save_all=True, append_images=frames[1:], duration=300)
    for extra in ([], ["--json"]):
        base = ["--model-path", str(tmp_path), "embed", "--running-mode", "video", *extra]
        result = runner.invoke(cli, [*base, *clips])
        assert result.exit_code == 1, result.output
        assert result.output.count("was not found in any directory") == 1, result.output
        assert result.output.startswith("Error: ") and "ERROR" not in result.output


def test_a_video_entry_has_an_image_entrys_fields_and_its_frames(
    runner: CliRunner, models_dir: Path, tmp_path: Path, photos: list[str]
) -> None:
    """`embed --json` of a video was {path, model, running_mode, duration_ms, width, height,
    frames: [{timestamp_ms, shot, embedding}]}, with none of an image's "embeddings": a
    script reading `embeddings[0].embedding` of each line failed on every video. A video's
    entry has an image's fields (its embeddings one per sampled frame, with their times),
    and its frames as before."""
    from PIL import Image

    clip = tmp_path / "clip.gif"
    frames = [Image.open(p).convert("RGB").resize((96, 72)) for p in photos]
    frames[0].save(clip, save_all=True, append_images=frames[1:], duration=1500)
    base = ["--model-path", str(models_dir), "embed", "--json"]
    still = runner.invoke(cli, [*base, str(clip)])  # image mode: the first frame, a still
    video = runner.invoke(cli, [*base, "--running-mode", "video", str(clip)])
    assert still.exit_code == 0 and video.exit_code == 0, still.output + video.output
    image, clip_entry = json_lines(still.stdout)[0], json_lines(video.stdout)[0]
    assert image["running_mode"] == "image" and clip_entry["running_mode"] == "video"
    assert set(image) <= set(clip_entry), (set(image), set(clip_entry))
    for key in ("path", "model"):
        assert clip_entry[key] == image[key], key
    heads = clip_entry["embeddings"]
    times = [h["timestamp_ms"] for h in heads]
    assert len(heads) == 2 and times == sorted(times) and times[0] == 0, times
    for head in heads:  # an image's embedding entry, plus the frame's time and shot
        assert set(head) == set(image["embeddings"][0]) | {"timestamp_ms", "shot"}, head
        assert head["head_name"] == image["embeddings"][0]["head_name"]
        assert len(head["embedding"]) == len(image["embeddings"][0]["embedding"])
    # the first sampled frame is the still image mode embeds
    first = np.asarray(heads[0]["embedding"]) @ np.asarray(image["embeddings"][0]["embedding"])
    assert first > 0.99, first
    # what else video entries had is still there
    assert {"duration_ms", "width", "height"} <= set(clip_entry)
    assert (clip_entry["width"], clip_entry["height"]) == (96, 72)
    assert "frames" not in clip_entry  # the vectors once, in "embeddings"


@pytest.mark.slow
def test_commands_find_the_model_the_library_remembers(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """In the quick-start folder (a library made with --model-path), `classify`, `embed` and
    `models list` find the model as `search` does: no --model-path, no IMGSEARCH_MODEL_PATH."""
    from tests.cli_process import relative_library, run_cli
    from tests.eval_sets import small_ukbench_set
    from tests.indexer_helpers import photo_paths

    home = tmp_path / "home"
    photos = photo_paths(data_dir, 2)
    relative_library(home, photos, models_dir)
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}  # no user model folder either
    photo = f"photos/{photos[0].name}"

    done = run_cli(["classify", photo, "--json"], home, env=env)
    assert done.returncode == 0, done.stderr
    names = [c["display_name"] for c in json.loads(done.stdout)["categories"]]
    assert "ant" in names  # this photo: barn spider, ant, ...
    done = run_cli(["embed", photo, "--json"], home, env=env)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["embeddings"][0]["embedding"]) == 1024
    done = run_cli(["models", "list", "--json"], home, env=env)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert str(models_dir.resolve()) in listed["search_path"]
    assert all(row["verified"] for row in listed["models"])

    eval_set = small_ukbench_set(data_dir, tmp_path / "eval-set")  # 8 photos, not 66
    done = run_cli(["eval", str(eval_set), "--json"], home, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ns_score"] == 4.0

    # Without a library the commands say where they looked, and create none.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cli(["classify", str(photos[0])], elsewhere, env=env)
    assert done.returncode == 1 and "not found" in done.stderr.lower(), done.stderr
    assert "Traceback" not in done.stderr
    assert list(elsewhere.iterdir()) == []


def test_classify_refuses_options_it_cannot_honour(
    models_dir: Path, photos: list[str], tmp_path: Path
) -> None:
    """A threshold outside 0..1, zero results, or an --allow/--deny name that is no category:
    exit 2 naming the option (they used to print "no category above the threshold", or exit
    1 without the option's name)."""
    from tests.cli_process import run_cli

    base = ["--model-path", str(models_dir), "classify", photos[0]]
    cases = [
        (["--score-threshold", "2"], "'--score-threshold'"),
        (["--score-threshold", "-0.5"], "'--score-threshold'"),
        (["--max-results", "0"], "'--max-results'"),
        (["--max-results", "-2"], "'--max-results'"),
        (["--allow", "espreso"], "did you mean 'espresso'"),
        (["--deny", "not-a-label"], "'--deny'"),
    ]
    for args, said in cases:
        done = run_cli([*base, *args], tmp_path, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        assert said in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    done = run_cli([*base, "--allow", "espresso", "--allow", "Band_Aid", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    names = {c["category_name"] for c in json.loads(done.stdout)["categories"]}
    assert names <= {"espresso", "Band_Aid"}


def test_the_readme_model_spec_example_works(
    models_dir: Path, photos: list[str], tmp_path: Path
) -> None:
    """README's `my_embedder.model.json`, written as printed there, is found, verified and
    embeds (README pointed at `models list --help`, which does not describe the file)."""
    import re

    from tests.cli_process import run_cli

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = re.search(r"`my_embedder\.model\.json`:\n\n```json\n(.*?)\n```", readme, re.S)
    assert block, "README has no my_embedder.model.json example"
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "my_embedder.model.json").write_text(block.group(1))
    path = ["--model-path", f"{specs}:{models_dir}"]
    listed = json.loads(run_cli([*path, "models", "list", "--json"], tmp_path).stdout)
    mine = next(m for m in listed["models"] if m["name"] == "my_embedder")
    assert mine["found"] and mine["verified"], mine
    done = run_cli([*path, "embed", photos[0], "--model", "my_embedder", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["embeddings"][0]["embedding"]) == 1024


def test_an_edited_spec_is_refused_like_another_model(
    models_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    """A library indexed with a user's ``.model.json``, the spec then edited (another
    crop): the next `index` added photos embedded the new way beside the old ones (exit 0),
    and a byte copy of a stored photo scored 0.956. The vectors' preparation is part of the
    model: refused as another model is, until `reindex` re-embeds the library."""
    from tests.cli_process import run_cli

    spec = {
        "name": "my_embedder",
        "file": "mobilenet_v3_small_075_224_embedder.onnx",
        "sha256": "20c45f53401cc8fbad7c744be73ed5361252d0d1fbcec62eb4e142581b28e136",
        "input_dtype": "float32",
        "input_range": [0.0, 1.0],
        "crop_fraction": 0.5,
    }
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "my_embedder.model.json").write_text(json.dumps(spec))
    bees = sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in bees[:3]:
        (photos / source.name).write_bytes(source.read_bytes())
    common = ["--model-path", f"{specs}:{models_dir}"]
    first = run_cli([*common, "index", "--model", "my_embedder", "photos"], tmp_path)
    assert first.returncode == 0, first.stderr
    spec["crop_fraction"] = 1.0
    (specs / "my_embedder.model.json").write_text(json.dumps(spec))
    (photos / bees[3].name).write_bytes(bees[3].read_bytes())
    for args in (["index", "photos"], ["search", str(photos / bees[0].name)]):
        done = run_cli([*common, *args], tmp_path)
        assert done.returncode != 0, (args, done.stdout)
        assert "crop 0.5" in done.stderr and "crop 1" in done.stderr, done.stderr
        assert "imgsearch reindex --model my_embedder" in done.stderr, done.stderr
    done = run_cli([*common, "reindex", "--model", "my_embedder"], tmp_path)
    assert done.returncode == 0, done.stderr
    found = run_cli([*common, "search", "--json", "-k", "1", str(photos / bees[0].name)], tmp_path)
    assert found.returncode == 0, found.stderr
    (hit,) = json.loads(found.stdout)["results"]
    assert hit["exact"] and hit["score"] == 1.0, hit


def test_a_users_model_that_the_library_remembers_is_known_to_its_options(
    runner: CliRunner, tmp_path: Path, photos: list[str], models_dir: Path
) -> None:
    """`reindex --model mine` of a library indexed with a user's model (its spec and file in
    a folder given once with --model-path) finds it in the folder the library remembers:
    the option's early check looks there too before it calls the name unknown."""
    from models import get_spec

    folder = tmp_path / "my-models"
    folder.mkdir()
    spec = get_spec("mobilenet_v3_small_100")
    for name in (spec.file, spec.labels_file):  # copies: the library records real folders
        assert name is not None
        shutil.copyfile(models_dir / name, folder / name)
    builtin = Path(__file__).resolve().parent.parent / "models" / "catalog"
    text = json.loads((builtin / "mobilenet_v3_small_100.json").read_text())
    (folder / "mine.model.json").write_text(json.dumps({**text, "name": "mine"}))
    (tmp_path / "photos").mkdir()
    for photo in photos[:3]:
        (tmp_path / "photos" / Path(photo).name).symlink_to(photo)
    library = ["--library", str(tmp_path / "lib")]
    made = runner.invoke(
        cli,
        [
            *library,
            "--model-path",
            str(folder),
            "index",
            "--model",
            "mine",
            str(tmp_path / "photos"),
        ],
    )
    assert made.exit_code == 0, made.output
    again = runner.invoke(cli, [*library, "reindex", "--model", "mine", "--no-progress"])
    assert again.exit_code == 0, again.output
    unknown = runner.invoke(cli, [*library, "reindex", "--model", "yours"])
    assert unknown.exit_code == 2 and "unknown model 'yours'" in unknown.output


def test_a_missing_model_lists_each_folder_it_looked_in_once(
    runner: CliRunner, models_dir: Path, tmp_path: Path, photos: list[str]
) -> None:
    """The folder the library remembers was listed twice when `--model-path` named it too (an
    audit's `serve`): the search path holds each folder once."""
    import shutil

    linked = tmp_path / "copied"  # copies: a link's folder is remembered resolved
    linked.mkdir()
    for name in ("mobilenet_v3_small_100_224.onnx", "imagenet_labels_1001.txt"):
        shutil.copyfile(models_dir / name, linked / name)
    library = ["--library", str(tmp_path / "lib"), "--model-path", str(linked)]
    indexed = runner.invoke(cli, [*library, "index", str(Path(photos[0]).parent)])
    assert indexed.exit_code == 0, indexed.output
    for model in linked.iterdir():  # the models moved away; the library remembers `linked`
        model.unlink()
    result = runner.invoke(cli, [*library, "search", photos[0]])
    assert result.exit_code == 1 and "was not found in any directory" in result.output
    assert result.output.count(f"  - {linked}\n") == 1, result.output
