"""Label searches: which images have a top label with the user's words, as whole words.

A label's words are separated by ``_``, a space or ``-`` (``barn_spider``, ``golden
retriever``, ``jack-o'-lantern``): ``spider`` matches ``barn_spider``, ``ant`` matches ``ant``
but not ``tarantula`` or ``restaurant``, and ``golden retriever`` (or ``golden_retriever``)
matches the label with those words in that order. Case is ignored; ``%``, ``_`` and ``\\``
in the user's words are letters, never LIKE wildcards.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, distinct, func, literal, select

from search.store.schema import STATUS_OK, Image, ImageLabel

SEPARATORS = re.compile(r"[\s_-]+")
_ESCAPE = "\\"


def label_words(text: str) -> list[str]:
    """The lower-case words of a label or of a label search (none for ``"_"`` or ``"-"``)."""
    return [word for word in SEPARATORS.split(text.lower()) if word]


def _like_literal(word: str) -> str:
    """``word`` for a LIKE pattern: its ``\\``, ``%`` and ``_`` are letters."""
    return (
        word.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )


def label_condition(text: str) -> ColumnElement[bool] | None:
    """SQL: the label has the words of ``text`` together, in order, as whole words; None when
    ``text`` has no word at all (nothing matches)."""
    words = label_words(text)
    if not words:
        return None
    # the label's separators become '_' and it is padded with one on each side, so that a
    # whole word is '_word_' inside it (the escaped '\_' of the pattern is a plain '_')
    name = func.replace(func.replace(func.lower(ImageLabel.label), " ", "_"), "-", "_")
    padded = literal("_") + name + literal("_")
    pattern = "%" + _ESCAPE + "_" + (_ESCAPE + "_").join(map(_like_literal, words))
    return padded.like(pattern + _ESCAPE + "_%", escape=_ESCAPE)


def search_labels(session: Any, text: str, limit: int) -> list[tuple[int, str, float]]:
    """(image id, best matching label, its score) of up to ``limit`` images, best score first."""
    condition = label_condition(text)
    if condition is None:
        return []
    query = (
        select(ImageLabel.image_id, ImageLabel.label, ImageLabel.score)
        .where(condition)
        .order_by(ImageLabel.score.desc(), ImageLabel.image_id)
    )
    best: dict[int, tuple[int, str, float]] = {}
    for image_id, label, score in session.execute(query):
        best.setdefault(image_id, (image_id, label, float(score)))
        if len(best) >= limit:
            break
    return list(best.values())


def count_labels(session: Any, text: str) -> int:
    """How many indexed images have a label matching ``text`` (:func:`label_condition`)."""
    condition = label_condition(text)
    if condition is None:
        return 0
    query = (
        select(func.count(distinct(ImageLabel.image_id)))
        .join(Image, Image.id == ImageLabel.image_id)
        .where(condition, Image.status == STATUS_OK)
    )
    return int(session.scalar(query) or 0)
