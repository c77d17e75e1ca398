"""The bounds of a query (how many results, which ids, label words), in a module that
imports nothing: a command's options and callbacks read them before any work, and a
usage error or ``--help`` should not pay for SQLAlchemy, FAISS and the model."""

from __future__ import annotations

from collections.abc import Callable

MAX_K = 1000
MAX_IMAGE_ID = 2**63 - 1  # image ids are SQL integers: larger ones name no image
MAX_OFFSET = MAX_IMAGE_ID  # SQL's largest integer: a larger OFFSET overflows in the database
MAX_LABEL_QUERY = 100  # characters of a label search: the CLI, the page and the API alike


def label_query_problem(q: str) -> str | None:
    """What is wrong with the words ``q`` of a label search, if anything: none at all, more
    than :data:`MAX_LABEL_QUERY` characters, or a control or other invisible character (a
    NUL went into the labels page's title, heading and search field)."""
    word = " ".join(q.split())
    if not word:
        return "give a word to search labels for"
    if len(word) > MAX_LABEL_QUERY:
        return f"the label query is too long ({MAX_LABEL_QUERY} characters at most)"
    odd = next((c for c in word if not c.isprintable()), None)
    if odd is not None:
        return f"the label query has a control character (U+{ord(odd):04X}): give words only"
    return None


def singular_forms(q: str) -> list[str]:
    """``q`` with its last word in the singular, most likely first ("butterflies" ->
    "butterfly", "boxes" -> "box", "ants" -> "ant"); none when it does not look plural:
    labels are class names in the singular, a folder's name ("ants") often is not."""
    head, _, last = q.rpartition(" ")
    prefix = f"{head} " if head else ""
    if len(last) < 3 or not last.lower().endswith("s") or last.lower().endswith("ss"):
        return []
    forms = []
    if last.lower().endswith("ies") and len(last) > 4:
        forms.append(last[:-3] + "y")
    if last.lower().endswith(("ses", "xes", "zes", "ches", "shes")):
        forms.append(last[:-2])
    forms.append(last[:-1])
    return [prefix + form for form in forms]


def singular_suggestion(q: str, labels_some: Callable[[str], bool]) -> str | None:
    """The first of :func:`singular_forms` of ``q`` for which ``labels_some(form)`` (some image
    has that label), or None: the hint the labels page and ``imgsearch labels`` give."""
    return next((form for form in singular_forms(q) if labels_some(form)), None)
