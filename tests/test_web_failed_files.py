"""The pages of a file that failed to index (a text file named .jpg in the web library): no
picture, vectors or labels, so nothing to show, search with or compare."""

from __future__ import annotations

from tests.web_library import BROKEN_NAME


def test_the_image_page_of_a_failed_file_offers_nothing_that_fails(client, ids):
    """/images/ID of a failed file showed a broken picture (its thumbnail answers 415),
    offered "Search with a region of this image" and "Find copies" (both failed), and said
    "No other image in the library." under Similar images."""
    page = client.get(f"/images/{ids[BROKEN_NAME]}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"/api/v1/images/{ids[BROKEN_NAME]}/thumbnail" not in text  # no broken picture
    assert "No picture to show: this file could not be read when it was indexed." in text
    assert 'data-code="not_indexed"' in text and "then run <code>imgsearch index</code>" in text
    assert "Search with a region" not in text and ">Find copies</button>" not in text
    assert "No other image in the library" not in text
    assert client.get(f"/api/v1/images/{ids[BROKEN_NAME]}/thumbnail").status_code == 415


def test_a_failed_file_as_the_search_page_query_says_why(client, ids):
    """/?from=ID of a failed file put its broken thumbnail in the preview, without a word."""
    text = client.get(f"/?from={ids[BROKEN_NAME]}").get_data(as_text=True)
    assert f"Library image #{ids[BROKEN_NAME]} cannot be a query" in text
    assert "could not be read when it was indexed. Replace or repair it" in text
    assert f"/api/v1/images/{ids[BROKEN_NAME]}/thumbnail" not in text
    assert 'name="image_id" value=""' in text
