"""The drift stage skips employees whose two sides did not change since their last clean
check (issue 19): its report, its heals and its memory must be those of a full check.

Two copies of one world go through the same random rounds of hand edits to SuiviMO and
upstream changes (exported as the sync would); after each round copy A runs the check
with its cache, copy B a full check (`full=True`), and everything they say and leave
behind is compared."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batisync.export import run_export
from batisync.export.drift_digest import DIGEST_TABLE, batigest_digests
from batisync.export.drift_staging import STAGING_TABLE
from batisync.export.heal import check_drift
from batisync.export.model import identity_key, sqlserver_key
from batisync.export.options import ExportOptions
from devstack.batigest import create_standin
from tests.export.helpers import drift_memory, push, suivimo, write_marts, write_synced

NOW = datetime(2026, 3, 3, 6, tzinfo=UTC)
EMPLOYEES = ["S1", "S2", "S3"]
HOURS = [7, 8, 9]
ORDER = '"CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4", "Libelle"'


def K(cs: str, hour: int, day: int = 2, cc: str = "CH1") -> tuple[str, str, datetime]:
    return (cc, cs, datetime(2026, 3, day, hour))


# every employee: three slots on 2 March, one on 3 March
SLOTS = {
    f"{cs}-{day}-{hour}": K(cs, hour, day)
    for cs in EMPLOYEES
    for day, hour in ((2, 7), (2, 8), (2, 9), (3, 8))
}


def sql(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def nth(i: int) -> str:
    """The ctid of SuiviMO's i-th row (modulo its size), in an order both copies share."""
    return (
        f'(select ctid from dbo."SuiviMO" order by {ORDER} '
        f'offset mod({i}, greatest(1, (select count(*) from dbo."SuiviMO"))) limit 1)'
    )


def by_hand(batigest: sa.Engine, op: tuple[Any, ...]) -> None:
    kind, i = op[0], op[1]
    copy = (
        'insert into dbo."SuiviMO" ("CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", '
        '"NbH4", "Libelle") select {} from dbo."SuiviMO" where ctid = ' + nth(i)
    )
    statements = {
        "delete": [f'delete from dbo."SuiviMO" where ctid = {nth(i)}'],
        "hours": [f'update dbo."SuiviMO" set "NbH0" = "NbH0" + 1 where ctid = {nth(i)}'],
        "lunch": [f'update dbo."SuiviMO" set "NbH4" = 1 - "NbH4" where ctid = {nth(i)}'],
        "null": [f'update dbo."SuiviMO" set "NbH3" = null where ctid = {nth(i)}'],
        "date": [
            f'update dbo."SuiviMO" set "Date" = "Date" + interval \'1 hour\' where ctid = {nth(i)}'
        ],
        "chantier": [f'update dbo."SuiviMO" set "CodeChantier" = \'CH2\' where ctid = {nth(i)}'],
        "duplicate": [copy.format(ORDER)],
        "twice": [copy.format(ORDER)] * 2,
        "twin": [copy.format(ORDER.replace('"CodeSalarie"', 'lower("CodeSalarie")'))],
        "libelle": [f'update dbo."SuiviMO" set "Libelle" = \'by hand\' where ctid = {nth(i)}'],
    }
    sql(batigest, *statements[kind])


def upstream(staging: sa.Engine, batigest: sa.Engine, op: tuple[Any, ...], world: dict) -> None:
    """A slot changed upstream and exported as the sync does; or one leaving heures_synced
    (rejected, unresolved: still mapped). `world`: id → (key, minutes), and "gone"."""
    kind, i = op[0], op[1]
    ids = sorted(i for i in world if i != "gone")
    id_heure = ids[i % len(ids)]
    key, minutes = world[id_heure]
    rows = []
    if kind == "values":
        world[id_heure] = (key, minutes + 15)
        rows = [push(id_heure, *key, minutes + 15, old=key, change_type="values_changed")]
    elif kind == "move":
        new = (key[0], key[1], key[2].replace(hour=10 + (key[2].hour + 1) % 12))
        world[id_heure] = (new, minutes)
        rows = [push(id_heure, *new, minutes, old=key)]
    else:
        world["gone"].add(id_heure)
    write_marts(staging, rows)
    run_export(staging, batigest)
    write_synced(staging)
    if world["gone"]:
        listed = ", ".join(f"'{g}'" for g in sorted(world["gone"]))
        sql(staging, f"delete from heures_synced where id_heure in ({listed})")


def rewrite(staging: sa.Engine, op: tuple[Any, ...]) -> None:
    """Staging writes that change nothing a check decides, but what its staging side
    reads: a map row updated to its own values, heures_synced rebuilt as dbt would, an
    old map row (history, outside the window) added."""
    if op[0] == "touch":
        ids = f"(select id_heure from batigest_heures_map order by id_heure offset {op[1]} limit 1)"
        sql(staging, f"update batigest_heures_map set nb_h0 = nb_h0 where id_heure = {ids}")
    elif op[0] == "rebuild":
        sql(staging, "create table rebuilt as select * from heures_synced")
        sql(staging, "drop table heures_synced", "alter table rebuilt rename to heures_synced")
    else:
        sql(
            staging,
            "insert into batigest_heures_map (id_heure, code_chantier, code_salarie, "
            "date_sqlserver) select 'old-' || count(*), 'CH1', "
            f"'{EMPLOYEES[op[1] % len(EMPLOYEES)]}', '2026-01-05 08:00' from batigest_heures_map",
        )


def outcome(report, staging: sa.Engine, batigest: sa.Engine) -> tuple[Any, ...]:
    return (
        report.checked,
        report.findings,
        report.counts(),
        report.summary_line(),
        suivimo(batigest),
        drift_memory(staging),
    )


def reset(staging: sa.Engine, batigest: sa.Engine) -> dict:
    sql(
        staging,
        "drop table if exists batigest_heures_map, to_push, heures_gone, heures_synced, "
        f"batigest_heures_drift, {DIGEST_TABLE}, {STAGING_TABLE} cascade",
    )
    sql(batigest, 'truncate dbo."SuiviMO"')
    write_marts(staging, [push(i, *k) for i, k in SLOTS.items()])
    run_export(staging, batigest)
    write_synced(staging)
    return {"gone": set(), **{i: (k, 60) for i, k in SLOTS.items()}}


REWRITES = ["touch", "rebuild", "history"]
HAND = ["delete", "hours", "lunch", "null", "date", "chantier", "duplicate", "twice", "twin"]
operations = st.one_of(
    st.tuples(st.sampled_from([*HAND, "libelle"]), st.integers(0, 40)),
    st.tuples(st.sampled_from(["values", "move", "unsynced"]), st.integers(0, 40)),
    st.tuples(st.sampled_from(REWRITES), st.integers(0, 11)),
    st.tuples(st.just("check"), st.sampled_from(["repair", "report", "dry"])),
)


@pytest.fixture
def copies(new_database: Callable[[str], str]):
    engines = [sa.create_engine(new_database(name)) for name in ("sa", "ba", "sb", "bb")]
    for batigest in engines[1::2]:
        create_standin(batigest.url.render_as_string(hide_password=False)).dispose()
    yield (engines[0], engines[1]), (engines[2], engines[3])
    for engine in engines:
        engine.dispose()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=4, max_size=16))
def test_the_cached_check_says_and_heals_what_a_full_check_does(copies, ops) -> None:
    worlds = [reset(*pair) for pair in copies]
    for op in [("check", "repair"), ("check", "repair"), *ops, ("check", "repair")]:
        if op[0] != "check":
            for (staging, batigest), world in zip(copies, worlds, strict=True):
                if op[0] in HAND or op[0] == "libelle":
                    by_hand(batigest, op)
                elif op[0] in REWRITES:
                    rewrite(staging, op)
                else:
                    upstream(staging, batigest, op, world)
            continue
        options = ExportOptions(on_drift="report" if op[1] == "report" else "repair")
        seen = []
        for (staging, batigest), full in zip(copies, (False, True), strict=True):
            report = check_drift(
                staging,
                batigest,
                options,
                dry_run=op[1] == "dry",
                run_id="r",
                now=lambda: NOW,
                full=full,
            )
            seen.append(outcome(report, staging, batigest))
        assert seen[0] == seen[1]


def suivimo_reads(batigest: sa.Engine) -> list[str]:
    """The drift stage's reads of SuiviMO on `batigest`: the digest (`count(*)`) and the
    rows of a group of employees (`read_around`); not a heal's locked re-read."""
    read: list[str] = []

    @sa.event.listens_for(batigest, "before_cursor_execute")
    def spy(conn, cursor, statement, parameters, context, executemany) -> None:
        if '"SuiviMO"' in statement and (
            "count(*)" in statement or '"CodeSalarie" in (' in statement
        ):
            read.append(statement)

    return read


def test_a_second_run_reads_no_suivimo_row_of_unchanged_employees(copies) -> None:
    (staging, batigest), _ = copies
    reset(staging, batigest)
    first = check_drift(staging, batigest, run_id="r1")
    read = suivimo_reads(batigest)
    again = check_drift(staging, batigest, run_id="r2")
    assert (again.checked, again.findings) == (first.checked, []) == (12, [])
    assert [s for s in read if "count(*)" not in s] == []  # only the digest was read
    assert len(read) == 1

    sql(batigest, f'update dbo."SuiviMO" set "NbH0" = 9 where ctid = {nth(0)}')
    read.clear()
    changed = check_drift(staging, batigest, run_id="r3")
    assert [f.kind for f in changed.findings] == ["changed"]
    rows = [s for s in read if "count(*)" not in s]
    assert len(rows) == 1 and "'S1'" in rows[0] and "'S2'" not in rows[0]


def test_a_full_check_and_a_dry_run_read_every_employee_and_a_dry_run_records_nothing(
    copies,
) -> None:
    (staging, batigest), _ = copies
    reset(staging, batigest)
    check_drift(staging, batigest, run_id="r1", dry_run=True)
    with staging.connect() as conn:
        assert not sa.inspect(conn).has_table(DIGEST_TABLE)
        assert not sa.inspect(conn).has_table(STAGING_TABLE)
    check_drift(staging, batigest, run_id="r2")
    with staging.connect() as conn:
        recorded = conn.exec_driver_sql(f"select employee from {DIGEST_TABLE}").scalars().all()
    assert sorted(recorded) == EMPLOYEES
    read = suivimo_reads(batigest)
    check_drift(staging, batigest, run_id="r3", dry_run=True)  # reads the cache, writes none
    assert len(read) == 1
    read.clear()
    full = check_drift(staging, batigest, run_id="r4", full=True)
    assert full.checked == 12
    assert len([s for s in read if "count(*)" not in s]) == 1  # every employee's rows


def test_codes_the_collation_takes_for_one_employee_share_one_digest(copies) -> None:
    """On SQL Server 's1' and 'S1 ' are S1: their SuiviMO rows fold into S1's digest."""
    (staging, batigest), _ = copies
    reset(staging, batigest)
    statements = ExportOptions().statements("postgresql")
    window = (datetime(2026, 3, 2), datetime(2026, 3, 4))
    with batigest.connect() as conn:
        before = batigest_digests(conn, statements, window, sqlserver_key)
    by_hand(batigest, ("twin", 0))  # a copy of S1's first row, as 's1'
    with batigest.connect() as conn:
        after = batigest_digests(conn, statements, window, sqlserver_key)
        exact = batigest_digests(conn, statements, window, identity_key)
    assert sorted(after) == EMPLOYEES
    assert after["S1"] != before["S1"] and after["S2"] == before["S2"]
    assert exact["S1"] == before["S1"] and "s1" in exact  # a code of its own, exactly


def test_under_an_accent_insensitive_collation_every_employee_is_compared(copies) -> None:
    (staging, batigest), _ = copies
    reset(staging, batigest)
    options = ExportOptions(accent_insensitive_keys=True)
    check_drift(staging, batigest, options, run_id="r1")
    read = suivimo_reads(batigest)
    again = check_drift(staging, batigest, options, run_id="r2")
    assert again.checked == 12
    assert len(read) == 1 and "count(*)" not in read[0]  # the rows, no digest


def test_an_employee_whose_row_was_restored_is_skipped_again_once_clean(copies) -> None:
    """Its memory (the restore, kept until the slot changes upstream) is part of its
    digest: the run after the heal compares it, the next one skips it."""
    (staging, batigest), _ = copies
    reset(staging, batigest)
    check_drift(staging, batigest, run_id="r1")
    sql(batigest, f'delete from dbo."SuiviMO" where ctid = {nth(0)}')  # one of S1's rows
    healed = check_drift(staging, batigest, run_id="r2", now=lambda: NOW)
    assert [(f.kind, f.restored) for f in healed.findings] == [("missing", True)]
    read = suivimo_reads(batigest)
    check_drift(staging, batigest, run_id="r3", now=lambda: NOW)  # S1 compared, clean
    assert len(read) == 2 and "'S1'" in read[1] and "'S2'" not in read[1]
    read.clear()
    again = check_drift(staging, batigest, run_id="r4", now=lambda: NOW)
    assert (again.checked, again.findings, len(read)) == (12, [], 1)
    with staging.connect() as conn:
        kept = conn.exec_driver_sql("select restored_kind from batigest_heures_drift").all()
    assert kept == [("missing",)]  # the skip rewrote the memory as a full check would
