"""The live camera page: ``static/live.js`` grabs camera frames and sends one at a time to
``POST /api/v1/search`` (frames that come while one is in flight are dropped, never queued),
each result set tagged with the time of its frame."""

from __future__ import annotations

from typing import Any

from flask import make_response, render_template

from web.fields import refuse_unknown_args
from web.views import _notice, bp

# The live page: results per frame, the longest side of a frame sent (JPEG), and the one page
# that may use the camera (every other response keeps ``camera=()``, see web/app.py).
LIVE_K = 8
LIVE_MAX_SIDE = 512
LIVE_PERMISSIONS = "camera=(self), microphone=(), geolocation=()"


@bp.get("/live")
def live_page() -> Any:
    """Live camera search (module doc)."""
    refuse_unknown_args(())  # ?x=1 is a 400 page, as on the other pages (it was ignored)
    response = make_response(
        render_template(
            "live.html", title="Live", notice=_notice(), k=LIVE_K, max_side=LIVE_MAX_SIDE
        )
    )
    response.headers["Permissions-Policy"] = LIVE_PERMISSIONS
    return response
