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
