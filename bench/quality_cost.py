"""What the descriptor options cost (``python bench/quality.py``, unless ``--skip-cost``):
indexing img/s and CPU ms/img on web-size photos (hymenoptera) with and without frame
detection (2 decode threads + 1 ORT thread, the indexer's configuration); bytes per image;
single-query latency (decode + views + whitening + scoring) plain vs default."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np

from models import ImageAnalyzer, OnnxModel
from search.descriptor import Descriptor, DescriptorConfig, StoredImage


def load_avg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def _index_rate(
    model: OnnxModel, paths: list[Path], frames: bool, repeat: int
) -> tuple[float, float, int]:
    """Best-of-``repeat`` end-to-end img/s, CPU ms/img and framed count of the analyzer."""
    best, best_cpu, framed = 0.0, 0.0, 0
    with ImageAnalyzer(model, decode_workers=2, frames=frames) as analyzer:
        for _ in range(repeat):
            cpu, start = time.process_time(), time.perf_counter()
            results = list(analyzer.analyze_iter(paths))
            rate = len(paths) / (time.perf_counter() - start)
            if rate > best:
                best, best_cpu = rate, (time.process_time() - cpu) * 1000 / len(paths)
                framed = sum(getattr(r, "frame_embedding", None) is not None for r in results)
    return best, best_cpu, framed


def _query_ms(
    model: OnnxModel,
    paths: list[Path],
    library: list[StoredImage],
    config: DescriptorConfig,
    descriptor: Descriptor,
) -> list[float]:
    rows, owner = descriptor.stored_rows(library)
    out = []
    with ImageAnalyzer(model, decode_workers=0) as analyzer:
        for path in paths:
            start = time.perf_counter()
            if config.is_plain:
                q = analyzer.analyze(path).embedding[None]
            else:
                vs = analyzer.analyze_views(
                    path, rotations=config.angles, frames=config.frames, unblock=config.unblock
                )
                q = descriptor.query_rows(
                    vs.embeddings, vs.names, bool(vs.frame and vs.frame.dominant)
                )
            scores = descriptor.copy_scores(q, rows, owner, len(library))
            np.argpartition(-scores, 10)[:10]
            out.append((time.perf_counter() - start) * 1000)
    return out


def cost(model: OnnxModel, data: Path, repeat: int) -> None:
    photos = sorted((data / "hymenoptera" / "images").rglob("*.jpg"))
    single = OnnxModel(model.located, threads=1)
    print(
        f"\nindexing cost, web-size photos (hymenoptera, {len(photos)}), 2 decode threads + "
        f"1 ORT thread; {load_avg()}"
    )
    base, base_cpu, _ = _index_rate(single, photos, False, repeat)
    withf, withf_cpu, framed = _index_rate(single, photos, True, repeat)
    print(f"  plain          {base:7.1f} img/s   CPU {base_cpu:5.2f} ms/img")
    print(
        f"  + frames       {withf:7.1f} img/s   CPU {withf_cpu:5.2f} ms/img   "
        f"({framed} of {len(photos)} framed; ratio {withf / base:.2f})"
    )
    share = framed / len(photos)
    dim = model.dimension
    print(f"\nbytes per image (float32 vectors, {dim}-d):")
    print(f"  plain          {4 * dim:7d}")
    print(
        f"  + frames       {4 * dim * (1 + share):7.0f}  (+{4 * dim} for each framed image, "
        f"{share:.1%} of these photos)"
    )
    white = 4 * dim * (dim + 1)
    for n in (1_000, 10_000, 100_000):
        print(
            f"  + whitening    {4 * dim * (1 + share) + white / n:7.0f}  at {n} images "
            f"(one {white / 1e6:.1f} MB matrix per library)"
        )
    library_paths = photos[:300]
    with ImageAnalyzer(single, decode_workers=2, frames=True) as analyzer:
        analyses = [a for a in analyzer.analyze_iter(library_paths) if hasattr(a, "embedding")]
    library = [
        StoredImage(
            a.embedding,
            a.frame_embedding,
            bool(a.frame_box is not None and a.frame_box.dominant),
            a.labels,
        )
        for a in analyses
    ]
    queries = photos[300:340]
    print(
        f"\nsingle query latency over a {len(library)}-image library ({len(queries)} queries, "
        f"1 ORT thread, exact scoring):"
    )
    for label, text in (("plain", "plain"), ("default", "default")):
        config = DescriptorConfig.parse(text)
        descriptor = Descriptor(config)
        ms = sorted(_query_ms(single, queries, library, config, descriptor))
        print(
            f"  {label:<10} p50 {statistics.median(ms):6.1f} ms   p90 "
            f"{ms[int(0.9 * (len(ms) - 1))]:6.1f} ms"
        )
