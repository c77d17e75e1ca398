"""Animated GIF / WebP / APNG read as short videos with Pillow alone: frame times from the frame
durations (browsers' 100 ms for none), a single frame stays an image, truncated and oversized
animations are refused with their reason, and the walk is capped with the reason said."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

import models.animation as animation
from models import (
    AnimationReader,
    ImageError,
    VideoError,
    is_animation,
    is_video_data,
    load_image,
    open_video,
)


def frames_of(data_dir: Path, count: int, size: tuple[int, int] = (64, 48)) -> list[Image.Image]:
    photos = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[: count * 4 : 4]
    return [Image.open(p).convert("RGB").resize(size) for p in photos]


def animation_bytes(frames: list[Image.Image], fmt: str, duration: object) -> bytes:
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=duration, loop=0)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_frame_times_follow_the_durations_missing_ones_play_100_ms(data_dir: Path, fmt: str):
    data = animation_bytes(frames_of(data_dir, 4), fmt, [50, 0, 200, 70])
    assert is_animation(data) and is_video_data(data)
    with open_video(data) as reader:
        assert isinstance(reader, AnimationReader)
        times = [ms for ms, _frame in reader.frames()]
        info = reader.info()
    assert times == [0, 50, 150, 350]
    assert (info.duration_ms, info.width, info.height, info.codec) == (420, 64, 48, fmt.lower())


def test_sampling_keeps_the_first_frame_every_cut_and_rgb_stills(data_dir: Path) -> None:
    first = frames_of(data_dir, 1)[0]
    shots = [first, ImageOps.invert(first), first.transpose(Image.Transpose.ROTATE_180)]
    # identical frames: the GIF writer merges each shot's 5 into one frame of 500 ms
    data = animation_bytes([f for f in shots for _ in range(5)], "GIF", 100)
    with AnimationReader(data) as reader:
        stills = list(reader.sample(interval_s=2.0))
    assert [(s.timestamp_ms, s.shot) for s in stills] == [(0, 0), (500, 1), (1000, 2)]
    assert all(s.image.mode == "RGB" and s.image.size == (64, 48) for s in stills)


def test_a_single_frame_gif_or_webp_stays_an_image(data_dir: Path, tmp_path: Path) -> None:
    frame = frames_of(data_dir, 1)[0]
    for fmt in ("GIF", "WEBP", "PNG"):
        path = tmp_path / f"one.{fmt.lower()}"
        frame.save(path, fmt)
        assert not is_animation(path) and not is_video_data(path.read_bytes())
    assert not is_animation(b"GIF89a not really")
    assert not is_animation(tmp_path / "missing.gif")


def test_a_truncated_animated_gif_is_a_truncated_video(data_dir: Path) -> None:
    data = animation_bytes(frames_of(data_dir, 4), "GIF", 100)
    for cut in (len(data) * 2 // 3, len(data) - 1):  # inside a frame; just the trailer gone
        with pytest.raises(VideoError) as caught, AnimationReader(data[:cut]) as reader:
            list(reader.sample())
        assert caught.value.reason == "truncated_video", caught.value


def test_a_damaged_animated_webp_says_truncated_or_corrupt(data_dir: Path) -> None:
    """Pillow cannot open either (libwebp: "could not create decoder object"): the file's
    own RIFF length tells a cut from a damaged frame."""
    data = animation_bytes(frames_of(data_dir, 4), "WEBP", 100)
    for cut in (40, len(data) // 3, len(data) * 2 // 3, len(data) - 1):
        assert is_animation(data[:cut]) and is_video_data(data[:cut])  # the header says so
        with pytest.raises(VideoError) as caught, open_video(data[:cut]) as reader:
            list(reader.sample())
        assert caught.value.reason == "truncated_video", (cut, caught.value)
        assert "cut short" in str(caught.value)
    second = data.find(b"ANMF", data.find(b"ANMF") + 4)
    damaged = bytearray(data)
    damaged[second + 40 : second + 200] = bytes(
        b ^ 0x5A for b in damaged[second + 40 : second + 200]
    )
    with pytest.raises(VideoError) as caught, open_video(bytes(damaged)) as reader:
        list(reader.sample())
    assert caught.value.reason == "corrupt_video", caught.value
    for empty in (b"",):
        with pytest.raises(VideoError) as caught:
            open_video(empty)
        assert caught.value.reason == "empty"


def test_a_truncated_still_webp_or_png_is_truncated(data_dir: Path) -> None:
    frame = frames_of(data_dir, 1)[0]
    for fmt in ("WEBP", "PNG"):
        out = io.BytesIO()
        frame.save(out, fmt)
        data = out.getvalue()
        with pytest.raises(ImageError) as caught:
            load_image(data[: len(data) // 2])
        assert caught.value.reason == "truncated", (fmt, caught.value)


def tiny_gif(screen: tuple[int, int], frames: list[tuple[int, int]]) -> bytes:
    """A GIF of 1x1 frames at the given positions on a ``screen``-sized canvas."""
    out = b"GIF89a" + struct.pack("<HH", *screen) + b"\x80\x00\x00" + b"\xff\xff\xff\x00\x00\x00"
    for n, (left, top) in enumerate(frames):
        out += b"\x21\xf9\x04\x00" + struct.pack("<H", 10) + b"\x00\x00"  # 100 ms
        out += b"\x2c" + struct.pack("<HHHH", left, top, 1, 1) + b"\x00"
        out += b"\x02\x02" + (b"\x44\x01" if n % 2 == 0 else b"\x4c\x01") + b"\x00"
    return out + b";"


def test_oversized_canvases_are_refused_before_decoding() -> None:
    with pytest.raises(VideoError) as caught:
        AnimationReader(tiny_gif((9000, 9000), [(0, 0), (1, 1)]))
    assert caught.value.reason == "video_too_large"
    # a canvas that grows mid-animation (a frame placed far out) is refused at that frame
    grows = tiny_gif((10, 10), [(0, 0), (8000, 8000)])
    with pytest.raises(VideoError) as caught, AnimationReader(grows) as reader:
        list(reader.frames())
    assert caught.value.reason == "video_too_large"


def test_long_animations_are_cut_at_the_caps_with_the_reason(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = frames_of(data_dir, 3)
    data = animation_bytes([f.rotate(n * 7) for n in range(12) for f in frames], "GIF", 100)
    monkeypatch.setattr(animation, "MAX_ANIMATION_FRAMES", 10)
    with AnimationReader(data) as reader:
        walked = list(reader.frames())
        assert len(walked) == 10 and reader.info().duration_ms == 1000
        assert reader.cut is not None and "10 frames" in reader.cut
    monkeypatch.setattr(animation, "MAX_ANIMATION_FRAMES", 5000)
    monkeypatch.setattr(animation, "MAX_ANIMATION_STILLS", 4)
    with AnimationReader(data) as reader:
        assert len(list(reader.sample(interval_s=0.1))) == 4
        assert reader.cut is not None and "4 sampled frames" in reader.cut


def test_a_tiny_gif_with_a_huge_canvas_is_cut_at_the_composited_pixels_cap() -> None:
    """A 4.6 KB GIF of one-pixel frames on an 8000x4000 canvas took 17-23 s a query (each
    frame composited whole): the walk stops at 500 million composited pixels."""
    side = 4000  # 16 M pixels a frame: the cap is reached in the 32nd frame
    data = tiny_gif((side, side), [(n % 2, 0) for n in range(40)])
    assert len(data) < 2000
    with AnimationReader(data) as reader:
        walked = sum(1 for _ in reader.frames())
        assert reader.cut is not None and "500 million composited pixels" in reader.cut
    assert walked == -(-animation.MAX_ANIMATION_PIXELS // (side * side)) == 32


def test_still_at_is_the_frame_shown_then(data_dir: Path) -> None:
    frames = frames_of(data_dir, 3)
    data = animation_bytes(frames, "GIF", [100, 300, 100])
    with AnimationReader(data) as reader:
        at = [reader.still_at(ms, 32) for ms in (0, 250, 399, 10_000)]
    means = [int(np.asarray(im.convert("L"), np.int64).sum()) for im in at]
    assert means[1] == means[2] != means[0] and at[3].size[0] <= 32


def test_frames_memory_is_held_in_the_decode_budget(data_dir: Path) -> None:
    from models import ImageTooLargeError, set_decode_budget
    from models.decode_memory import DECODE_BUDGET

    data = animation_bytes(frames_of(data_dir, 2, size=(400, 300)), "GIF", 100)
    total = DECODE_BUDGET.total
    with AnimationReader(data) as reader:  # 400x300 canvas: 12 bytes a pixel held
        assert DECODE_BUDGET.free == total - 400 * 300 * 12
        list(reader.frames())
    assert DECODE_BUDGET.free == total
    set_decode_budget(1_000_000)
    try:
        with pytest.raises(ImageTooLargeError):
            AnimationReader(data)
    finally:
        set_decode_budget(total)
