"""A package's lazy names stay what they name whatever is loaded first.

Importing a submodule binds its name in its package: ``search.library.unreached`` (the module)
took the place of ``unreached`` (its function) once ``folder_state``, a sibling name, had
loaded the module first - `imgsearch index` after an interrupted re-index ended in "'module'
object is not callable". Each name that shares its module's name is checked after a sibling."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [  # (package, a sibling loaded first, the name its module shares)
    ("search.library", "folder_state", "unreached"),
    ("search.descriptor", "Placement", "placement"),
]


@pytest.mark.parametrize(("package", "first", "name"), CASES)
def test_a_name_shared_with_its_module_is_not_the_module(
    package: str, first: str, name: str
) -> None:
    code = (
        "import importlib, types\n"
        f"p = importlib.import_module({package!r})\n"
        f"getattr(p, {first!r})\n"
        f"value = getattr(p, {name!r})\n"
        "assert not isinstance(value, types.ModuleType), value\n"
        f"from {package} import {name} as again\n"
        "assert again is value\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
