"""Names of a package loaded on first use (PEP 562), so that importing a package costs nothing
until one of its names is used (a CLI command imports only what it runs)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(
    package: str, sources: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package``: ``sources`` maps each
    public name to the module defining it; a loaded module's names are all kept in
    ``namespace`` at once. (Importing a submodule binds its own name in the package: a
    function named like its module - ``search.library.unreached.unreached`` - was the module
    once a sibling name had loaded it first, "'module' object is not callable".)"""

    def __getattr__(name: str) -> Any:
        module = sources.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        loaded = importlib.import_module(module)
        value = getattr(loaded, name)
        for other, source in sources.items():
            if source == module and hasattr(loaded, other):
                namespace[other] = getattr(loaded, other)
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(sources))

    return __getattr__, __dir__
