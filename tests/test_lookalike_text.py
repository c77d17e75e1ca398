"""A hit past the duplicate decision's z that the witnesses say is no copy (not a copy of the
query's better copies, or no key-point match) is shown as a look-alike, with its own reason,
wherever its z is shown (cards, lookup, JSON)."""

from __future__ import annotations

from dataclasses import replace

from search.descriptor import NO_COPY_OF_BETTER, NO_KEY_POINT_MATCH
from search.query import NEAR, SIMILAR, LookupMatch, LookupResult, SearchHit
from web.present import copy_text, evidence_text, evidence_title, match_groups

HIT = SearchHit(1, 0.58, 7, "a.jpg", 10, 10, 100, copy_score=0.58, z=5.97)
LOOKALIKE = SearchHit(  # as the engine gives it: under the decision, its vectors' past it
    2,
    0.6,
    8,
    "b.jpg",
    10,
    10,
    100,
    copy_score=0.583,
    z=5.99,
    lookalike=True,
    lookalike_reason=NO_COPY_OF_BETTER,
    vector_score=0.6,
    vector_z=6.4,
)
NO_MATCH = replace(LOOKALIKE, lookalike_reason=NO_KEY_POINT_MATCH)


def test_a_look_alike_card_says_why_its_z_is_not_a_copy() -> None:
    assert copy_text(LOOKALIKE) == (
        "copy score 0.583, z 5.9 < 6: a look-alike (its vectors' copy score 0.600, z 6.4, was "
        "past the decision, but no copy of the better copies above it)"
    )
    assert copy_text(NO_MATCH) == (
        "copy score 0.583, z 5.9 < 6: a look-alike (its vectors' copy score 0.600, z 6.4, was "
        "past the decision, but its key points match neither the query's nor a better copy's)"
    )
    copy = SearchHit(1, 0.61, 7, "a.jpg", 10, 10, 100, copy_score=0.612, z=6.44, duplicate=True)
    assert copy_text(copy).endswith("z 6.4 ≥ 6: a copy")
    assert copy_text(HIT).endswith("z 5.9 < 6: not a copy")  # cut, never shown as 6.0
    assert LOOKALIKE.to_dict()["lookalike"] is True and HIT.to_dict()["lookalike"] is False
    assert NO_MATCH.to_dict()["lookalike_reason"] == NO_KEY_POINT_MATCH
    assert HIT.to_dict()["lookalike_reason"] is None


def test_a_look_alike_in_a_lookup_is_similar_with_its_reason() -> None:
    match = LookupMatch(LOOKALIKE, SIMILAR, "")
    result = LookupResult(0.5, {}, [match], z_threshold=6.0)
    assert evidence_text(match, result) == "copy score 0.583 · z 5.9 < 6, a look-alike"
    assert evidence_title(match, result).endswith(
        f"z 6 or more: a look-alike (its vectors' copy score 0.600, z 6.4, was past the "
        f"decision, but {NO_COPY_OF_BETTER})"
    )
    other = LookupMatch(NO_MATCH, SIMILAR, "")
    assert evidence_title(other, result).endswith(f"but {NO_KEY_POINT_MATCH})")
    # raised past the decision by key points, then found another shot: not its vectors' score
    # (a lookup said "its vectors' copy score 0.822" of a pair whose vectors gave 0.471)
    shot = replace(LOOKALIKE, key_points=68, lookalike_reason="another shot (taken ...)")
    assert evidence_title(LookupMatch(shot, SIMILAR, ""), result).endswith(
        "a look-alike (its copy score 0.600 with 68 matching key points, z 6.4, was past the "
        "decision, but another shot (taken ...))"
    )
    titles = [group.title for group in match_groups(result)]
    assert titles[-1].endswith("(z below 6; the look-alikes' vectors were past it: see each one)")


def test_a_copy_confirmed_by_key_points_says_so() -> None:
    """A hit the grey-band check raised to a copy says by how many key points, on the card
    and in the JSON; a copy by its vectors alone has none."""
    copy = SearchHit(1, 0.93, 7, "a.jpg", 10, 10, 100, copy_score=0.93, z=8.2, duplicate=True)
    confirmed = replace(copy, key_points=57)
    assert copy_text(confirmed) == (
        "copy score 0.930, z 8.2 ≥ 6: a copy (confirmed by 57 matching key points)"
    )
    assert confirmed.to_dict()["key_points"] == 57 and copy.to_dict()["key_points"] is None
    assert "key points" not in copy_text(copy)
    by_pixels = replace(copy, pixel_match=0.981)  # a small query's copy, by its pixels
    assert copy_text(by_pixels).endswith("(confirmed by its pixels: correlation 0.981)")
    assert by_pixels.to_dict()["pixel_match"] == 0.981 and copy.to_dict()["pixel_match"] is None


def test_a_lookup_under_a_threshold_says_a_look_alike_is_one() -> None:
    """Under a user's threshold a look-alike is decided by its copy score, which the witnesses
    put under the calibrated decision; its evidence still says it is a look-alike, and why."""
    from search.query.reverse_lookup import _evidence

    near, text = _evidence(LOOKALIKE, 0.5, calibrated=False)
    assert near and text.startswith("copy score 0.583 >= threshold 0.50, a look-alike (its")
    assert text.endswith(f"but {NO_COPY_OF_BETTER})")
    near, text = _evidence(LOOKALIKE, 0.9, calibrated=False)
    assert not near and text.startswith("copy score 0.583 < threshold 0.90, a look-alike")
    assert _evidence(HIT, 0.5, calibrated=False)[1] == "copy score 0.580 >= threshold 0.50"


def test_a_lookup_card_says_what_confirmed_a_near_match() -> None:
    """A lookup's near-duplicate that its key points confirmed says so on its card and in its
    tooltip, as a search's card does; one its score alone decided does not."""
    copy = SearchHit(1, 0.93, 7, "a.jpg", 10, 10, 100, copy_score=0.93, z=8.2, duplicate=True)
    confirmed = LookupMatch(replace(copy, key_points=57), NEAR, "")
    result = LookupResult(0.5, {}, [confirmed], z_threshold=6.0)
    assert evidence_text(confirmed, result) == (
        "copy score 0.930 · z 8.2 ≥ 6 · confirmed by 57 matching key points"
    )
    assert evidence_title(confirmed, result).endswith(
        "a near-duplicate, confirmed by 57 matching key points"
    )
    plain = LookupMatch(copy, NEAR, "")
    assert evidence_text(plain, result) == "copy score 0.930 · z 8.2 ≥ 6"
    fixed = LookupResult(0.9, {}, [confirmed])  # an explicit threshold decides
    assert evidence_text(confirmed, fixed).endswith(" · confirmed by 57 matching key points")
