"""An EPS file (PostScript), whatever its name, is never handed to Ghostscript: Pillow renders
EPS by running the `gs` program where one is installed, so an upload to the API or a file in
a collection ran Ghostscript on untrusted input, outside the decoders' size and memory
limits. It is now refused like any other unsupported format, with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 48\n"
    b"newpath 0 0 moveto 64 48 lineto stroke\nshowpage\n%%EOF\n"
)


@pytest.fixture
def no_ghostscript_run(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every call Pillow makes to run Ghostscript, recorded (and refused)."""
    from PIL import EpsImagePlugin

    calls: list[object] = []

    def ghostscript(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise OSError("Ghostscript would run here")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: True)
    return calls


def test_eps_bytes_are_refused_before_any_decoder_runs(
    tmp_path: Path, no_ghostscript_run: list[object]
) -> None:
    from models import UnsupportedImageError, load_image
    from models.files import image_format

    disguised = tmp_path / "holiday.jpg"
    disguised.write_bytes(EPS)
    for source in (EPS, disguised):
        with pytest.raises(UnsupportedImageError, match="EPS is not read"):
            load_image(source)
    assert image_format(disguised) is None
    assert no_ghostscript_run == []


def test_the_cli_names_the_format(tmp_path: Path, models_dir: Path) -> None:
    from tests.cli_process import run_cli

    (tmp_path / "holiday.jpg").write_bytes(EPS)
    done = run_cli(["--model-path", str(models_dir), "embed", "holiday.jpg"], tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PostScript/EPS is not read" in done.stdout and "Traceback" not in done.stderr
