"""A phone's portrait clip is stored sideways with a display matrix (the MP4 track header's
transformation) that says how to turn it. Its stills, its frame thumbnails and its size are
read as it is shown, not as it is stored (they were sideways: a portrait clip indexed as
landscape, its stills embedded lying on their side)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

av = pytest.importorskip("av")

from models import open_video  # noqa: E402

ONE = 1 << 16  # 16.16 fixed point
MATRICES = {  # tkhd matrix (a, b, u, c, d, v, x, y, w) -> quarter turns clockwise to show it
    0: (ONE, 0, 0, 0, ONE, 0, 0, 0, 1 << 30),
    1: (0, ONE, 0, -ONE, 0, 0, 0, 0, 1 << 30),  # the usual portrait phone clip
    2: (-ONE, 0, 0, 0, -ONE, 0, 0, 0, 1 << 30),
    3: (0, -ONE, 0, ONE, 0, 0, 0, 0, 1 << 30),
}


def write_clip(path: Path, clockwise_turns: int) -> None:
    """A 96x48 H.264 clip, its left half red and right half blue, whose track header asks a
    player to turn it ``clockwise_turns`` quarter turns (as a phone writes it)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 48, "yuv420p"
        pixels = np.zeros((48, 96, 3), np.uint8)
        pixels[:, :48] = (220, 20, 20)
        pixels[:, 48:] = (20, 20, 220)
        for _ in range(6):
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    version = data[at + 4]
    # version+flags 4, times and ids (20 or 32), reserved 8, layer, group, volume, reserved 2 each
    matrix = at + 4 + 4 + (20 if version == 0 else 32) + 8 + 8
    assert struct.unpack(">9i", data[matrix : matrix + 36]) == MATRICES[0]
    data[matrix : matrix + 36] = struct.pack(">9i", *MATRICES[clockwise_turns])
    path.write_bytes(bytes(data))


def red_side(image: Image.Image) -> str:
    """Which edge of ``image`` the red half lies on."""
    rgb = np.asarray(image.convert("RGB"), np.float32)
    red = rgb[..., 0] - rgb[..., 2]
    h, w = red.shape
    sides = {
        "left": red[:, : w // 4].mean(),
        "right": red[:, -w // 4 :].mean(),
        "top": red[: h // 4].mean(),
        "bottom": red[-h // 4 :].mean(),
    }
    return max(sides, key=lambda side: sides[side])


@pytest.mark.parametrize(
    ("turns", "size", "side"),
    [(0, (96, 48), "left"), (1, (48, 96), "top"), (2, (96, 48), "right"), (3, (48, 96), "bottom")],
)
def test_stills_thumbnails_and_size_follow_the_display_matrix(
    tmp_path: Path, turns: int, size: tuple[int, int], side: str
) -> None:
    clip = tmp_path / "clip.mp4"
    write_clip(clip, turns)
    with open_video(clip) as reader:
        stills = list(reader.sample())
        info = reader.info()
        frame = reader.still_at(200, 64)
    assert stills and all(s.image.size == size for s in stills), [s.image.size for s in stills]
    assert red_side(stills[0].image) == side
    assert (info.width, info.height) == size
    assert red_side(frame) == side
    assert (frame.width < frame.height) == bool(turns % 2), frame.size
