"""The labels page: images whose top ImageNet labels match a word, a page of cards at a time.
A word that matches nothing, in the plural ("ants", the folder name a user knows), is
answered with the singular that does ("ant"): labels are class names in the singular."""

from __future__ import annotations

from typing import Any

from flask import request

from search.query import singular_suggestion
from web import service
from web.errors import page_error
from web.fields import refuse_unknown_args
from web.params import BROWSE_PER_PAGE, parse_page
from web.text import visible
from web.views import _notice, bp, render_page


def _suggestion(q: str) -> str | None:
    """The first singular form of ``q`` that labels some image, or None."""
    try:
        return singular_suggestion(q, lambda form: bool(service.engine().search_labels(form, k=1)))
    except Exception:  # only a hint: the page already says that nothing matched
        return None


@bp.get("/labels")
def labels_page() -> Any:
    """Images by label, a page of cards at a time (``page``), with how many there are in all
    (a page past the last says so, as Browse does). No library or an empty one: the notice
    the other pages show, not "no image has this label, try another word"."""
    q = " ".join((request.args.get("q") or "").split())
    hits: list[Any] = []
    error = None
    page, total = 1, 0
    suggestion = None
    notice = _notice() if q else None
    try:  # an unknown parameter (?foo=1) is a 400 page, as Browse's
        refuse_unknown_args(("q", "page"))
    except Exception as exc:
        error = page_error(exc)
    if q and notice is None and error is None:
        try:
            page = parse_page()
            eng = service.engine()
            start = (page - 1) * BROWSE_PER_PAGE
            total = eng.records.count_labels(q)
            if start < total or page == 1:  # not 2.4 million labels read for page 9999
                hits = eng.search_labels(q, k=BROWSE_PER_PAGE, offset=start)
        except Exception as exc:
            error = page_error(exc)
        if not total and error is None:
            suggestion = _suggestion(q)
    q = visible(q, None)  # a refused NUL is seen as \x00, as every page echoes one
    return render_page(
        "labels.html",
        f"Label “{q}”" if q else "Labels",
        error,
        q=q,
        hits=hits,
        page=page,
        total=total,
        pages=-(-total // BROWSE_PER_PAGE),  # 0 when nothing matches: no pager
        per_page=BROWSE_PER_PAGE,
        suggestion=suggestion,
        notice=notice,
    )
