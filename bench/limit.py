"""The machine's limit for indexing: decode + the ONNX model, nothing else.

    python bench/limit.py MODEL.onnx FOLDER... [--threads 2] [--batch-size 32]

A minimal, self-contained script (Pillow, NumPy, ONNX Runtime; no imgsearch import) that a
benchmark runs as a whole process next to ``imgsearch index``: every JPEG/PNG/WebP under the
folders is decoded by a pool of ``--threads`` threads with Pillow's JPEG draft to the model's
224x224 input, centre-cropped to 87.5 % and resized (bilinear) to 224x224, and run through the
model in batches of ``--batch-size`` with ONNX Runtime's spinning threads off. Prints one
JSON line: images, seconds (from the script's first line), CPU seconds, and the same from the
first decode on (``run_seconds``, ``run_cpu_seconds``: without start-up).
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # as imgsearch imports it
import onnxruntime as ort  # noqa: E402
from PIL import Image  # noqa: E402

SIZE = 224
CROP = 0.875
SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def decode(path: Path) -> np.ndarray | None:
    """Draft-decoded, centre-cropped, resized uint8 HxWx3 (None when Pillow cannot read it)."""
    try:
        with Image.open(path) as im:
            im.draft("RGB", (SIZE, SIZE))
            rgb = im.convert("RGB")
    except (OSError, ValueError):
        return None
    w, h = rgb.size
    box = ((w - w * CROP) / 2, (h - h * CROP) / 2, (w + w * CROP) / 2, (h + h * CROP) / 2)
    return np.asarray(rgb.resize((SIZE, SIZE), Image.Resampling.BILINEAR, box=box))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--threads", type=int, default=2, help="decode threads")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    files = sorted(
        p for folder in args.folders for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES
    )
    opts = ort.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(
        str(args.model), sess_options=opts, providers=["CPUExecutionProvider"]
    )
    done = 0
    run_start, run_cpu = time.perf_counter(), time.process_time()  # after start-up
    with ThreadPoolExecutor(args.threads) as pool:
        batch: list[np.ndarray] = []
        for array in pool.map(decode, files):
            if array is not None:
                batch.append(array)
            if len(batch) == args.batch_size:
                session.run(["embedding"], {"image": np.stack(batch)})
                done, batch = done + len(batch), []
        if batch:
            session.run(["embedding"], {"image": np.stack(batch)})
            done += len(batch)
    times = os.times()
    print(
        json.dumps(
            {
                "images": done,
                "files": len(files),
                "seconds": round(time.perf_counter() - START, 3),
                "cpu_seconds": round(times.user + times.system, 3),
                "run_seconds": round(time.perf_counter() - run_start, 3),
                "run_cpu_seconds": round(time.process_time() - run_cpu, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
