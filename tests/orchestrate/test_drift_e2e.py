"""Issue 17: drift is healed by the sync itself, and never against a person.

`python -m batisync sync` on the local stack (fake API → staging → dbt → Batigest
stand-in). After each sync SuiviMO is compared row by row — every slot's key and its
NbH0/NbH3/NbH4 — with what the dataset's slots say it must hold (an oracle that reads
neither staging nor the map), plus the rows people made by hand that must stay."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from batisync.loader.window import utc_today
from devstack.batigest import seed_salaries
from devstack.fake_batisimply import Dataset, FakeBatiSimply
from devstack.sync_env import sync_env
from devstack.verify import healthy_keys
from tests.export.helpers import insert_suivimo
from tests.orchestrate.helpers import Receiver, conninfo_of

pytestmark = pytest.mark.slow

WINDOW_DAYS = 30
Row = tuple[str, str, datetime, Decimal, int, int]


@pytest.fixture
def batigest(api: FakeBatiSimply, batigest_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(batigest_url)
    seed_salaries(engine, [(r["Code"], r["Nom"], r["codebs"]) for r in api.dataset.salarie_rows()])
    yield engine
    engine.dispose()


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batisync", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _sync(env: dict[str, str], cwd: Path, *args: str) -> tuple[dict[str, Any], str]:
    """One sync; it must exit 0 whatever the drift. (JSON summary, stderr)."""
    result = _run(["sync", "--json", *args], env, cwd)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(result.stdout), result.stderr


def _hours(minutes: Any) -> Decimal:
    return (Decimal(str(minutes)) / 60).quantize(Decimal("0.000001"), ROUND_HALF_UP)


def expected_rows(dataset: Dataset) -> dict[str, Row]:
    """id → the SuiviMO row each healthy slot must have (key from `devstack.verify`)."""
    keys = healthy_keys(dataset, utc_today(), WINDOW_DAYS)
    rows = {}
    for i, key in keys.items():
        slot = dataset.slots[i]
        flags = (int(bool(slot["hasHomeToWorkJourney"])), int(bool(slot["hasPackedLunch"])))
        rows[i] = (*key, _hours(slot["totalTimeMinutes"]), *flags)
    return rows


def suivimo(engine: sa.Engine) -> list[Row]:
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            'select "CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4" '
            'from dbo."SuiviMO"'
        ).all()
    return sorted((r[0], r[1], r[2], r[3], int(r[4]), int(r[5])) for r in found)


def by_hand(engine: sa.Engine, sql: str, key: tuple, **values: Any) -> None:
    """A person's statement on the row at `key`."""
    where = '"CodeChantier" = :cc and "CodeSalarie" = :cs and "Date" = :d'
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"{sql} where {where}"), {"cc": key[0], "cs": key[1], "d": key[2], **values}
        )


def spread(rows: dict[str, Row], n: int) -> list[str]:
    """`n` slots on distinct (employee, day) pairs, each before 18:00 local."""
    picked: list[str] = []
    days: set[tuple] = set()
    for i, r in sorted(rows.items()):
        if (r[1], r[2].date()) not in days and r[2].hour < 18:
            picked.append(i)
            days.add((r[1], r[2].date()))
    assert len(picked) >= n, "the dataset has too few slots for this scenario"
    return picked[:n]


def drift_counts(summary: dict[str, Any]) -> tuple:
    d = summary["drift"]
    return d["restored_kinds"], d["reported_kinds"], d["new"]


def test_the_sync_restores_rows_deleted_or_edited_by_hand_and_never_fights_a_person(
    api: FakeBatiSimply,
    batigest: sa.Engine,
    receiver: Receiver,
    staging_url: str,
    batigest_url: str,
    tmp_path: Path,
) -> None:
    env = sync_env(staging_url, batigest_url, tmp_path, api=api, window_days=WINDOW_DAYS)
    env["ALERT_WEBHOOK_URL"] = receiver.url
    first, _ = _sync(env, tmp_path)
    expected = expected_rows(api.dataset)
    assert suivimo(batigest) == sorted(expected.values())
    alerts = len(receiver.bodies)

    # by hand: a row deleted, NbH0 edited, NbH3 edited
    a, b, c, h = spread(expected, 4)
    by_hand(batigest, 'delete from dbo."SuiviMO"', expected[a][:3])
    by_hand(batigest, 'update dbo."SuiviMO" set "NbH0" = 9.5', expected[b][:3])
    by_hand(batigest, 'update dbo."SuiviMO" set "NbH3" = 1 - "NbH3"', expected[c][:3])

    # the next sync restores them, though nothing changed upstream (the no-change skip)
    healed, log = _sync(env, tmp_path)
    assert suivimo(batigest) == sorted(expected.values())
    assert healed["skipped_because"] and healed["suivimo"] == {}
    assert healed["drift"]["checked"] == len(expected) == first["drift"]["checked"]
    assert drift_counts(healed) == ({"missing": 1, "changed": 2}, {}, 3)
    assert f"drift missing {a} at" in log and "-> restored" in log
    assert "3 new SuiviMO drift finding(s)" in receiver.bodies[-1]["alert_reasons"][-1]
    alerts = len(receiver.bodies)

    # deleted again after being restored: contested, left alone, alerted once
    by_hand(batigest, 'delete from dbo."SuiviMO"', expected[a][:3])
    without_a = sorted(r for i, r in expected.items() if i != a)
    contested, log = _sync(env, tmp_path)
    assert suivimo(batigest) == without_a
    assert drift_counts(contested) == ({}, {"contested": 1}, 1)
    assert f"drift contested {a}" in log and "left alone until its slot changes" in log
    assert "1 new SuiviMO drift finding(s) (contested 1)" in str(receiver.bodies[-1])
    alerts = len(receiver.bodies)
    again, log = _sync(env, tmp_path)
    assert suivimo(batigest) == without_a
    assert drift_counts(again) == ({}, {"contested": 1}, 0)
    # nothing written to staging since the last run (its memory holds the same slots)
    assert "drift: staging unchanged since the last run" in log
    assert len(receiver.bodies) == alerts  # the same contested row: no alert every run

    # its slot changes upstream: written again by the export, the contest forgotten
    api.dataset.change_minutes(a, int(api.dataset.slots[a]["totalTimeMinutes"]) + 30)
    changed, _ = _sync(env, tmp_path)
    expected = expected_rows(api.dataset)
    assert suivimo(batigest) == sorted(expected.values())
    assert changed["skipped_because"] is None and changed["suivimo"]["inserted"] == 1
    assert drift_counts(changed) == ({}, {}, 0)

    # a dry run and HEURES_ON_DRIFT=report only report (the dry run alerts nobody)
    by_hand(batigest, 'delete from dbo."SuiviMO"', expected[h][:3])
    deleted = sorted(r for i, r in expected.items() if i != h)
    dry, _ = _sync(env, tmp_path, "--dry-run")
    assert suivimo(batigest) == deleted
    assert drift_counts(dry) == ({}, {"missing": 1}, 1) and len(receiver.bodies) == alerts
    reported, log = _sync({**env, "HEURES_ON_DRIFT": "report"}, tmp_path)
    assert suivimo(batigest) == deleted
    assert drift_counts(reported) == ({}, {"missing": 1}, 1)
    assert f"drift missing {h} at" in log and "HEURES_ON_DRIFT=report" in log
    assert len(receiver.bodies) == alerts + 1
    restored, _ = _sync(env, tmp_path)
    assert suivimo(batigest) == sorted(expected.values())
    assert drift_counts(restored) == ({"missing": 1}, {}, 0)  # reported before: not new

    with psycopg.connect(**conninfo_of(staging_url)) as conn:
        counted = conn.execute(
            "select dry_run, drift_restored, drift_reported, drift_new from sync_runs "
            "where command = 'sync' order by started_at"
        ).fetchall()
    assert counted == [
        (False, 0, 0, 0),
        (False, 3, 0, 3),
        (False, 0, 1, 1),
        (False, 0, 1, 0),
        (False, 0, 0, 0),
        (True, 0, 1, 1),
        (False, 0, 1, 1),
        (False, 1, 0, 0),
    ]
    history = _run(["runs", "--limit", "4"], env, tmp_path)
    assert "SuiviMO drift: checked" in history.stdout
    assert "restored 1 (missing 1); reported 0; 0 new" in history.stdout


def test_a_move_by_hand_and_a_doubled_key_are_reported_and_never_written(
    api: FakeBatiSimply, batigest: sa.Engine, staging_url: str, batigest_url: str, tmp_path: Path
) -> None:
    env = sync_env(staging_url, batigest_url, tmp_path, api=api, window_days=WINDOW_DAYS)
    _sync(env, tmp_path)
    expected = expected_rows(api.dataset)
    assert suivimo(batigest) == sorted(expected.values())
    d, e, g = spread(expected, 3)

    # d's row moved by hand three hours later the same day; a copy of e's row at its key
    moved = (*expected[d][:2], expected[d][2] + timedelta(hours=3), *expected[d][3:])
    assert moved[:3] not in {r[:3] for r in expected.values()}
    by_hand(batigest, 'update dbo."SuiviMO" set "Date" = :to', expected[d][:3], to=moved[2])
    insert_suivimo(batigest, [expected[e]], libelle="copie")
    # two rows nobody mapped, where g is about to move
    g_to = (*expected[g][:2], expected[g][2] + timedelta(hours=2))
    assert g_to not in {r[:3] for r in expected.values()}
    foreign = [(*g_to, Decimal("2.000000"), 0, 0), (*g_to, Decimal("3.000000"), 0, 0)]
    insert_suivimo(batigest, foreign, libelle="saisie")
    by_hand_state = sorted(
        [r for i, r in expected.items() if i != d] + [moved, expected[e], *foreign]
    )
    assert suivimo(batigest) == by_hand_state

    reported, log = _sync(env, tmp_path)
    assert drift_counts(reported) == ({}, {"moved_by_hand": 1, "duplicated": 1}, 2)
    assert suivimo(batigest) == by_hand_state  # nothing inserted, nothing collapsed
    assert f"drift moved_by_hand {d}" in log and "nothing inserted" in log
    text = _run(["sync"], env, tmp_path).stdout  # the text summary: a line per kind
    assert "reported moved_by_hand 1 (0 new): rows missing at their key" in text
    assert "reported duplicated 1 (0 new): keys holding several rows" in text

    # e moves away from its doubled key, g onto a doubled key: the export rejects both
    api.dataset.move_slot(e, 60)
    api.dataset.move_slot(g, 120)
    rejected, log = _sync(env, tmp_path)
    assert rejected["suivimo"]["rejected_reasons"].get("duplicate_key") == 2
    assert rejected["suivimo"]["moved"] == 0
    assert f"rejected {e}: duplicate_key: its mapped key" in log
    assert f"rejected {g}: duplicate_key: its key" in log and "holds 2 SuiviMO rows" in log
    assert suivimo(batigest) == by_hand_state  # e and g stay where they were
    # d still reported, no longer new; e and g wait in to_push, so they are not compared
    assert drift_counts(rejected) == ({}, {"moved_by_hand": 1}, 0)
