"""The key-point witness's reading of files (``local=on``): it reads no file once its
budget is spent, finds a copy touched since indexing, asks only of the copies a query
returns, reads their files ahead, side by side and in order, and matches a better copy at
hand before the query; a library recorded before the option keeps its plain descriptor
(the decisions themselves: ``tests/test_key_point_witness.py``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.descriptor import NO_KEY_POINT_MATCH, DescriptorConfig, LocalFeatures, local_features
from search.library import Library
from search.query import SearchEngine
from tests.engine_library import copies_found


def test_a_library_recorded_before_the_option_keeps_plain_plain(copies_library) -> None:
    _root, settings, _original = copies_library
    plain, default = DescriptorConfig.plain(), DescriptorConfig()
    with Library.open(settings) as library:
        recorded = library.store.get_meta("descriptor")
        try:
            library.store.set_meta("descriptor", plain.describe().replace(",local=off", ""))
            assert library.descriptor_config() == plain
            library.store.set_meta("descriptor", default.describe().replace(",local=on", ""))
            assert library.descriptor_config() == default
        finally:
            library.store.set_meta("descriptor", recorded)


def test_the_witness_reads_no_file_once_its_budget_is_spent(
    copies_library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At most WITNESS_PAIRS pairs per query: a copy asked after that keeps the decision
    without its file being read (a 1920 px PNG's decode took 130 ms; 15 of them 2 s). (The
    leading copies tied on their scores have their key points counted too, at most
    TIED_ASKED of them: search.descriptor.tied_copies, off here.)"""
    root, settings, _original = copies_library
    monkeypatch.setattr("search.query.key_point_witness.WITNESS_PAIRS", 1)
    monkeypatch.setattr("search.descriptor.tied_copies.TIED_ASKED", 1)
    with SearchEngine.open(settings) as engine:
        read = _reads_of(engine, monkeypatch)
        found = copies_found(engine, root / "query.jpg")
        assert [duplicate for _n, duplicate, _r in found] == [True, True, True], found
        assert engine.local.stats.witness_pairs == 1 and len(read) == 1, read


def test_a_copy_touched_since_indexing_is_still_witnessed(
    copies_library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore from backup or `touch` changes a file's mtime, not its bytes: the witness
    checks the indexed sha256 instead of giving up on the file (it did until the next
    `imgsearch index`, so every lesser copy kept the decision unasked). A file of another
    size is never read."""
    root, settings, _original = copies_library
    monkeypatch.setattr("search.query.key_point_witness.key_points_match", lambda a, b: False)
    copy = root / "photos" / "copy_small.jpg"
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 86_400 * 10**9))
    try:
        with SearchEngine.open(settings) as engine:
            found = copies_found(engine, root / "query.jpg")
            assert engine.local.stats.witness_pairs >= 1, engine.local.stats
        assert ("copy_small", False, NO_KEY_POINT_MATCH) in found, found
    finally:
        os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_query_asks_the_witness_only_of_the_copies_it_returns(
    copies_library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine scores ``k`` + a margin of candidates (rows removed meanwhile, filters),
    but only the hits it returns need their decisions: with ``k=1`` (the best copy) no lesser
    copy's file is read for key points; with ``k=5`` the two below it are, and keep the flag.
    (The copies tied with the first are counted to choose it, at most TIED_ASKED of them -
    off here; the test below.)"""
    root, settings, original = copies_library
    monkeypatch.setattr("search.descriptor.tied_copies.TIED_ASKED", 1)
    with SearchEngine.open(settings) as engine:
        read = _reads_of(engine, monkeypatch)
        (best,) = engine.search_image(root / "query.jpg", k=1)
        assert Path(best.path).stem in {original, "copy_small", "copy_cropped"}
        assert best.duplicate
        assert read == []
        found = copies_found(engine, root / "query.jpg")
        assert [duplicate for _n, duplicate, _r in found] == [True, True, True], found
        assert len(set(read)) == 2, read


def test_copies_tied_with_the_first_are_counted_within_their_own_bound(
    copies_library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leading copies within TIE_SCORE of the first have their key points counted to
    choose the first (search.descriptor.tied_copies): at most TIED_ASKED files, apart from
    the witness's WITNESS_PAIRS; with ``k=1`` only those are read."""
    from search.descriptor.tied_copies import TIED_ASKED

    root, settings, original = copies_library
    with SearchEngine.open(settings) as engine:
        read = _reads_of(engine, monkeypatch)
        (best,) = engine.search_image(root / "query.jpg", k=1)
        assert best.duplicate and Path(best.path).stem in {original, "copy_small", "copy_cropped"}
        assert len(set(read)) <= TIED_ASKED and engine.local.stats.witness_pairs == 0, read
        assert engine.local.stats.tied_pairs == len(set(read)), engine.local.stats


def test_the_witness_finds_the_shown_copies_files_without_a_query_each(
    copies_library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows the search read for the hits it returns name their files: the witness reads
    the copies' key points without asking the database for each file again (a query per
    candidate was ~9 a query, 2-4 ms on a 100 k library), and decides as before."""
    root, settings, original = copies_library
    with SearchEngine.open(settings) as engine:
        asked: list[int] = []
        file_of = engine.store.reads.file_of
        monkeypatch.setattr(engine.store.reads, "file_of", lambda i: asked.append(i) or file_of(i))
        found = copies_found(engine, root / "query.jpg")
        assert {name for name, *_ in found} == {original, "copy_small", "copy_cropped"}, found
        assert all(duplicate for _n, duplicate, _r in found), found
        assert engine.local.stats.witness_pairs >= 2
        assert asked == [], asked


def test_the_witness_reads_the_copies_it_will_be_asked_about_ahead() -> None:
    """The copies a query's witness will be asked about are read on other threads (two side by
    side) while it matches the earlier ones: each file once; one not started yet when asked is
    read where asked; what is never asked is dropped when the query ends."""
    import threading

    from search.query.candidate_files import READ_AHEAD_THREADS, ReadAhead
    from search.query.key_point_witness import KeyPointWitness
    from search.query.local_evidence import LocalStats

    reads: list[tuple[int, str]] = []
    release, started, finish = threading.Event(), threading.Event(), threading.Event()

    def features(image_id: int, row: object) -> None:
        reads.append((image_id, threading.current_thread().name))
        if image_id in (6, 7):
            assert release.wait(10)
        if image_id == 5:
            started.set()
            assert finish.wait(10)
        return None  # a file gone: the witness cannot tell

    def witness() -> KeyPointWitness:
        lock = threading.Lock()
        return KeyPointWitness(features, lambda: None, {}, LocalStats(), lock, (), read_ahead)

    read_ahead = ReadAhead()
    try:
        first = witness()
        first.ahead([7, 6, 8, 9, 7])  # 7 and 6 hold both readers; 8 and 9 wait behind
        assert first(8, []) is None  # not started: read here
        first.finish()  # 9 is never asked: dropped
        release.set()
        for _ in range(READ_AHEAD_THREADS):  # the readers are idle again
            read_ahead.submit(lambda: None).result()
        assert sorted(i for i, _thread in reads) == [6, 7, 8]
        here = threading.current_thread().name
        assert reads[-1] == (8, here)
        readers = {t for i, t in reads if i in (6, 7)}
        assert len(readers) == 2 and here not in readers  # side by side, elsewhere

        second = witness()
        second.ahead([5])
        assert started.wait(10)
        threading.Timer(0.2, finish.set).start()
        assert second(5, []) is None  # being read ahead: awaited, not read again
        assert [t for i, t in reads if i == 5] in ([r] for r in readers)
    finally:
        release.set()
        finish.set()
        read_ahead.close()


def test_a_better_copy_at_hand_is_matched_before_the_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lesser copy more like a better copy than like the query is matched with that copy's
    key points first - once they are at hand (read for this query): no file is read ahead of
    the query's own key points."""
    import threading

    import search.query.key_point_witness as module
    from search.descriptor import LocalFeatures
    from search.query.key_point_witness import KeyPointWitness
    from search.query.local_evidence import LocalStats

    points = np.zeros((0, 2), np.float32)
    made = {i: LocalFeatures((points, None), None) for i in (1, 11, 12)}
    query = LocalFeatures((points, None), None)
    name = {id(f): i for i, f in made.items()} | {id(query): "query"}
    matched: list[tuple[object, object]] = []

    def match(theirs: LocalFeatures, mine: LocalFeatures) -> bool:
        matched.append((name[id(theirs)], name[id(mine)]))
        return name[id(theirs)] == 1  # every copy holds the best copy's key points

    monkeypatch.setattr(module, "key_points_match", match)
    reads: list[int] = []
    witness = KeyPointWitness(
        lambda i, _row: reads.append(i) or made[i],
        lambda: query,
        {},
        LocalStats(),
        threading.Lock(),
    )
    assert witness(11, [1], after=1) is True  # 1 not read yet: the query first
    assert matched == [("query", 11), (1, 11)] and reads == [11, 1]
    matched.clear()
    assert witness(12, [1, 11], after=1) is True  # 1 at hand: before the query
    assert matched == [(1, 12)] and reads == [11, 1, 12]  # each file read once


def test_a_copy_the_grey_band_confirmed_costs_the_witness_nothing(
    data_dir: Path, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A noisy sepia print of a photo is left in doubt by its vectors; the grey-band check
    confirms its copies by key points (the query's smoothed ones). Those copies hold the
    query's key points: the witness keeps their flags without matching a pair again (a plain
    match of a noisy query can fail where the check's passed, and its 12 pairs are for the
    copies nothing confirmed yet)."""
    pytest.importorskip("cv2")
    from search.evaluation.sets.holdout_edits import HOLDOUT_EDITS
    from search.query.key_point_witness import KeyPointWitness
    from tests.engine_library import index_library, make_settings

    photos = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in photos[:30]:
        Image.open(photo).convert("RGB").save(folder / photo.name, quality=92)
    picture = Image.open(photos[0]).convert("RGB")
    for kind in ("noise", "border"):
        made = HOLDOUT_EDITS[kind](picture, np.random.default_rng(0), {})
        made.save(folder / f"{kind}.jpg", quality=90)
    noisy = HOLDOUT_EDITS["noise"](picture, np.random.default_rng(9), {})
    HOLDOUT_EDITS["sepia"](noisy, np.random.default_rng(0), {}).save(tmp_path / "q.jpg", quality=90)
    settings = make_settings(tmp_path / "lib", models_dir)
    index_library(settings, [folder])
    spent: dict[int, int] = {}
    ask = KeyPointWitness.__call__

    def counted(self, image_id, better, part=None, after=0):  # type: ignore[no-untyped-def]
        before = self.pairs
        answer = ask(self, image_id, better, part, after)
        spent[image_id] = self.pairs - before
        return answer

    monkeypatch.setattr(KeyPointWitness, "__call__", counted)
    with SearchEngine.open(settings) as engine:
        hits = engine.search_image(tmp_path / "q.jpg", k=5)
    copies = {photos[0].name, "noise.jpg", "border.jpg"}
    assert {Path(h.path).name for h in hits if h.duplicate} == copies, hits
    confirmed = [h.id for h in hits[1:] if h.key_points is not None]
    assert confirmed and all(spent.get(i, 0) == 0 for i in confirmed), (confirmed, spent)


def test_the_best_copy_asked_last_is_refuted_only_where_its_places_are_not_the_querys(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The question the best copy is asked last (``spare``: past the budget of pairs) gets no
    refutation where the image's layout holds the query's places (stripes or noise blind ORB
    but keep them); another photo under one filter is refuted."""
    from search.query.key_point_witness import WITNESS_PAIRS, KeyPointWitness
    from search.query.local_evidence import LocalStats

    monkeypatch.setattr("search.query.key_point_witness.key_points_match", lambda a, b: False)
    photo = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[0]
    features = local_features(Image.open(photo).convert("RGB"))
    witness = KeyPointWitness(
        lambda i, row: features,
        lambda: features,
        {},
        LocalStats(),
        threading.Lock(),
        same_places=lambda image_id: image_id == 1,
    )
    witness.pairs = WITNESS_PAIRS  # the lesser copies spent the budget
    assert witness(2, []) is None  # spent: cannot tell
    assert witness(1, [], spare=True) is None  # its places are the query's: blind key points
    witness.pairs = WITNESS_PAIRS
    assert witness(2, [], spare=True) is False  # another photo: refuted


def test_the_checks_read_their_candidates_files_side_by_side_in_order() -> None:
    """search.query.candidate_files.CandidateFiles.read_in_order (the grey-band check's
    reads): each file once, given back in the order asked, the ones after the first read on
    the read-ahead threads while the first is read here; a caller that stops early leaves
    the files it never asked for unread (dropped when not started)."""
    import threading

    from search.query.candidate_files import CandidateFiles, ReadAhead

    reads: list[tuple[int, str]] = []
    both = threading.Barrier(2, timeout=10)  # the first two files are read at the same time
    gate = threading.Event()

    class Files(CandidateFiles):
        def __init__(self) -> None:  # no library: only read() is replaced
            pass

        def read(self, image_id, make, known=None):  # type: ignore[no-untyped-def, override]
            reads.append((image_id, threading.current_thread().name))
            if image_id in (1, 2):
                both.wait()
            return make(image_id), True

    ahead = ReadAhead()
    try:
        files = Files()
        found = [x for x, _fresh in files.read_in_order([1, 2, 3], lambda i: i * 10, ahead)]
        assert found == [10, 20, 30] and sorted(i for i, _t in reads) == [1, 2, 3]
        here = threading.current_thread().name
        assert dict(reads)[1] == here and dict(reads)[2] != here

        reads.clear()
        gate.clear()
        held = ahead.submit(lambda: gate.wait(10))  # one reader busy
        other = ahead.submit(lambda: gate.wait(10))  # the other too: 5-7 wait in the queue
        order = files.read_in_order([4, 5, 6, 7], lambda i: i, ahead)
        assert next(order) == (4, True)
        order.close()  # the caller stops: 5, 6, 7 never read
        gate.set()
        held.result(), other.result()
        for _ in range(2):
            ahead.submit(lambda: None).result()
        assert [i for i, _t in reads] == [4]
    finally:
        gate.set()
        ahead.close()


def _reads_of(engine: SearchEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids whose key points ``engine``'s local check reads from now on, in order."""
    read: list[int] = []
    features = engine.local.features
    monkeypatch.setattr(
        engine.local, "features", lambda i, row=None: read.append(i) or features(i, row)
    )
    return read
