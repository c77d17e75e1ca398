"""``--exclude`` patterns: .gitignore lines relative to a collection root (pathspec)."""

from __future__ import annotations

from collections.abc import Sequence

from pathspec import GitIgnoreSpec

from models.errors import ImgsearchError


class ExcludeError(ImgsearchError, ValueError):
    """An ``--exclude`` pattern that is not a valid .gitignore pattern."""


class Excludes:
    """``--exclude`` patterns with .gitignore semantics, relative to the collection root.

    A pattern without a ``/`` (other than a trailing one) matches a name at any depth
    (``*.raw.jpg``, ``tmp``); one with a ``/`` in it is anchored at the collection root
    (``2020/tmp/``) unless it starts with ``**/``; ``*`` stops at ``/``, ``**`` crosses
    folders; a trailing ``/`` matches folders only; ``!pattern`` re-includes. An excluded
    folder is not entered at all. One addition to .gitignore: a leading ``*/`` means any
    depth, the top included (``*/tmp/*`` is ``**/tmp/*``), as the shell-style globs of
    earlier versions meant.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        lines = [_normalise(p) for p in patterns]
        self.patterns = [line for line in lines if line]
        try:
            self._spec = GitIgnoreSpec.from_lines(self.patterns)
        except ValueError as error:  # pathspec's pattern errors are ValueErrors
            raise ExcludeError(
                f"--exclude: {error} (patterns work like .gitignore lines)"
            ) from None
        for line, compiled in zip(self.patterns, self._spec.patterns, strict=True):
            if compiled.include is None and not line.startswith("#"):
                raise ExcludeError(
                    f"--exclude: {line!r} can never match anything (an unclosed '[' or a "
                    "lone '!'?); patterns work like .gitignore lines, '\\[' is a literal ["
                )

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def match(self, rel_path: str, *, is_dir: bool = False) -> bool:
        """Is the file (or, with ``is_dir``, the folder) at ``rel_path`` excluded?"""
        return self._spec.match_file(rel_path + "/" if is_dir else rel_path)


def _normalise(pattern: str) -> str:
    pattern = pattern.strip()
    if pattern.startswith("./"):
        pattern = "/" + pattern[2:]  # ./tmp: the collection's own tmp, as /tmp in .gitignore
    if pattern.startswith("*/"):
        pattern = "**/" + pattern[2:]
    return pattern


def matches_exclude(rel_path: str, patterns: Sequence[str], *, is_dir: bool = False) -> bool:
    """True when ``rel_path`` is excluded by ``patterns`` (see :class:`Excludes`)."""
    return Excludes(patterns).match(rel_path, is_dir=is_dir)


__all__ = ["ExcludeError", "Excludes", "matches_exclude"]
