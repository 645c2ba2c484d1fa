"""run_load against the fake API and a real PostgreSQL: shapes, counts, deletions, failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from batisync.loader.api.client import SLOTS_PATH
from batisync.loader.bounds import WINDOW_SLACK
from batisync.loader.pipeline import LoadError, deletion_guarded, run_load
from batisync.loader.window import chunk_window
from devstack.batigest import create_standin, seed_salaries
from devstack.fake_batisimply import MALFORMED_KINDS, Dataset, FakeBatiSimply
from devstack.fake_batisimply.generator import parse_utc
from tests.loader.helpers import (
    FAST_RETRY,
    TODAY,
    WINDOW_DAYS,
    Loader,
    credentials_for,
    query,
    raw_state,
    small_dataset,
    window,
)

# the loader's small dataset (tests/loader/helpers.py) for the `dataset` and `api` fixtures
pytestmark = pytest.mark.dataset(factory=small_dataset)


def _in_window(dataset: Dataset) -> dict[str, dict]:
    w = window()
    return {str(s["id"]): s for s in dataset.in_window(w.start, w.end)}


def _columns(url: str, schema: str, table: str) -> dict[str, str]:
    rows = query(
        url,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = :s and table_name = :t",
        s=schema,
        t=table,
    )
    return dict(rows)


def test_first_load_shapes_and_counts(
    load: Loader, dataset: Dataset, staging_url: str, batigest_url: str
) -> None:
    engine = create_standin(batigest_url)
    rows = [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()]
    seed_salaries(engine, rows)
    engine.dispose()

    report = load(batigest_url=batigest_url)

    expected = _in_window(dataset)
    counts = report.to_dict()["resources"]
    assert counts["time_slots"] | {"quarantine_reasons": {}} == {
        "fetched": len(expected),
        "new": len(expected),
        "changed": 0,
        "unchanged": 0,
        "deleted": 0,
        "quarantined": 0,
        "repeated": 0,
        "quarantine_reasons": {},
        "refreshed": True,
    }
    assert (counts["projects"]["fetched"], counts["projects"]["new"]) == (3, 3)
    assert (counts["salarie"]["fetched"], counts["salarie"]["new"]) == (len(rows), len(rows))

    slots = _columns(staging_url, "raw_batisimply", "time_slots")
    assert {
        "id": "character varying",
        "start_date": "character varying",
        "end_date": "character varying",
        "user__id": "character varying",
        "project__id": "bigint",
        "management_status": "character varying",
        "total_time_minutes": "double precision",
        "has_packed_lunch": "boolean",
        "has_home_to_work_journey": "boolean",
        "_fetched_at": "timestamp with time zone",
        "_deleted_at": "timestamp with time zone",
        "_content_hash": "character varying",
    }.items() <= slots.items()
    assert {"user__first_name", "project__project_name", "comment", "created_at"} <= set(slots)
    quarantine = _columns(staging_url, "raw_batisimply", "quarantine")
    assert {
        "quarantine_key",
        "resource",
        "record_id",
        "reason",
        "payload",
        "management_status",
        "first_seen_at",
        "last_seen_at",
    } <= set(quarantine), "the table exists even with nothing quarantined"
    assert {"id", "project_code", "project_name"} <= set(
        _columns(staging_url, "raw_batisimply", "projects")
    )
    assert {"code", "nom", "codebs"} <= set(_columns(staging_url, "raw_batigest", "salarie"))

    loaded = query(
        staging_url,
        "select id, start_date, end_date, user__id, project__id, total_time_minutes, "
        "management_status, _deleted_at from raw_batisimply.time_slots",
    )
    assert {row[0] for row in loaded} == set(expected)
    for slot_id, start, end, user, project, minutes, status, deleted in loaded:
        source = expected[slot_id]
        assert (start, end) == (source["startDate"], source["endDate"]), "original UTC strings"
        assert (user, project) == (source["user"]["id"], source["project"]["id"])
        assert (minutes, status, deleted) == (
            source["totalTimeMinutes"],
            source["managementStatus"],
            None,
        )
    codes = query(staging_url, "select id, project_code from raw_batisimply.projects order by id")
    assert codes == [(p.id, p.code) for p in dataset.projects]
    salarie = query(staging_url, "select code, nom, codebs from raw_batigest.salarie order by code")
    assert salarie == sorted(rows)


def test_second_load_tells_new_changed_and_unchanged(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    load()
    ids = sorted(_in_window(dataset), key=int)
    dataset.change_minutes(ids[0], 77)
    dataset.move_slot(ids[1], 60)
    dataset.unvalidate(ids[2])
    employee, project = dataset.employees[0], dataset.projects[0]
    added = dataset.add_slot(employee.id, project.id, datetime(2026, 3, 9, 7, 3, 11), 240)

    report = load().resources["time_slots"]

    assert (report.new, report.changed, report.deleted) == (1, 3, 0)
    assert report.unchanged == len(ids) - 3
    minutes = query(
        staging_url,
        "select id, total_time_minutes from raw_batisimply.time_slots where id in (:a, :b)",
        a=ids[0],
        b=added,
    )
    assert sorted(minutes) == sorted([(ids[0], 77.0), (added, 240.0)])


def test_unchanged_slots_are_neither_written_nor_taken_as_deleted(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    """A slot fetched unchanged keeps its row as it is, `_fetched_at` included (the fetch
    that wrote it); the load's own fetch time goes to `time_slots_last_fetch`."""
    first = load()
    ids = sorted(_in_window(dataset), key=int)
    dataset.change_minutes(ids[0], 77)
    dataset.move_slot(ids[1], 60)
    first_load_ids = dict(
        query(staging_url, "select id, _dlt_load_id from raw_batisimply.time_slots")
    )

    report = load()

    rows = query(staging_url, "select id, _dlt_load_id, _fetched_at from raw_batisimply.time_slots")
    rewritten = {i for i, load_id, _ in rows if load_id != first_load_ids.get(i)}
    assert rewritten == {ids[0], ids[1]}  # only what changed was merged
    fetched = {i: at for i, _, at in rows}
    assert {fetched[i] for i in rewritten} == {report.fetched_at}
    assert {at for i, at in fetched.items() if i not in rewritten} == {first.fetched_at}
    counts = report.resources["time_slots"]
    assert (counts.new, counts.changed, counts.unchanged) == (0, 2, len(ids) - 2)
    assert counts.deleted == 0
    last = "select fetched_at, slots from raw_batisimply.time_slots_last_fetch"
    assert query(staging_url, last) == [(report.fetched_at, counts.fetched)]


def test_a_refusal_is_lifted_by_the_slot_fetched_as_stored(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    """A slot refused by the quarantine, then fetched again as raw holds it: nothing to
    write, but its `_fetched_at` moves past the refusal (int_time_slots_quarantined
    lifts a refusal on a fetch of the slot after it); no other unchanged slot moves."""
    first = load()
    slot_id = sorted(_in_window(dataset), key=int)[0]
    good = dataset.slots[slot_id]["totalTimeMinutes"]
    dataset.slots[slot_id]["totalTimeMinutes"] = "abc"
    dataset.touch(slot_id)
    refused = load()
    assert refused.resources["time_slots"].quarantined == 1
    dataset.slots[slot_id]["totalTimeMinutes"] = good
    dataset.touch(slot_id)

    again = load()

    assert again.resources["time_slots"].changed == 0  # the stored row was right
    fetched = dict(query(staging_url, "select id, _fetched_at from raw_batisimply.time_slots"))
    assert fetched.pop(slot_id) == again.fetched_at
    assert set(fetched.values()) == {first.fetched_at}
    seen = "select last_seen_at from raw_batisimply.quarantine where record_id = :i"
    assert query(staging_url, seen, i=slot_id) == [(refused.fetched_at,)]


def test_the_load_says_it_writes_at_its_first_record_to_write(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    """`on_writing()` (the sync starts dbt's worker on it) is called once, as soon as the
    load knows it writes, before it wrote anything; never by a load that writes nothing."""
    ids = sorted(_in_window(dataset), key=int)
    calls: list[object] = []
    minutes = "select total_time_minutes from raw_batisimply.time_slots where id = :i"

    def on_writing() -> None:
        calls.append(query(staging_url, minutes, i=ids[-1]))

    load(on_writing=lambda: calls.append("first"))  # no raw table yet
    assert calls == ["first"]
    before = query(staging_url, minutes, i=ids[-1])
    load(on_writing=on_writing)
    assert len(calls) == 1  # nothing changed upstream: never called
    dataset.change_minutes(ids[-1], 77)
    load(on_writing=on_writing)
    assert calls[1:] == [before]  # called before the change was written
    assert query(staging_url, minutes, i=ids[-1]) == [(77.0,)]


def test_unchanged_slots_of_overlapping_chunks_are_seen_and_the_absent_marked(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    """Four-day chunks: a slot near a border is in two chunks' snapshots (their day of
    slack) and is fetched in one; every unchanged one counts as seen, a slot moved to
    another chunk is changed, and only the slots gone upstream are marked deleted (one
    of them in the last chunk's snapshot alone)."""
    first = load(chunk_days=4)
    slots = _in_window(dataset)
    ids = sorted(slots, key=lambda i: slots[i]["startDate"])
    before_last = chunk_window(window(), 4)[-2]
    assert len(ids) > 20
    assert parse_utc(slots[ids[-1]]["startDate"]) > before_last.end + WINDOW_SLACK
    gone = sorted([ids[3], ids[-1]])
    moved = ids[10]
    for slot_id in gone:
        dataset.delete(slot_id)
    dataset.move_slot(moved, 5 * 24 * 60)  # five days later: another chunk

    report = load(chunk_days=4)

    counts = report.resources["time_slots"]
    in_window = set(_in_window(dataset))
    assert (counts.changed, counts.deleted) == (int(moved in in_window), 2)
    assert counts.unchanged == len(in_window) - counts.changed - counts.new
    deleted = "select id from raw_batisimply.time_slots where _deleted_at is not null order by id"
    assert query(staging_url, deleted) == [(i,) for i in gone]
    stamped = query(
        staging_url,
        "select distinct _fetched_at from raw_batisimply.time_slots where id <> :m",
        m=moved,
    )
    assert stamped == [(first.fetched_at,)]


def test_the_slots_are_indexed_by_generation_once(load: Loader, staging_url: str) -> None:
    """The rows written since a generation are read through an index on `_generation`
    (the transform's changed slots, the limited staging tests), made by the first load
    and kept (dlt makes one on `_dlt_id` only); a dropped one is made again."""
    indexes = (
        "select indexname, indexdef from pg_indexes "
        "where schemaname = 'raw_batisimply' and tablename = 'time_slots' "
        "and indexdef like '%(_generation)'"
    )
    load()
    made = query(staging_url, indexes)
    assert [name for name, _ in made] == ["time_slots__generation"]
    assert made[0][1].endswith("(_generation)")
    load()
    assert query(staging_url, indexes) == made
    engine = sa.create_engine(staging_url)
    with engine.begin() as conn:
        conn.execute(sa.text("drop index raw_batisimply.time_slots__generation"))
    engine.dispose()
    load()
    assert query(staging_url, indexes) == made


def test_deleted_upstream_is_marked_never_dropped_and_comes_back(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    load()
    victim = sorted(_in_window(dataset), key=int)[3]
    record = dataset.delete(victim)
    before_second = datetime.now(UTC)

    report = load()

    assert report.resources["time_slots"].deleted == 1
    assert report.warnings == []
    (deleted_at,) = query(
        staging_url, "select _deleted_at from raw_batisimply.time_slots where id = :i", i=victim
    )[0]
    assert deleted_at is not None and deleted_at >= before_second - timedelta(seconds=1)
    alive = query(
        staging_url, "select count(*) from raw_batisimply.time_slots where _deleted_at is null"
    )[0][0]
    assert alive == len(_in_window(dataset))

    again = load()  # still absent: nothing new to mark, the date stays
    assert again.resources["time_slots"].deleted == 0
    assert (
        query(
            staging_url, "select _deleted_at from raw_batisimply.time_slots where id = :i", i=victim
        )[0][0]
        == deleted_at
    )

    dataset.slots[victim] = record  # it reappears upstream
    dataset.touch(victim)
    back = load()
    assert back.resources["time_slots"].changed == 1
    assert query(
        staging_url, "select _deleted_at from raw_batisimply.time_slots where id = :i", i=victim
    )[0] == (None,)


def test_a_slot_gone_bad_upstream_is_quarantined_not_deleted(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    load()
    slot_id = sorted(_in_window(dataset), key=int)[0]
    dataset.slots[slot_id]["totalTimeMinutes"] = "n/a"
    dataset.touch(slot_id)
    report = load().resources["time_slots"]
    assert (report.deleted, report.quarantined) == (0, 1)
    assert query(
        staging_url, "select _deleted_at from raw_batisimply.time_slots where id = :i", i=slot_id
    )[0] == (None,)


def test_empty_answer_marks_nothing_deleted_and_warns(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    load()
    for slot_id in list(_in_window(dataset)):
        dataset.delete(slot_id)
    report = load()
    assert report.resources["time_slots"].deleted == 0
    assert report.chunks and all(c.guarded for c in report.chunks)
    assert any("holds no slot" in w for w in report.warnings)
    assert query(
        staging_url,
        "select count(*) from raw_batisimply.time_slots where _deleted_at is not null",
    ) == [(0,)]


def test_far_fewer_slots_than_last_time_marks_nothing(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    load(chunk_days=40)  # one chunk
    ids = sorted(_in_window(dataset), key=int)
    for slot_id in ids[: int(len(ids) * 0.6)]:
        dataset.delete(slot_id)
    guarded = load(chunk_days=40, delete_guard_ratio=0.5)
    assert guarded.resources["time_slots"].deleted == 0
    assert guarded.chunks[0].guarded and guarded.chunks[0].live_before == len(ids)
    assert any("fewer than 0.5" in w for w in guarded.warnings)
    # an operator who expects it lowers the threshold: the deletions are then marked
    marked = load(chunk_days=40, delete_guard_ratio=0.3)
    assert marked.resources["time_slots"].deleted == int(len(ids) * 0.6)


def test_deletion_guard_rule() -> None:
    assert deletion_guarded(0, 0, 0.5) == "the answer holds no slot"
    assert deletion_guarded(49, 100, 0.5) is not None
    assert deletion_guarded(50, 100, 0.5) is None
    assert deletion_guarded(3, 0, 0.5) is None


def test_malformed_records_are_quarantined_and_counted(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    bad = {kind: dataset.add_malformed(kind) for kind in MALFORMED_KINDS}
    first = load()
    counts = first.resources["time_slots"]
    assert counts.reasons == dict.fromkeys(MALFORMED_KINDS, 1)
    assert counts.quarantined == len(MALFORMED_KINDS)
    assert counts.new == len(_in_window(dataset))
    rows = query(
        staging_url,
        "select reason, payload, record_id, first_seen_at, last_seen_at "
        "from raw_batisimply.quarantine",
    )
    by_reason = {reason: (json.loads(payload), rid) for reason, payload, rid, _, _ in rows}
    assert {k: v[0] for k, v in by_reason.items()} == bad, "payloads kept exactly"
    assert by_reason["missing_id"][1] is None
    # the duplicate's first occurrence is the one loaded
    duplicate = bad["duplicate_id"]
    original = dataset.slots[str(duplicate["id"])]
    assert query(
        staging_url,
        "select total_time_minutes from raw_batisimply.time_slots where id = :i",
        i=str(duplicate["id"]),
    ) == [(float(original["totalTimeMinutes"]),)]

    second = load()
    assert second.resources["time_slots"].quarantined == len(MALFORMED_KINDS)
    again = query(
        staging_url,
        "select count(*), min(first_seen_at), max(last_seen_at) from raw_batisimply.quarantine",
    )[0]
    assert again[0] == len(MALFORMED_KINDS), "merged on quarantine_key, not appended"
    assert again[1] == first.fetched_at and again[2] == second.fetched_at


def test_chunked_requests_cover_the_window(
    load: Loader, api: FakeBatiSimply, dataset: Dataset, staging_url: str
) -> None:
    report = load(chunk_days=7)
    chunks = chunk_window(window(), 7)
    requested = [r.query for r in api.requests_to(SLOTS_PATH)]
    assert requested == [c.api_params() for c in chunks]
    assert [c.fetched for c in report.chunks] == [
        len(dataset.in_window(c.start, c.end)) for c in chunks
    ]
    count = query(staging_url, "select count(*) from raw_batisimply.time_slots")[0][0]
    assert count == len(_in_window(dataset))
    assert api.bad_date_requests == 0


def test_retries_exhausted_fails_clearly_and_loads_nothing(
    load: Loader, api: FakeBatiSimply, dataset: Dataset, staging_url: str
) -> None:
    load()
    before = raw_state(staging_url)
    ids = sorted(_in_window(dataset), key=int)
    dataset.change_minutes(ids[0], 5)
    dataset.delete(ids[1])
    dataset.add_malformed("bad_minutes")
    # the first chunk answers, then the API fails on every attempt: a half-fetched window
    api.clear_requests()
    report_progress: list[int] = []

    def fail_from_now_on(fetched: int, detail: str) -> None:
        report_progress.append(fetched)
        api.fail_always(502)

    with pytest.raises(LoadError) as caught:
        load(chunk_days=15, progress=fail_from_now_on)
    message = str(caught.value)
    assert "GET /api/timeSlotManagement/allUsers: HTTP 502 after 3 attempts" in message
    assert api.client_secret not in message and api.password not in message
    assert raw_state(staging_url) == before, "nothing half-loaded"
    statuses = [r.status for r in api.requests_to(SLOTS_PATH)]
    assert statuses == [200] + [502] * FAST_RETRY.max_attempts
    assert report_progress and report_progress[0] > 0

    api.clear_faults()
    after = load(chunk_days=15)  # the next run converges, no stale package replayed
    assert after.resources["time_slots"].changed == 1
    assert after.resources["time_slots"].deleted == 1
    assert after.resources["time_slots"].quarantined == 1


def test_failing_batigest_stops_before_any_load(
    load: Loader, staging_url: str, new_database
) -> None:
    missing_standin = new_database("nobatigest")  # no dbo.Salarie there
    with pytest.raises(LoadError, match=r"reading dbo\.Salarie from Batigest failed: \w+"):
        load(batigest_url=missing_standin)
    assert raw_state(staging_url) == {}


def test_empty_projects_answer_keeps_the_projects(
    load: Loader, dataset: Dataset, staging_url: str
) -> None:
    load()
    kept = query(staging_url, "select id, project_code from raw_batisimply.projects order by id")
    dataset.project_records.clear()
    report = load()
    assert report.resources["projects"].refreshed is False
    assert any("projects answer holds no usable project" in w for w in report.warnings)
    assert (
        query(staging_url, "select id, project_code from raw_batisimply.projects order by id")
        == kept
    )


def test_pipelines_dir_is_where_we_say(load: Loader, tmp_path: Path) -> None:
    workdir = tmp_path / "elsewhere"
    load(pipelines_dir=workdir)
    assert (workdir / "batisync_batisimply").is_dir()


def test_an_empty_window_still_creates_the_tables(
    api: FakeBatiSimply, staging_url: str, tmp_path: Path
) -> None:
    from batisync.loader.window import days_window

    future = days_window(TODAY + timedelta(days=400), TODAY + timedelta(days=401))
    report = run_load(
        staging_url=staging_url,
        credentials=credentials_for(api),
        window=future,
        pipelines_dir=tmp_path,
        retry=FAST_RETRY,
    )
    assert report.resources["time_slots"].fetched == 0
    assert query(staging_url, "select count(*) from raw_batisimply.time_slots") == [(0,)]
    assert query(staging_url, "select count(*) from raw_batisimply.quarantine") == [(0,)]


def test_a_no_change_fetch_marks_nothing_with_slots_in_the_slack(
    load: Loader, dataset: Dataset, staging_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot loaded before that now starts in the day of slack before the window is in
    the snapshot (a record may start there) but is not asked for: no record has it, and
    it is neither marked deleted nor the cause of a mark statement (a scan of the raw
    slots, the history's included, on every run)."""
    from batisync.loader import deletions

    slot = next(iter(dataset.slots.values()))
    earlier = window().start - timedelta(hours=12)
    in_slack = dataset.add_slot(slot["user"]["id"], slot["project"]["id"], earlier, 60)
    load(window=window(WINDOW_DAYS + 2))  # the wider window loads it
    statements: list[str] = []
    per_chunk = deletions._per_chunk
    monkeypatch.setattr(
        deletions,
        "_per_chunk",
        lambda conn, statement, *args, **kw: (
            statements.append(statement) or per_chunk(conn, statement, *args, **kw)
        ),
    )

    report = load()

    assert statements == [deletions._CONFIRM_DELETED]  # no mark statement
    assert report.resources["time_slots"].deleted == 0
    alive = "select _deleted_at from raw_batisimply.time_slots where id = :i"
    assert query(staging_url, alive, i=in_slack) == [(None,)]
