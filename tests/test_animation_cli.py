"""Animated GIF / WebP as a user meets them, without PyAV (the ``video`` extra blocked in
the subprocesses): `index` takes them as short videos (a single-frame GIF stays an image, a
truncated one fails with its reason, bombs are refused or capped in bounded memory), a still
finds the GIF at its moment, `search --json` says so, a GIF queries like a clip, `dedup`
groups a GIF with its WebP re-encode, `embed --running-mode video` prints frame times, a
second `index` re-embeds nothing, and the served app shows and serves the animation.

The animations are made at test time from the shared photos with Pillow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from search.evaluation import animation_stills, make_animation
from search.store import Store
from tests.cli_process import AS_USER, CANNOT_DROP_ROOT, REPO, cli_env, run_cli, served
from tests.test_animation import tiny_gif

pytestmark = pytest.mark.slow

PEAK_RSS = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
    "file=sys.stderr); sys.exit(done.returncode)"
)


@pytest.fixture(scope="module")
def no_av(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment in which `import av` fails, as without the ``video`` extra."""
    stub = tmp_path_factory.mktemp("no_av")
    (stub / "av.py").write_text("raise ImportError('PyAV is not installed (test)')\n")
    return {"PYTHONPATH": f"{stub}:{REPO}"}


@pytest.fixture(scope="module")
def gif_lib(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path, no_av):  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("animations")
    col = work / "col"
    col.mkdir()
    photos = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))
    for name in ("anim.gif", "anim.webp"):  # the same 3 shots: a GIF and its WebP re-encode
        make_animation(photos[:3], col / name, size=(160, 120), shot_s=1.5, fps=10, seed=1)
    other = work / "other.gif"
    make_animation(photos[3:5], other, size=(160, 120), shot_s=1.0, fps=10, seed=2)
    data = other.read_bytes()
    (col / "truncated.gif").write_bytes(data[: len(data) * 2 // 3])
    Image.open(photos[5]).convert("RGB").resize((160, 120)).save(col / "single.gif")
    damaged_files(col / "anim.webp", photos[6], col)
    for photo in photos[-4:]:
        shutil.copyfile(photo, col / photo.name)
    args = ["--library", str(work / "lib"), "--model-path", str(models_dir)]
    done = run_cli([*args, "index", str(col), "--json"], work, env=no_av)
    assert done.returncode == 0, done.stderr
    return work, args, json.loads(done.stdout)


DAMAGED = {  # what each damaged file of damaged_files must fail with
    "truncated.webp": "truncated_video",
    "bad_frame.webp": "corrupt_video",
    "zero.gif": "empty",
    "zero.webp": "empty",
}


def damaged_files(webp: Path, photo: Path, col: Path) -> None:
    """Damaged animations and a misnamed file beside the good ones, made from the animated
    WebP ``webp`` and ``photo`` (:data:`DAMAGED`; ``jpeg.gif``, a JPEG, is indexed)."""
    data = webp.read_bytes()
    (col / "truncated.webp").write_bytes(data[: len(data) * 2 // 3])
    second = data.find(b"ANMF", data.find(b"ANMF") + 4)  # the second frame's chunk
    scrambled = bytearray(data)
    for at in range(second + 40, second + 200):  # inside its VP8 data: the sizes stay right
        scrambled[at] ^= 0x5A
    (col / "bad_frame.webp").write_bytes(bytes(scrambled))
    (col / "zero.gif").write_bytes(b"")
    (col / "zero.webp").write_bytes(b"")
    shutil.copyfile(photo, col / "jpeg.gif")  # a JPEG named .gif: an image by its content


def cli_json(work: Path, args: list[str], env: dict[str, str], *command: str) -> dict:
    done = run_cli([*args, *command, "--json"], work, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_index_takes_animations_as_videos_without_pyav(gif_lib, no_av) -> None:  # type: ignore[no-untyped-def]
    work, args, summary = gif_lib
    assert summary["added"] == 8 and summary["failed"] == 5, summary  # jpeg.gif added
    failures = {Path(f["path"]).name: f["error"].split(":")[0] for f in summary["failures"]}
    # each damaged file says how (a truncated WebP said not_a_video: Pillow cannot open it)
    assert failures == {"truncated.gif": "truncated_video", **DAMAGED}, summary["failures"]
    media = {}
    for name in ("anim.gif", "anim.webp", "single.gif", "jpeg.gif"):
        hits = cli_json(work, args, no_av, "search", str(work / "col" / name), "-k", "8")
        media |= {Path(h["path"]).name: (h["media"], h.get("duration_ms")) for h in hits["results"]}
    assert media["anim.gif"] == ("video", 4500) and media["anim.webp"] == ("video", 4500)
    assert media["single.gif"] == ("image", None) and media["jpeg.gif"] == ("image", None)
    for name, said in (("truncated.webp", "cut short"), ("bad_frame.webp", "damaged")):
        done = run_cli([*args, "search", str(work / "col" / name)], work, env=no_av)
        assert done.returncode == 1 and said in done.stderr, done.stderr  # as a query too
        assert "Traceback" not in done.stderr


def test_a_still_of_an_unsampled_frame_finds_the_gif_at_its_moment(gif_lib, no_av) -> None:  # type: ignore[no-untyped-def]
    work, args, _summary = gif_lib
    gif = work / "col" / "anim.gif"
    embedded = cli_json(work, args, no_av, "embed", str(gif), "--running-mode", "video")
    sampled = [f["timestamp_ms"] for f in embedded["embeddings"]]
    assert sampled == sorted(sampled) and sampled[0] == 0 and embedded["duration_ms"] == 4500
    assert len(embedded["embeddings"][0]["embedding"]) > 100
    stills = animation_stills(gif, work / "stills", 3, seed=5, skip=sampled)
    for still, truth_ms in stills:
        results = cli_json(work, args, no_av, "search", str(still), "-k", "3")["results"]
        # its WebP re-encode is as good a match: either may come first
        assert Path(results[0]["path"]).name in ("anim.gif", "anim.webp")
        hit = next(r for r in results if Path(r["path"]).name == "anim.gif")
        assert hit["media"] == "video" and abs(hit["timestamp_ms"] - truth_ms) <= 1000
    text = run_cli([*args, "search", str(stills[0][0]), "-k", "3"], work, env=no_av)
    assert "anim.gif @ 00:0" in text.stdout


def test_a_gif_queries_like_a_clip_and_dedup_groups_it_with_its_webp(gif_lib, no_av) -> None:  # type: ignore[no-untyped-def]
    work, args, _summary = gif_lib
    hits = cli_json(work, args, no_av, "search", str(work / "col" / "anim.webp"), "-k", "3")
    by_name = {Path(h["path"]).name: h for h in hits["results"]}
    assert {"anim.gif", "anim.webp"} <= set(by_name)
    assert all(h["media"] == "video" for h in hits["results"])  # a clip ranks videos
    assert abs(by_name["anim.gif"]["timestamp_ms"]) <= 200
    done = run_cli([*args, "dedup", "--format", "json"], work, env=no_av)
    assert done.returncode == 0, done.stderr
    groups = json.loads(done.stdout)["video_groups"]
    assert [sorted(Path(m["path"]).name for m in g["members"]) for g in groups] == [
        ["anim.gif", "anim.webp"]
    ]


def test_indexing_again_re_embeds_nothing(gif_lib, no_av) -> None:  # type: ignore[no-untyped-def]
    work, args, _summary = gif_lib
    again = cli_json(work, args, no_av, "index", str(work / "col"))
    assert (again["added"], again["updated"], again["failed"], again["unchanged"]) == (0, 0, 0, 13)


def test_the_served_app_shows_and_serves_the_animation(gif_lib, no_av) -> None:  # type: ignore[no-untyped-def]
    work, args, _summary = gif_lib
    stills = animation_stills(work / "col" / "anim.gif", work / "served", 1, seed=9)
    with served(args, work, env=no_av) as url:
        with stills[0][0].open("rb") as handle:
            body, boundary = multipart({"image": ("still.jpg", handle.read()), "k": "3"})
        request = urllib.request.Request(
            f"{url}/api/v1/search",
            data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            results = json.load(answer)["results"]
        hit = next(r for r in results if Path(r["path"]).name == "anim.gif")
        assert hit["media"] == "video" and abs(hit["timestamp_ms"] - stills[0][1]) <= 1000
        with urllib.request.urlopen(url + hit["file_url"], timeout=60) as file:
            assert file.headers["Content-Type"] == "image/gif"
            assert file.read() == (work / "col" / "anim.gif").read_bytes()
        frame_url = f"{url}{hit['thumbnail_url']}?t={hit['timestamp_ms']}"
        with urllib.request.urlopen(frame_url, timeout=60) as frame:
            assert frame.read(2) == b"\xff\xd8"
        with urllib.request.urlopen(f"{url}/images/{hit['id']}", timeout=60) as page:
            html = page.read().decode()
        assert f'class="animation" src="{hit["file_url"]}"' in html
        assert "animation, searched as a short video" in html  # its duration is shown
        assert "<video" not in html
        # a GIF uploaded to the search form / API queries like a clip: videos ranked
        gif = (work / "col" / "anim.webp").read_bytes()
        body, boundary = multipart({"image": ("clip.webp", gif), "k": "2"})
        form = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        request = urllib.request.Request(f"{url}/api/v1/search", data=body, headers=form)
        with urllib.request.urlopen(request, timeout=60) as answer:
            results = json.load(answer)["results"]
        assert {Path(r["path"]).name for r in results} == {"anim.gif", "anim.webp"}
        assert all(r["media"] == "video" for r in results)
        cut = (work / "col" / "truncated.webp").read_bytes()  # an upload says it the same
        cut_body, cut_boundary = multipart({"image": ("cut.webp", cut), "k": "2"})
        cut_form = {"Content-Type": f"multipart/form-data; boundary={cut_boundary}"}
        request = urllib.request.Request(f"{url}/api/v1/search", data=cut_body, headers=cut_form)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 415
        assert json.load(refused.value)["error"]["code"] == "truncated_video"
        request = urllib.request.Request(f"{url}/search", data=body, headers=form)
        with urllib.request.urlopen(request, timeout=60) as page:
            html = page.read().decode()
        assert 'class="clip animation"' in html and '<video class="clip"' not in html


def multipart(fields: dict[str, object]) -> tuple[bytes, str]:
    boundary = "imgsearch-test-boundary"
    out = b""
    for name, value in fields.items():
        out += f"--{boundary}\r\n".encode()
        if isinstance(value, tuple):
            filename, data = value
            out += (
                (
                    f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n"
                ).encode()
                + data
                + b"\r\n"
            )
        else:
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    return out + f"--{boundary}--\r\n".encode(), boundary


def test_bombs_are_refused_or_capped_in_bounded_memory(
    tmp_path: Path, data_dir: Path, models_dir: Path, no_av: dict[str, str]
) -> None:
    col = tmp_path / "col"
    col.mkdir()
    (col / "huge.gif").write_bytes(tiny_gif((9000, 9000), [(0, 0), (1, 1)]))
    (col / "grows.gif").write_bytes(tiny_gif((10, 10), [(0, 0), (8000, 8000)]))
    frames = 5100  # over the 5000 frames walked at most
    (col / "long.gif").write_bytes(
        tiny_gif((16, 16), [(n % 16, n // 16 % 16) for n in range(frames)])
    )
    photo = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[0]
    shutil.copyfile(photo, col / photo.name)
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    done = run_cli(
        [*args, "index", str(col), "--json"],
        tmp_path,
        env=no_av,
        prefix=[sys.executable, "-c", PEAK_RSS],
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    failures = {Path(f["path"]).name: f["error"] for f in summary["failures"]}
    assert set(failures) == {"huge.gif", "grows.gif"}
    assert all(error.startswith("video_too_large:") for error in failures.values())
    assert summary["added"] == 2  # the photo, and the long animation up to the cap
    (warning,) = [w for w in summary["warnings"] if "long.gif" in w]
    assert "5000 frames" in warning
    peak_kib = int(done.stderr.rsplit("peak_rss_kib", 1)[1].split()[0])
    print(f"index of the bombs: peak RSS {peak_kib // 1024} MiB")
    assert peak_kib < 400 * 1024, peak_kib  # 171 MiB measured; a 9000x9000 RGBA canvas is 324 MB


# `imgsearch` as it was before animations were videos: GIF / WebP / APNG indexed as stills
OLD_ENTRY = [
    sys.executable,
    "-u",
    "-c",
    "import models.media, indexer.run; models.media.is_animation = lambda source: False; "
    "indexer.run.record_checked = lambda store, plan: None; "
    "from cli.main import main; main()",
]


def index_as_before(work: Path, args: list[str], col: Path, env: dict[str, str]) -> dict:
    """``index --json`` of ``col`` by an imgsearch from before animations were videos."""
    old = subprocess.run(
        [*OLD_ENTRY, *args, "index", "--no-progress", "--json", str(col)],
        cwd=work,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert old.returncode == 0, old.stderr
    return json.loads(old.stdout)


def test_animations_indexed_as_stills_before_become_videos_at_the_next_index(
    tmp_path: Path, data_dir: Path, models_dir: Path, no_av: dict[str, str]
) -> None:
    col = tmp_path / "col"
    col.mkdir()
    photos = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))
    make_animation(photos[:2], col / "anim.gif", size=(96, 72), shot_s=1.0, fps=5, seed=3)
    make_animation(photos[:2], col / "anim.webp", size=(96, 72), shot_s=1.0, fps=5, seed=3)
    Image.open(photos[2]).convert("RGB").resize((96, 72)).save(col / "still.png")
    shutil.copyfile(photos[3], col / photos[3].name)
    library = tmp_path / "lib"
    args = ["--library", str(library), "--model-path", str(models_dir)]
    assert index_as_before(tmp_path, args, col, no_av)["added"] == 4

    def rows() -> dict[str, tuple[int, int | None]]:
        store = Store.open(f"sqlite:///{library / 'imgsearch.sqlite3'}")
        try:
            found = {}
            for path in sorted(col.iterdir()):
                image_id = store.reads.image_id_at(path)
                assert image_id is not None, path
                info = store.reads.image(image_id)
                found[path.name] = (image_id, info.duration_ms if info else None)
            return found
        finally:
            store.close()

    before = rows()
    assert all(duration is None for _id, duration in before.values())  # all stills

    again = cli_json(tmp_path, args, no_av, "index", "--no-progress", str(col))
    assert again["converted_to_video"] == 2, again  # told by their headers, nothing else read
    assert (again["added"], again["updated"], again["failed"], again["unchanged"]) == (0, 0, 0, 2)
    after = rows()
    for name in ("anim.gif", "anim.webp"):
        assert after[name][0] == before[name][0]  # the same image id
        assert after[name][1] == 2000, after  # a video now: 2 shots of 1 s
    assert after["still.png"] == before["still.png"]
    hits = cli_json(tmp_path, args, no_av, "search", str(col / "anim.gif"), "-k", "2")["results"]
    assert {h["media"] for h in hits} == {"video"}  # the clip query ranks the two videos

    third = cli_json(tmp_path, args, no_av, "index", "--no-progress", str(col))
    assert (third["converted_to_video"], third["unchanged"]) == (0, 4)


@pytest.mark.skipif(CANNOT_DROP_ROOT, reason="root without setpriv: file modes do not apply")
def test_an_animation_in_a_folder_that_cannot_be_listed_is_checked_when_it_can(
    tmp_path: Path, data_dir: Path, models_dir: Path, no_av: dict[str, str]
) -> None:
    """A library from before animations were videos: a run that cannot list the folder of an
    animated still does not record the collection as checked, so a later run converts it."""
    col = tmp_path / "col"
    (col / "sub").mkdir(parents=True)
    photos = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))
    make_animation(photos[:2], col / "sub" / "anim.gif", size=(96, 72), shot_s=1.0, fps=5, seed=3)
    shutil.copyfile(photos[3], col / photos[3].name)
    library = tmp_path / "lib"
    args = ["--library", str(library), "--model-path", str(models_dir)]
    assert index_as_before(tmp_path, args, col, no_av)["added"] == 2
    (col / "sub").chmod(0)
    try:
        blind = run_cli(
            [*args, "index", "--no-progress", "--json", str(col)],
            tmp_path,
            env=no_av,
            prefix=AS_USER,
        )
    finally:
        (col / "sub").chmod(0o755)
    assert blind.returncode == 0, blind.stderr
    assert json.loads(blind.stdout)["converted_to_video"] == 0  # not seen: kept as it was
    seen = cli_json(tmp_path, args, no_av, "index", "--no-progress", str(col))
    assert seen["converted_to_video"] == 1, seen
