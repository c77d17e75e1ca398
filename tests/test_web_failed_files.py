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
    assert 'data-code="not_indexed"' in text and "then run <code>imgsearch --library " in text
    assert "Search with a region" not in text and ">Find copies</button>" not in text
    assert "No other image in the library" not in text
    assert client.get(f"/api/v1/images/{ids[BROKEN_NAME]}/thumbnail").status_code == 409


def test_a_failed_file_as_the_search_page_query_says_why(client, ids):
    """/?from=ID of a failed file put its broken thumbnail in the preview, without a word."""
    text = client.get(f"/?from={ids[BROKEN_NAME]}").get_data(as_text=True)
    assert f"Library image #{ids[BROKEN_NAME]} cannot be a query" in text
    assert "could not be read when it was indexed. Replace or repair it" in text
    assert f"/api/v1/images/{ids[BROKEN_NAME]}/thumbnail" not in text
    assert 'name="image_id" value=""' in text


def test_the_api_says_a_failed_file_cannot_be_a_query(client, ids):
    """`POST /search` and `/lookup` with the id of a file that failed to index, and its
    thumbnail, were 415 "Not a readable image" (as of an upload the request never sent); they
    are 409 `not_indexed`, as the search page's ?from=ID says, with what to do."""
    from tests.web_library import API, assert_error

    image_id = str(ids[BROKEN_NAME])
    for answer in (
        client.post(f"{API}/search", data={"image_id": image_id}),
        client.post(f"{API}/lookup", data={"image_id": image_id}),
        client.get(f"{API}/images/{image_id}/similar"),  # it was a 404 "not_found"
        client.get(f"{API}/images/{image_id}/thumbnail"),
    ):
        error = assert_error(answer, 409, "not_indexed")
        assert "could not be read when it was indexed" in error["message"], error
    # the thumbnail's says what it lacks, not "cannot be a query" (a new user's audit)
    assert "has no thumbnail: its file" in error["message"], error


def test_lookup_of_a_failed_files_id_says_it_has_no_vector(weblib, ids):
    """`imgsearch lookup ID` of a file that failed to index decoded the file again and said
    "not an image", where `similar ID` says it has no vector, and why."""
    from click.testing import CliRunner

    from cli.main import cli

    library = ["--library", str(weblib.settings.library)]
    for command in ("lookup", "similar"):
        done = CliRunner().invoke(cli, [*library, command, str(ids[BROKEN_NAME])])
        assert done.exit_code == 1, done.output
        assert f"({BROKEN_NAME}) has no vector: not_an_image" in done.output, done.output
