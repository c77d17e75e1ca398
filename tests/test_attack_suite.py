"""The standing attack suite, part 1: a hostile corpus (truncated, zero-byte, wrong-extension,
CMYK, 16-bit, palette, animated, polyglot, bad-EXIF files, decompression and memory bombs, odd
names, links, a FIFO) through `index`, `search`, `lookup` and the upload API.

Asserted: every good file is indexed and searchable, every bad file gets a clear reason (a
typed error: exit 1 and one line on the CLI, a 4xx JSON error on the API), no 5xx, no
traceback, bounded memory. The counts are printed and kept in artifacts/attack_suite.json.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from cli.main import cli
from tests.hostile import GIB, PeakRss, make_hostile_corpus, memory_bombs
from tests.served import serve, start_cli

pytestmark = pytest.mark.slow
RSS_LIMIT = int(1.5 * GIB)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("attack") / "hostile"
    photos = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[::4][:8]
    good, bad = make_hostile_corpus(folder, photos)
    bombs = memory_bombs(tmp_path_factory, "grey16.png", "rgba.png")  # 9400x9400
    for bomb in bombs:
        target = folder / f"bomb-{bomb.name}"
        shutil.copyfile(bomb, target)
        good.append(target)
    return folder, good, bad


@pytest.fixture(scope="module")
def indexed(corpus, tmp_path_factory, models_dir):  # type: ignore[no-untyped-def]
    folder, _good, _bad = corpus
    library = tmp_path_factory.mktemp("attacklib") / "lib"
    process = start_cli(library, models_dir, "index", "--no-progress", "--json", str(folder))
    with PeakRss(process.pid, kill_above=RSS_LIMIT) as rss:
        out, err = process.communicate(timeout=600)
    return library, process.returncode, out, err, rss.peak


def test_the_suite(corpus, indexed, models_dir, artifacts_dir) -> None:  # type: ignore[no-untyped-def]
    folder, good, bad = corpus
    library, code, out, err, index_peak = indexed
    counts = {"inputs": 0, "server_errors_5xx": 0, "tracebacks": 0, "unclear_errors": []}

    # -- index: every good file indexed, every bad one recorded with its reason ----------------
    assert code == 0, err
    assert index_peak < RSS_LIMIT, f"index peak RSS {index_peak / 2**20:.0f} MiB"
    summary = json.loads(out)
    counts["tracebacks"] += err.count("Traceback")
    failures = {Path(f["path"]).name: f["error"] for f in summary["failures"]}
    for path, reason in bad.items():
        assert re.match(rf"({reason}):", failures.get(path.name, "")), (path.name, failures)
    assert "device-link.jpg" not in {p.name for p in good}
    assert summary["added"] == len(good), (summary["added"], len(good), failures)
    counts["inputs"] += len(good) + len(bad) + 3  # + the links and the FIFO

    # -- search and lookup on the CLI: good files found, bad ones one clear line -------------
    runner = CliRunner()
    base = ["--library", str(library), "--model-path", str(models_dir)]
    for command in ("search", "lookup"):
        for path in [*good, *bad, folder / "pipe.jpg", folder / "device-link.jpg"]:
            result = runner.invoke(cli, [*base, command, str(path), "--json"])
            counts["inputs"] += 1
            counts["tracebacks"] += result.output.count("Traceback")
            if path in good:
                assert result.exit_code == 0, (command, path.name, result.output[-500:])
                hits = json.loads(result.stdout)["results"]
                assert any(h["exact"] for h in hits), (command, path.name)  # finds itself
            else:
                assert (result.exit_code == 1 and result.exception is None) or isinstance(
                    result.exception, SystemExit
                ), (command, path.name, result.exception)
                lines = result.stderr.strip().splitlines()
                if result.exit_code == 2:  # a FIFO or a device: a usage error, click's block
                    lines = [line for line in lines if line.startswith("Error: ")]
                if len(lines) != 1 or not lines[0].startswith("Error: "):
                    counts["unclear_errors"].append((command, path.name, result.stderr))

    # -- the upload API: 200 for good files, a 4xx JSON error for bad ones, never 5xx ---------
    uploads = [p for p in [*good, *bad] if p.is_file()]
    with serve(library, models_dir) as served:
        with PeakRss(served.process.pid, kill_above=RSS_LIMIT) as rss:
            for endpoint in ("/api/v1/search", "/api/v1/lookup"):
                for path in uploads:
                    data = path.read_bytes()
                    answer = requests.post(
                        served.url + endpoint,
                        timeout=120,
                        files={"image": (path.name, data or b"")},
                    )
                    counts["inputs"] += 1
                    if answer.status_code >= 500:
                        counts["server_errors_5xx"] += 1
                    if path in good:
                        assert answer.status_code == 200, (endpoint, path.name, answer.text[:300])
                    elif path.stat().st_size:
                        assert 400 <= answer.status_code < 500, (
                            endpoint,
                            path.name,
                            answer.status_code,
                        )
                        assert answer.json()["error"]["message"]
        server_peak = rss.peak
        counts["tracebacks"] += served.output.count("Traceback")
    counts["index_peak_rss_mib"] = round(index_peak / 2**20)
    counts["server_peak_rss_mib"] = round(server_peak / 2**20)
    (artifacts_dir / "attack_suite.json").write_text(json.dumps(counts, indent=2))
    print(f"attack suite: {json.dumps(counts)}")
    assert counts["server_errors_5xx"] == 0 and counts["tracebacks"] == 0, counts
    assert not counts["unclear_errors"], counts["unclear_errors"]
    assert server_peak < RSS_LIMIT
