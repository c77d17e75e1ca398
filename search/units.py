"""Units as people read them, for the reports of ``search`` and the pages and CLI."""

from __future__ import annotations

import unicodedata

__all__ = [
    "human_size",
    "is_utf8_name",
    "pad",
    "plural",
    "printable",
    "text_width",
    "utf8_text",
    "whole_number",
]


def human_size(n: int | None) -> str:
    """``1.5 MiB`` style file size (binary units, as the sizes are counted; one decimal, none
    when it is 0: ``32 MiB``, not ``32.0 MB`` beside an error's ``32 MiB``); ``-`` when
    unknown. ``web/static/format.js`` (``humanSize``) writes sizes the same way."""
    if n is None:
        return "-"
    value = float(max(0, n))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    if unit == "B":
        return f"{value:.0f} B"
    text = f"{value:.1f}"
    return f"{text[:-2] if text.endswith('.0') else text} {unit}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1: "1 copy", "3 copies", "0 images"
    ("1 copies", "1 images" were printed). ``many``: an irregular plural ("copy" -> "copies"
    is known: a consonant and y)."""
    if n == 1:
        return f"{n} {word}"
    if many is None:
        many = (
            word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
        )
    return f"{n} {many}"


def whole_number(text: str | None) -> int | None:
    """``text`` as a whole number (0 or more) when it is ASCII digits only, else None: the one
    reading of a number a user typed (a URL parameter, an id on the command line).
    ``str.isdigit`` takes "²", which ``int`` refuses (a ValueError, a traceback, an HTTP 500);
    ``int`` takes "١٢", "+1", "1_0" and " 1"; digits past ``int``'s limit (4300) are None."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    try:
        return int(text)
    except ValueError:  # longer than sys.get_int_max_str_digits()
        return None


def is_utf8_name(name: str) -> bool:
    """False for a file name with bytes that are not UTF-8 (Python's surrogate escapes): the
    library keeps names as text (the index's walk skips them, the CLI refuses them)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def utf8_text(name: str) -> str:
    """``name`` as valid UTF-8 text: each byte of a file name that is not UTF-8 (Python's
    surrogate escape, a lone surrogate such as U+DCFF) written as ``\\xff``, as Python
    writes bytes (``b'bad\\xffname.jpg'``). JSON then holds no lone surrogate (``jq`` made
    it U+FFFD, and no consumer could name the file)."""
    if is_utf8_name(name):
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def printable(text: str) -> str:
    """``text`` for one line of a terminal: control characters (a newline or a tab in a file
    name) written as Python escapes (``two\\nlines.jpg``), everything else as it is."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def text_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: combining marks none (an NFD ``é``), wide East
    Asian characters two."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` columns (:func:`text_width`), left-aligned
    unless ``right``."""
    fill = " " * max(0, width - text_width(text))
    return fill + text if right else text + fill
