"""``imgsearch`` through click's runner on a library of the test's own, the exit code
checked (the ``run`` fixture of the CLI test modules)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from cli.main import cli


def library_runner(library: Path, models_dir: Path) -> Callable[..., Result]:
    """``invoke(*args, code=0)``: one command on ``library``; ``invoke.library`` is its path."""

    def invoke(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(
            cli,
            ["--library", str(library), "--model-path", str(models_dir), *args],
            catch_exceptions=False,
        )
        assert result.exit_code == code, result.output
        return result

    runner: Any = invoke
    runner.library = library
    return invoke
