"""Small H.264 clips made at test time from the shared photos (PyAV)."""

from __future__ import annotations

from pathlib import Path


def write_slideshow(
    photos: list[Path], target: Path, size: tuple[int, int], fps: int = 10, hold: int = 10
) -> None:
    """An H.264 slideshow of still shots: each photo held for ``hold`` frames, a cut between
    (a still shot is sampled as one frame when indexed)."""
    import av
    import numpy as np
    from PIL import Image

    with av.open(str(target), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for photo in photos:
            with Image.open(photo) as im:
                still = np.asarray(im.convert("RGB").resize(size))
            for _ in range(hold):
                for packet in stream.encode(av.VideoFrame.from_ndarray(still, format="rgb24")):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def panning_shots(photos: list[Path], size: tuple[int, int], frames: int) -> list:
    """RGB frames of one shot per photo, each panning ``frames`` frames across it, hard cuts
    between (a cut is sampled at its frame when indexed)."""
    import numpy as np
    from PIL import Image

    width, height = size
    out = []
    for photo in photos:
        with Image.open(photo) as im:
            big = np.asarray(im.convert("RGB").resize((width + 40, height + 30)))
        for i in range(frames):
            x, y = 40 * i // max(1, frames - 1), 30 * i // max(1, frames - 1)
            out.append(np.ascontiguousarray(big[y : y + height, x : x + width]))
    return out


def write_frames(
    target: Path, frames: list, fps: int = 10, *, first_pts: int = 0, crf: int = 23
) -> None:
    """``frames`` (RGB arrays) as an H.264 clip in ``target``'s container (by its suffix);
    ``first_pts``: the first frame's time in frames (a clip whose timestamps do not start
    at 0)."""
    import av

    with av.open(str(target), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": str(crf)})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for n, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = first_pts + n
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
