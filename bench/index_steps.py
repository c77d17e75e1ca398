"""Where the CPU of an index run goes, step by step, per image (one thread, process CPU).

    python bench/index_steps.py [--data ../shared/data] [--big 20]

For the hymenoptera photos (web size) and ``--big`` 12 MP JPEGs made from them: reading +
sha256, decode (JPEG draft), preprocess (centre crop + resize), frame detection, the ONNX
model per image (batches of 32) for the main vector and for the framed photos' second vector,
label extraction, quality flags, and the SQLite write of a batch through a real library
(``Library.apply``, including the FAISS add). Each step runs alone over all files, so the
figures add up to the single-threaded cost of one image; ``bench/index.py`` measures the
whole command. The last line compares decode + preprocess with the limit's own decode
(``bench/limit.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

sys.path.insert(1, str(REPO / "bench"))

import limit  # noqa: E402

from models import ImageAnalyzer, OnnxModel, locate_model  # noqa: E402
from models.frame import find_content_box  # noqa: E402
from models.quality import measure_quality  # noqa: E402


def cpu_ms(step: Callable[[], object], count: int) -> float:
    start = time.process_time()
    step()
    return (time.process_time() - start) * 1000 / max(1, count)


def measure(name: str, files: list[Path], model: OnnxModel) -> None:
    data = [p.read_bytes() for p in files]
    n = len(files)
    read = cpu_ms(lambda: [hashlib.sha256(p.read_bytes()).hexdigest() for p in files], n)
    decoded = []
    decode = cpu_ms(lambda: decoded.extend(model.load(d) for d in data), n)
    tensors: list[np.ndarray] = []
    prep = cpu_ms(lambda: tensors.extend(model.preprocess(d) for d in decoded), n)
    boxes: list = []
    frames = cpu_ms(lambda: boxes.extend(find_content_box(d.image) for d in decoded), n)
    quality = cpu_ms(
        lambda: [
            measure_quality(t, d.width, d.height) for t, d in zip(tensors, decoded, strict=True)
        ],
        n,
    )
    limit_decode = cpu_ms(lambda: [limit.decode(io.BytesIO(d)) for d in data], n)
    framed = [
        model.preprocess(b.crop(d.image))
        for b, d in zip(boxes, decoded, strict=True)
        if b is not None
    ]
    batch = np.stack(tensors)
    outputs = []
    infer = cpu_ms(lambda: outputs.extend(model.run(batch[i : i + 32]) for i in range(0, n, 32)), n)
    second = cpu_ms(lambda: model.run(np.stack(framed)), len(framed)) if framed else 0.0
    analyzer = ImageAnalyzer(model, decode_workers=0)
    probs = np.concatenate([o.probs for o in outputs])
    labels = cpu_ms(lambda: [analyzer._labels(p) for p in probs], n)
    write = write_cost(model, files)
    total = read + decode + prep + frames + quality + infer + labels + write
    share = len(framed) / n
    print(f"{name}: {n} images, per image CPU ms (single thread):")
    for label, value in [
        ("read + sha256", read),
        ("decode (JPEG draft)", decode),
        ("preprocess (crop + resize)", prep),
        ("frame detection", frames),
        ("quality flags (on the model input)", quality),
        ("model, main vector (batch 32)", infer),
        (f"model, second vector ({len(framed)} framed = {share:.0%})", second * share),
        ("labels (top 5)", labels),
        ("SQLite write + FAISS add (batches of 32)", write),
    ]:
        print(f"  {label:<44} {value:7.2f}  ({value / total:5.1%})")
    print(f"  {'total':<44} {total + second * share:7.2f}")
    print(
        f"  the limit's decode + crop + resize (bench/limit.py) {limit_decode:.2f} ms: ours "
        f"(decode + preprocess) is {(decode + prep) / limit_decode:.2f}x it"
    )


def write_cost(model: OnnxModel, files: list[Path]) -> float:
    """CPU per image of the writer's batches: a real ``imgsearch index`` run's writes are
    replayed as a library's ``apply`` of ChangeSets built from the analyses."""
    from indexer.run import IndexOptions, index_collections
    from search.library import Library
    from search.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for path in files:
            (folder / path.name).write_bytes(path.read_bytes())
        settings = Settings.from_env(library=Path(tmp) / "library")
        with Library.open(settings, create=True) as library:
            library.load_model(model.name, bind=True)
            apply_cpu = [0.0]
            original = library.apply

            def timed(changes):  # type: ignore[no-untyped-def]
                start = time.thread_time()
                try:
                    return original(changes)
                finally:
                    apply_cpu[0] += time.thread_time() - start

            library.apply = timed  # type: ignore[method-assign]
            index_collections(library, model, IndexOptions(paths=[folder], progress=False))
    return apply_cpu[0] * 1000 / len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--big", type=int, default=20)
    args = parser.parse_args()
    os.environ["IMGSEARCH_MODEL_PATH"] = str(args.models)
    model = OnnxModel(locate_model("mobilenet_v3_small_100", [args.models]), threads=1)
    print(
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on "
        f"{os.cpu_count()} cores (ONNX on 1 thread)"
    )
    web = sorted(
        p for p in (args.data / "hymenoptera").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")
    )
    measure("hymenoptera (web size)", web, model)
    if args.big:
        from index import make_big

        with tempfile.TemporaryDirectory() as tmp:
            measure("12 MP JPEG", make_big(web, args.big, Path(tmp)), model)


if __name__ == "__main__":
    main()
