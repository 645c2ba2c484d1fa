"""Issue 12: deletions are trusted for retraction only from a consistent picture.

A slot edited during a fetch can move into a chunk already fetched and be missed by
every answer of that run: the run marks it `_deleted_at`, but only a later complete
fetch (every chunk answered, none guarded) that misses it again sets
`_gone_confirmed_at`, the one thing HEURES_ON_GONE=delete acts on. A slot seen again,
in any chunk, is alive (both null).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from devstack.fake_batisimply import Dataset
from tests.loader.helpers import Loader, query, small_dataset, window

# the loader's small dataset (tests/loader/helpers.py) for the `dataset` and `api` fixtures
pytestmark = pytest.mark.dataset(factory=small_dataset)

SQL = "select _deleted_at, _gone_confirmed_at from raw_batisimply.time_slots where id = :i"


def _ids(dataset: Dataset) -> list[str]:
    w = window()
    return sorted((str(s["id"]) for s in dataset.in_window(w.start, w.end)), key=int)


def test_a_slot_missed_once_then_seen_again_is_never_confirmed_gone(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    load(chunk_days=10)
    ids = _ids(dataset)
    victim = ids[len(ids) // 2]
    record = dataset.delete(victim)  # missed by this run (moved during its fetch, say)
    assert load(chunk_days=10).resources["time_slots"].deleted == 1
    deleted_at, confirmed = query(staging_url, SQL, i=victim)[0]
    assert deleted_at is not None and confirmed is None

    # it shows up in another chunk than before: present, so alive, never confirmed gone
    elsewhere = window().start + timedelta(days=25, hours=3)  # a night: no key shared
    moved = dict(record, startDate=f"{elsewhere:%Y-%m-%dT%H:%M:%SZ}")
    moved["endDate"] = f"{elsewhere + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"
    assert moved["startDate"][:10] != record["startDate"][:10]
    dataset.slots[victim] = moved
    dataset.touch(victim)
    load(chunk_days=10)
    assert query(staging_url, SQL, i=victim)[0] == (None, None)


def test_a_slot_missed_by_two_complete_fetches_is_confirmed(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    load(chunk_days=10)
    victim = _ids(dataset)[5]
    dataset.delete(victim)
    load(chunk_days=10)
    load(chunk_days=10)
    deleted_at, confirmed = query(staging_url, SQL, i=victim)[0]
    assert deleted_at is not None and confirmed is not None and confirmed > deleted_at


def test_no_confirmation_from_a_fetch_with_a_guarded_chunk(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    load(chunk_days=10)
    ids = _ids(dataset)
    victim = ids[-1]
    dataset.delete(victim)
    load(chunk_days=10)
    # the next answer of the first chunk is empty: that run's picture is incomplete
    first = window().start
    for slot_id in ids:
        record = dataset.slots.get(slot_id)
        if record and record["startDate"] < (first + timedelta(days=10)).isoformat():
            dataset.delete(slot_id)
    report = load(chunk_days=10)
    assert any(chunk.guarded for chunk in report.chunks)
    assert query(staging_url, SQL, i=victim)[0][1] is None


def test_marks_and_confirmations_are_counted_in_their_own_chunk(
    load: Loader, dataset: Dataset
) -> None:
    """Every chunk is marked in one statement: each chunk's report still counts its own."""
    from batisync.loader.records import parse_api_timestamp
    from batisync.loader.window import chunk_window

    load(chunk_days=10)
    chunks = chunk_window(window(), 10)
    by_chunk: dict[int, list[str]] = {}
    for slot_id in _ids(dataset):
        start = parse_api_timestamp(dataset.slots[slot_id]["startDate"])
        where = [i for i, c in enumerate(chunks) if c.start <= start <= c.end]
        by_chunk.setdefault(where[0], []).append(slot_id)
    first, last = min(by_chunk), max(by_chunk)
    assert first != last
    gone = by_chunk[first][:1] + by_chunk[last][:2]
    for slot_id in gone:
        dataset.delete(slot_id)
    expected = [0] * len(chunks)
    expected[first], expected[last] = 1, 2

    marked = load(chunk_days=10)
    assert [c.deleted for c in marked.chunks] == expected
    assert [c.confirmed for c in marked.chunks] == [0] * len(chunks)
    confirmed = load(chunk_days=10)
    assert [c.confirmed for c in confirmed.chunks] == expected
    assert [c.deleted for c in confirmed.chunks] == [0] * len(chunks)
