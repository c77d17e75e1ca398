"""`imgsearch embed CLIP --running-mode video`: the VIDEO running mode on the command line,
one embedding per sampled frame (cuts and every ``--interval`` seconds)."""

from __future__ import annotations

import json
from typing import Any

import click
import numpy as np

from models import (
    Embedding,
    ImageEmbedder,
    ImageEmbedderOptions,
    ImgsearchError,
    ModelError,
    RunningMode,
    format_timestamp,
    is_animation,
    is_video_file,
    looks_like_video,
    open_video,
)
from search.units import utf8_text

BATCH = 16


def embedding_entry(embedding: Embedding, **more: Any) -> dict[str, Any]:
    """One head's embedding as ``embed --json`` gives it, in both running modes:
    ``{"head_index", "head_name", "embedding"}`` (``more``: a video frame's time)."""
    return {
        "head_index": embedding.head_index,
        "head_name": embedding.head_name,
        "embedding": embedding.embedding.tolist(),
        **more,
    }


def is_video_path(path: str) -> bool:
    """Whether ``path`` holds a video by content (a video container's header, or an animated
    image): a text file named ``notes.mp4`` is not one, whatever its name says."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
        return is_video_file(path) and (looks_like_video(head) or is_animation(path))
    except OSError:
        return False


def refuse_unused_options(ctx: click.Context, running_mode: str, roi: object) -> None:
    """``--roi`` is for still images and ``--interval`` for videos: given with the other
    running mode they were dropped without a word; now a usage error (exit 2)."""
    from click.core import ParameterSource

    if running_mode == "video" and roi is not None:
        raise click.BadParameter(
            "a region is for still images: a video's sampled frames are embedded whole",
            param_hint="'--roi'",
        )
    if running_mode == "image" and ctx.get_parameter_source("interval") != ParameterSource.DEFAULT:
        raise click.BadParameter(
            "is for --running-mode video (seconds between a video's sampled frames)",
            param_hint="'--interval'",
        )


def embed_videos(
    options: ImageEmbedderOptions,
    paths: tuple[str, ...],
    interval: float,
    as_json: bool,
    sources: dict[str, bytes] | None = None,
) -> int:
    """Print each video's frames with timestamps and embeddings; returns the failures.
    ``sources``: what to read in place of a path (``-``: standard input's bytes)."""
    failed = 0
    for name in paths:
        path = utf8_text(name)  # as it is written (a name that is not UTF-8: \xNN escapes)
        try:
            entry = _embed_one(options, name, interval, (sources or {}).get(name))
        except ModelError:  # no file's fault: said once (it was repeated for every file)
            raise
        except ImgsearchError as error:
            failed += 1
            reason = getattr(error, "reason", "error")
            message = utf8_text(getattr(error, "message", str(error)))
            out = {"path": path, "error": message, "reason": reason}  # as image mode's
            click.echo(json.dumps(out) if as_json else f"{path}\tERROR: {reason}: {message}")
            continue
        if as_json:
            click.echo(json.dumps(entry))
            continue
        for frame in entry["embeddings"]:
            vector = np.asarray(frame["embedding"])
            head = ", ".join(f"{v:.4f}" for v in vector[:6])
            click.echo(
                f"{path} @ {format_timestamp(frame['timestamp_ms'])}\tshot={frame['shot']}"
                f"\tdim={vector.size}\t[{head}, ...]"
            )
    return failed


def _embed_one(
    options: ImageEmbedderOptions, path: str, interval: float, data: bytes | None = None
) -> dict[str, Any]:
    embedder = ImageEmbedder(
        ImageEmbedderOptions(
            model=options.model,
            model_path=options.model_path,
            quantize=options.quantize,
            threads=options.threads,
            running_mode=RunningMode.VIDEO,
            decode_workers=0,
        )
    )
    frames: list[dict[str, Any]] = []
    with embedder, open_video(path if data is None else data) as reader:
        batch = []
        for still in reader.sample(interval):
            batch.append(still)
            if len(batch) == BATCH:
                frames += _frames(embedder, batch)
                batch = []
        if batch:
            frames += _frames(embedder, batch)
        info = reader.info()  # an animation's duration is known once it was walked
        model = embedder.model.name
    # an image's fields (path, model, running_mode, embeddings: one per sampled frame, with
    # its time and shot), then the video's own
    return {
        "path": utf8_text(path),
        "model": model,
        "running_mode": "video",
        "embeddings": frames,
        "duration_ms": info.duration_ms,
        "width": info.width,
        "height": info.height,
    }


def _frames(embedder: ImageEmbedder, batch: list[Any]) -> list[dict[str, Any]]:
    """Each sampled frame's entry of the video's ``embeddings``: an image's embedding entry
    with the frame's ``timestamp_ms`` and ``shot``."""
    results = embedder.embed_video_frames([s.image for s in batch], [s.timestamp_ms for s in batch])
    return [
        embedding_entry(result.embeddings[0], timestamp_ms=still.timestamp_ms, shot=still.shot)
        for still, result in zip(batch, results, strict=True)
    ]
