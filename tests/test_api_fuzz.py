"""The standing attack suite, part 2: Schemathesis against /api/v1/openapi.json.

A real waitress server (in a background thread) over a small real library (photos and, with
PyAV, a short video: its frames at any ``?t=`` and its file in byte ranges are fuzzed too);
every operation of the OpenAPI document gets generated requests (a fixed budget and seed, so
a run is repeatable and bounded): no 5xx, every status and body as documented.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.served import run_cli

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 80


def answer_checks() -> list:  # type: ignore[type-arg]
    """What the answers must be: no server error, documented statuses, content types, headers
    and bodies. (Positive-data acceptance is not asked: a schema-valid upload of random bytes
    is rightly answered 415, and a region outside the image 400.) Schemathesis and Hypothesis
    are imported here, not when the module is collected: every xdist worker collects it."""
    from schemathesis import checks

    return [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_headers_conformance,
        checks.response_schema_conformance,
    ]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    import schemathesis

    from search.settings import Settings
    from web.app import create_app
    from web.server import BackgroundServer

    photos = tmp_path_factory.mktemp("fphotos")
    for src in sorted((data_dir / "near_duplicates" / "images").glob("*"))[:6]:
        if src.is_file() and src.suffix != ".json":
            shutil.copyfile(src, photos / src.name)
    if importlib.util.find_spec("av") is not None:  # a 2 s clip of two shots, 160x96
        from search.evaluation.sets.generated_sets import slideshow, write_video

        shots = sorted(photos.iterdir())[:2]
        write_video(photos / "clip.mp4", slideshow(shots, (160, 96), 1.0, 10, 1), (160, 96), 10)
    library = photos.parent / "flib"
    made = run_cli(library, models_dir, "index", "--no-progress", str(photos))
    assert made.returncode == 0, made.stderr
    app_settings = Settings(library=library, model_path=(models_dir,))
    app = create_app(app_settings, trusted_hosts=["127.0.0.1", "localhost"])
    with BackgroundServer(app, app_settings, threads=4) as server:
        yield schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    app.extensions["imgsearch"].close()


def _fuzz(operation, calls: Counter[str], statuses: Counter[int]) -> None:  # type: ignore[no-untyped-def]
    """Run one operation's generated requests (raises what Schemathesis finds)."""
    from hypothesis import HealthCheck, given, settings

    checks = answer_checks()

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case) -> None:  # type: ignore[no-untyped-def]
        calls[operation.label] += 1
        response = case.call(timeout=60)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=checks)

    run()


def test_every_operation_answers_as_documented(api_schema) -> None:  # type: ignore[no-untyped-def]
    calls: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, calls, statuses)
        except Exception as error:  # each operation's finding is reported
            failures.append(f"{operation.label}: {str(error)[:1500]}")
    total = sum(calls.values())
    print(
        f"schemathesis: {total} requests over {len(calls)} operations, statuses "
        f"{dict(sorted(statuses.items()))}"
    )
    assert not failures, "\n\n".join(failures)
    assert len(calls) >= 8 and total >= 7 * EXAMPLES_PER_OPERATION, calls
    assert not [s for s in statuses if s >= 500 and s != 503], statuses


def test_a_videos_moments_and_byte_ranges_answer_as_documented(api_schema) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("av")
    listed = api_schema["/images"]["GET"].Case(query={"per_page": 50}).call(timeout=60)
    video = next(r for r in listed.json()["results"] if r.get("media") == "video")
    assert video["duration_ms"] >= 1900
    thumbnail = api_schema["/images/{image_id}/thumbnail"]["GET"]
    assert "t" in {p["name"] for p in thumbnail.definition.raw["parameters"]}
    file = api_schema["/images/{image_id}/file"]["GET"]
    asked = [
        (thumbnail, {"t": 1500}, {}, 200),
        (thumbnail, {"t": 0, "size": 640}, {}, 200),
        (thumbnail, {"t": 10**9}, {}, 404),
        (thumbnail, {"t": 2**40}, {}, 404),
        (file, {}, {"Range": "bytes=0-99"}, 206),
        (file, {}, {"Range": "bytes=999999999-"}, 416),
        (file, {"download": "1"}, {}, 200),
    ]
    for operation, query, headers, status in asked:
        case = operation.Case(
            path_parameters={"image_id": video["id"]}, query=query, headers=headers
        )
        response = case.call(timeout=60)
        assert response.status_code == status, (query, headers, response.text[:200])
        case.validate_response(response, checks=answer_checks())
    frame = thumbnail.Case(path_parameters={"image_id": video["id"]}, query={"t": 1500})
    assert frame.call(timeout=60).content[:2] == b"\xff\xd8"
