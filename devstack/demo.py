"""`make demo`: the whole sync on a local stack, twice, with realistic changes between.

The stack lives in the repository: the project's own PostgreSQL (`.pg/`, see
devstack/pg.py) holds the staging database and a Batigest stand-in database; a fake
BatiSimply API serves generated data (30 employees over 180 days by default). The
settings are given as environment variables and the run goes through exactly what
`make sync` runs (`batisync.orchestrate.sync.sync_from_settings`).

Between the two syncs, in BatiSimply: a slot is moved from 09:00 to 10:00, another
changes project, a third is un-validated, a new one is entered. The demo then shows
where those rows went in SuiviMO and checks that no key holds two rows. Exit 0 only
when both syncs succeed and those checks hold.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from batisync.core.logs import ProgressDisplay, setup_logging
from batisync.core.settings import load_settings
from batisync.orchestrate.summary import RunSummary
from batisync.orchestrate.summary_text import render_text
from batisync.orchestrate.sync import sync_from_settings
from devstack.batigest import create_standin, seed_salaries
from devstack.fake_batisimply import Dataset, FakeBatiSimply, format_utc, generate, parse_utc
from devstack.pg import SUPERUSER, EmbeddedPostgres
from devstack.sync_env import sync_env

STAGING_DB = "batisync_demo"
BATIGEST_DB = "batigest_demo"
TIMEZONE = "Europe/Paris"
log = logging.getLogger("devstack.demo")

Key = tuple[str, str, datetime]


@dataclass
class Change:
    slot_id: str
    kind: str  # moved | project_changed | unvalidated | new
    said: str  # what happened in BatiSimply, for people
    key_before: Key | None = None
    key_after: Key | None = None
    rows_at_old_key: int | None = None
    rows_at_new_key: int | None = None


@dataclass
class DemoResult:
    first: RunSummary
    second: RunSummary | None = None
    changes: list[Change] = field(default_factory=list)
    suivimo_rows: int = 0
    mapped_slots: int = 0
    duplicate_keys: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first.to_dict(),
            "second": self.second.to_dict() if self.second else None,
            "changes": [
                {
                    "slot_id": c.slot_id,
                    "kind": c.kind,
                    "key_before": _key_text(c.key_before),
                    "key_after": _key_text(c.key_after),
                    "rows_at_old_key": c.rows_at_old_key,
                    "rows_at_new_key": c.rows_at_new_key,
                }
                for c in self.changes
            ],
            "suivimo_rows": self.suivimo_rows,
            "mapped_slots": self.mapped_slots,
            "duplicate_keys": self.duplicate_keys,
            "problems": self.problems,
        }


# -- the data --------------------------------------------------------------------------


def _utc(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), ZoneInfo(TIMEZONE)).astimezone(UTC)


def _pushable(dataset: Dataset, slot: dict[str, Any]) -> bool:
    employee = dataset.employee(slot.get("user", {}).get("id", ""))
    project = dataset.project(slot.get("project", {}).get("id", -1))
    return bool(
        slot.get("managementStatus") == "VALIDATED"
        and employee is not None
        and employee.code is not None
        and project is not None
        and project.code is not None
        and str(slot["id"]) not in dataset.dst_slot_ids
    )


def _recent_pushable(dataset: Dataset, today: date) -> list[dict[str, Any]]:
    """Pushable slots of the last four weeks, newest first (their rows are easy to find)."""
    since = today - timedelta(days=28)
    slots = [
        s
        for s in dataset.slots.values()
        if _pushable(dataset, s) and (parse_utc(s["startDate"]) or datetime.min).date() >= since
    ]
    return sorted(slots, key=lambda s: s["startDate"], reverse=True)


def plan_meeting(dataset: Dataset, today: date) -> str:
    """Before the first sync: one morning slot becomes 09:00-12:00 local (moved later)."""
    last_week = [s for s in _recent_pushable(dataset, today) if (today - _start_day(s)).days >= 3]
    slot = next(s for s in last_week if _local(s["startDate"]).hour < 12)
    day = _local(slot["startDate"]).date()
    start, end = _utc(day, 9, 0, 23), _utc(day, 12, 0, 41)
    slot.update(
        startDate=format_utc(start),
        endDate=format_utc(end),
        totalTimeMinutes=round((end - start).total_seconds() / 60),
    )
    dataset.touch(slot["id"])
    return str(slot["id"])


def _local(utc_text: str) -> datetime:
    moment = parse_utc(utc_text)
    assert moment is not None
    return moment.astimezone(ZoneInfo(TIMEZONE))


def _start_day(slot: dict[str, Any]) -> date:
    return _local(slot["startDate"]).date()


def apply_changes(dataset: Dataset, meeting_id: str, today: date) -> list[Change]:
    """The four changes people make in BatiSimply between two syncs."""
    changes = []
    meeting = dataset.move_slot(meeting_id, 60)
    changes.append(
        Change(
            meeting_id,
            "moved",
            f"moved from 09:00 to {_local(meeting['startDate']):%H:%M} "
            f"on {_start_day(meeting):%Y-%m-%d}",
        )
    )
    others = [s for s in _recent_pushable(dataset, today) if str(s["id"]) != meeting_id]
    switched = others[0]
    current = switched["project"]["id"]
    target = next(p for p in dataset.projects if p.code is not None and p.id != current)
    old_code = dataset.project(current).code  # type: ignore[union-attr]
    dataset.change_project(switched["id"], target.id)
    changes.append(
        Change(str(switched["id"]), "project_changed", f"project {old_code} → {target.code}")
    )
    unvalidated = others[1]
    dataset.unvalidate(unvalidated["id"])
    changes.append(Change(str(unvalidated["id"]), "unvalidated", "un-validated (TO_VALIDATE)"))
    employee = next(e for e in dataset.employees if e.code is not None)
    saturday = today - timedelta(days=(today.weekday() - 5) % 7 or 7)
    new_id = dataset.add_slot(
        employee.id, target.id, _utc(saturday, 8, 0, 12), 240, packed_lunch=True
    )
    changes.append(
        Change(new_id, "new", f"new: Saturday {saturday:%Y-%m-%d} 08:00, 4 h on {target.code}")
    )
    return changes


# -- what the databases say -------------------------------------------------------------------


def read_map(staging: sa.Engine) -> dict[str, Key]:
    with staging.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select id_heure, code_chantier, code_salarie, date_sqlserver "
                "from public.batigest_heures_map"
            )
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def suivimo_counts(batigest: sa.Engine) -> dict[Key, int]:
    with batigest.connect() as conn:
        rows = conn.execute(
            sa.text(
                'select "CodeChantier", "CodeSalarie", "Date", count(*) from dbo."SuiviMO" '
                'group by "CodeChantier", "CodeSalarie", "Date"'
            )
        )
        return {(r[0], r[1], r[2]): r[3] for r in rows}


def check(result: DemoResult, before: dict[str, Key], staging: sa.Engine, batigest: sa.Engine):
    """Where each changed slot's row went, and the invariants a newcomer should see."""
    after = read_map(staging)
    rows = suivimo_counts(batigest)
    result.suivimo_rows = sum(rows.values())
    result.mapped_slots = len(after)
    result.duplicate_keys = sum(1 for n in rows.values() if n > 1)
    for change in result.changes:
        change.key_before, change.key_after = before.get(change.slot_id), after.get(change.slot_id)
        if change.key_before:
            change.rows_at_old_key = rows.get(change.key_before, 0)
        if change.key_after:
            change.rows_at_new_key = rows.get(change.key_after, 0)
        moved = change.kind in {"moved", "project_changed"}
        if moved and (change.key_after == change.key_before or change.rows_at_old_key):
            result.problems.append(f"slot {change.slot_id}: its row did not move")
        if change.kind in {"moved", "project_changed", "new"} and change.rows_at_new_key != 1:
            result.problems.append(f"slot {change.slot_id}: {change.rows_at_new_key} rows")
    if result.duplicate_keys:
        result.problems.append(f"{result.duplicate_keys} SuiviMO keys hold more than one row")
    if result.suivimo_rows != result.mapped_slots:
        result.problems.append(
            f"SuiviMO holds {result.suivimo_rows} rows for {result.mapped_slots} mapped slots"
        )
    counts = result.second.to_dict()["suivimo"] if result.second else {}
    if counts.get("moved", 0) < 2 or counts.get("inserted", 0) < 1:
        result.problems.append(f"the second sync did not move 2 rows and insert 1: {counts}")


# -- printing ------------------------------------------------------------------------------


def _key_text(key: Key | None) -> str | None:
    return f"({key[0]}, {key[1]}, {key[2]:%Y-%m-%d %H:%M})" if key else None


def describe_changes(result: DemoResult) -> str:
    lines = ["What the second sync did in SuiviMO (key = CodeChantier, CodeSalarie, Date):"]
    for c in result.changes:
        if c.kind in {"moved", "project_changed"}:
            lines.append(
                f"  slot {c.slot_id:<6} moved     {_key_text(c.key_before)} → "
                f"{_key_text(c.key_after)}: {c.rows_at_old_key} row at the old key, "
                f"{c.rows_at_new_key} at the new one"
            )
        elif c.kind == "unvalidated":
            lines.append(
                f"  slot {c.slot_id:<6} kept      {_key_text(c.key_after)}: listed in "
                "heures_gone; HEURES_ON_GONE=keep leaves the row (delete would retract it)"
            )
        else:
            lines.append(f"  slot {c.slot_id:<6} inserted  {_key_text(c.key_after)}")
    lines.append(
        f"SuiviMO holds {result.suivimo_rows} rows for {result.mapped_slots} mapped slots; "
        f"keys held by more than one row: {result.duplicate_keys}"
        + (" (no duplicate)" if not result.duplicate_keys else "")
    )
    return "\n".join(lines)


def look_inside(cluster: EmbeddedPostgres, kept: bool) -> str:
    if not kept:
        return "(the throwaway PostgreSQL of this demo has been removed)"
    psql = f"psql -h 127.0.0.1 -p {cluster.port} -U {SUPERUSER}"
    return "\n".join(
        [
            "Look inside (the demo's PostgreSQL keeps running; `make pg-stop` stops it):",
            f"  {psql} {STAGING_DB}     # staging",
            "    select * from sync_runs order by started_at desc;  -- run history",
            "    select * from to_push;          -- what the next export writes (empty now)",
            "    select * from batigest_heures where not sync;      -- the seed's view",
            "    select * from heures_rejected;  -- slots not pushed, with the reason",
            "    select * from heures_gone;      -- pushed, then deleted or un-validated",
            "    select * from batigest_heures_map order by pushed_at desc limit 20;",
            f"  {psql} {BATIGEST_DB}     # the Batigest stand-in",
            '    select * from dbo."SuiviMO" order by "Date" desc limit 20;',
            f"  PGHOST=127.0.0.1 PGPORT={cluster.port} PGUSER={SUPERUSER} "
            f"PGDATABASE={STAGING_DB} make docs   # dbt's site: every model and column",
        ]
    )


# -- the run ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _cluster(temporary: bool) -> Iterator[EmbeddedPostgres]:
    if temporary:
        with EmbeddedPostgres.temporary() as cluster:
            yield cluster
    else:
        yield EmbeddedPostgres().start()


def run_demo(cluster: EmbeddedPostgres, args: argparse.Namespace) -> DemoResult | None:
    display = ProgressDisplay(setup_logging(verbose=args.verbose), log)
    staging_url = cluster.create_database(STAGING_DB, replace=True)
    batigest_url = cluster.create_database(BATIGEST_DB, replace=True)
    batigest = create_standin(batigest_url)
    staging = sa.create_engine(staging_url)
    today = datetime.now(UTC).date()
    dataset = generate(args.employees, args.projects, args.days, seed=args.seed, today=today)
    salaries = [(r["Code"], r["Nom"], r["codebs"]) for r in dataset.salarie_rows()]
    seed_salaries(batigest, salaries)
    meeting_id = plan_meeting(dataset, today)
    print(
        f"Demo stack: {len(dataset.slots)} time slots of {len(dataset.employees)} employees "
        f"over {args.days} days; {len(salaries)} Salarie in the Batigest stand-in "
        "(one employee has no Salarie, one project no code: their slots are rejected)."
    )
    try:
        with FakeBatiSimply(dataset) as api:
            # the demo's settings only (dbt's and dlt's work files where the caller says)
            env = sync_env(
                staging_url,
                batigest_url,
                api=api,
                window_days=args.days,
                BATIGEST_SCHEMA="dbo",
                HEURES_TIMEZONE=TIMEZONE,
            )
            os.environ.update(env)
            settings = load_settings(env, dotenv_path=None)

            print("\n== 1. first sync: every slot is new ==", flush=True)
            result = DemoResult(first=sync_from_settings(settings, display=display))
            print(render_text(result.first), flush=True)
            if result.first.exit_code:
                return result
            before = read_map(staging)

            result.changes = apply_changes(dataset, meeting_id, today)
            print("\n== 2. changes made in BatiSimply ==")
            for change in result.changes:
                print(f"  slot {change.slot_id:<6} {change.said}")

            print("\n== 3. second sync: only what changed ==", flush=True)
            result.second = sync_from_settings(settings, display=display)
            print(render_text(result.second), flush=True)
            if result.second.exit_code:
                return result
            check(result, before, staging, batigest)
            print("\n" + describe_changes(result))
            return result
    finally:
        staging.dispose()
        batigest.dispose()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__)
    parser.add_argument("--employees", type=int, default=30)
    parser.add_argument("--projects", type=int, default=12)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--temporary", action="store_true", help="a throwaway PostgreSQL, removed at the end"
    )
    parser.add_argument("--json-out", type=Path, help="write both summaries and checks here")
    parser.add_argument("--verbose", "-v", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with _cluster(args.temporary) as cluster:
        result = run_demo(cluster, args)
        if args.json_out and result:
            args.json_out.write_text(json.dumps(result.to_dict(), indent=2, default=str))
        failed = result is None or any(
            s is None or s.exit_code for s in (result.first, result.second)
        )
        if failed or (result and result.problems):
            for problem in result.problems if result else []:
                print(f"PROBLEM: {problem}", file=sys.stderr)
            print("\nThe demo did not end as it should: see above.", file=sys.stderr)
            return 1
        print("\n" + look_inside(cluster, kept=not args.temporary))
        print("\nDemo OK: rows moved, none duplicated.")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
