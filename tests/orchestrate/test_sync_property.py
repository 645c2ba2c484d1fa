"""Property (issue 5) through the real chain: for random sequences of upstream changes
and hand edits of SuiviMO, after every sync SuiviMO equals an independent oracle of the
expected rows, with no duplicate key.

The chain is the production one, stage by stage: the fake BatiSimply API serving a small
generated dataset → `run_load` → the dbt models → `run_export` against the Batigest
stand-in. dbt builds the marts as views (`--vars '{marts_materialized: view}'`) once, in a
template database, after a first load and export; each Hypothesis example then works on
its own copy of that template (`create database … template …`), so a sync needs no dbt
run at all: `to_push`, `heures_gone` and `heures_rejected` compute live.

The oracle (`Oracle`) never reads staging, the map or the exporter's report. From the
dataset alone (zoneinfo for local Paris time, the Salarie and project codes) it derives
each slot's SuiviMO row and applies the documented rules:
- only VALIDATED, present, resolved slots are pushed; a slot whose key another slot
  holds (a pushable slot at its current key, or a mapped slot that is still VALIDATED
  but unresolved at the key it last wrote) is not pushed, nor is the other;
- a push is change-driven: a slot is written when its key or values differ from what
  it last pushed (the oracle's own record); it moves its row, and adopts a row found at
  its new key (a foreign row, or the kept row of a slot gone upstream);
- the exporter refuses a slot whose new key still holds the row of a slot that does not
  move in this run (dbt only sees a pushable slot's current key, not its stuck row);
- gone slots (deleted or un-validated): `keep` leaves their row as last pushed,
  `delete` retracts it (force, so the share limit never interferes);
- rows edited or deleted by hand stay so, for the export alone, until their slot
  changes, or until `reconcile --repair` writes the mapped values back; the sync's drift
  stage, which keeps the seed's promise ("le connecteur réinsèrera…"), is not run here
  (`tests/orchestrate/test_drift_e2e.py` tests it);
- foreign rows are left alone unless a slot lands on their key.

`tests/test_export_property.py` explores the exporter alone, faster and wider, with a
Python stand-in for the marts.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from batisync.export import ExportOptions, ExportReport, reconcile, run_export
from batisync.loader.pipeline import run_load
from batisync.loader.window import days_window
from batisync.transform.dbt_runner import run_dbt
from devstack.batigest import create_standin, seed_salaries
from devstack.fake_batisimply import MALFORMED_KINDS, Dataset, FakeBatiSimply, generate
from devstack.pg import EmbeddedPostgres
from devstack.sync_env import work_env
from tests.loader.helpers import FAST_RETRY, credentials_for

pytestmark = pytest.mark.slow

PARIS = ZoneInfo("Europe/Paris")
# The window holds 2026-10-25, when Paris falls back: 00:30Z and 01:30Z are both 02:30.
TODAY = date(2026, 10, 28)
DATASET = {"n_employees": 3, "n_projects": 3, "days": 10, "seed": 4, "today": TODAY}
# Wider than the data, so no move takes a slot out of what the loader fetches.
WINDOW = days_window(TODAY - timedelta(days=14), TODAY + timedelta(days=3))
# Ops touch the slots of these UTC days only (plus the ones they add): few slots, so
# moves, adds and foreign rows meet each other.
FOCUS_DAYS = ("2026-10-25", "2026-10-26")
# few values, so that a foreign row put "one hour after slot X" and a move of X by one
# hour meet often
DELTAS = [sign * m for m in (15, 45, 60, 180) for sign in (1, -1)]
MINUTES = [30, 45, 60, 95, 240]
HAND_NBH0 = (Decimal("9.990000"), Decimal("1.110000"))
FOREIGN_VALUES = (Decimal("7.250000"), 0, 1)
_names = itertools.count()

Key = tuple[str, str, datetime]
Vals = tuple[Decimal, int, int]
Row = tuple[Key, Vals]


# -- the oracle ----------------------------------------------------------------------------


def local_minute(api_date: str) -> datetime:
    utc = datetime.fromisoformat(api_date.replace("Z", "+00:00"))
    return utc.astimezone(PARIS).replace(second=0, microsecond=0, tzinfo=None)


def hours(minutes: Any) -> Decimal:
    return (Decimal(str(minutes)) / 60).quantize(Decimal("0.000001"), ROUND_HALF_UP)


@dataclass
class Oracle:
    """What SuiviMO must hold, from the dataset and the oracle's own record of pushes."""

    salarie: dict[str, str]  # BatiSimply user id (lower case) → Salarie.Code
    project_codes: dict[int, str | None]
    on_gone: str
    loaded: set[str] = field(default_factory=set)  # slot ids the loader has seen
    pushed: dict[str, Row] = field(default_factory=dict)  # what each slot last pushed
    rows: dict[str, Row | None] = field(default_factory=dict)  # its row (None: hand-deleted)
    foreign: dict[Key, Vals] = field(default_factory=dict)  # rows someone else wrote
    # the verdicts of the last sync
    collided: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)  # mapped slots gone upstream, still mapped
    # slots the previous sync did not find upstream: under `delete`, a deleted slot's row
    # is retracted only when a second complete fetch misses it too (issue 12)
    absent_before: set[str] = field(default_factory=set)
    seen: Counter[str] = field(default_factory=Counter)  # what happened, for `event`

    def row_of(self, record: dict[str, Any]) -> Row | None:
        """The slot's SuiviMO row, None while it cannot resolve."""
        salarie = self.salarie.get(str(record["user"]["id"]).lower())
        chantier = self.project_codes.get(record["project"]["id"])
        if salarie is None or chantier is None:
            return None
        key = (chantier, salarie, local_minute(record["startDate"]))
        flags = (int(bool(record["hasHomeToWorkJourney"])), int(bool(record["hasPackedLunch"])))
        return key, (hours(record["totalTimeMinutes"]), *flags)

    def sync(self, upstream: dict[str, dict[str, Any]]) -> None:
        """One load + export, from what the API answers (`upstream`: id → record)."""
        self.loaded |= set(upstream)
        live: dict[str, Row | None] = {}  # VALIDATED and present; None: unresolved
        gone: set[str] = set()
        for i in self.loaded:
            record = upstream.get(i)
            if record is None or record.get("managementStatus") != "VALIDATED":
                gone.add(i)
            else:
                live[i] = self.row_of(record)
        pushable = {i: r for i, r in live.items() if r is not None}
        # the key each slot holds after the export: a pushable slot its current one, a
        # mapped slot still VALIDATED but unresolved the one it last wrote
        holders = Counter(key for key, _ in pushable.values())
        holders.update(self.pushed[i][0] for i in self.pushed if i in live and live[i] is None)
        collided = {i for i, (key, _) in pushable.items() if holders[key] > 1}
        # a collided slot is not written, so its row stays at the key it last pushed:
        # a slot moving onto that key collides in turn, to a fixed point
        changed = True
        while changed:
            stays = {self.pushed[j][0]: j for j in collided if j in self.pushed}
            blocked = {i for i, (key, _) in pushable.items() if stays.get(key) not in (None, i)}
            changed = not blocked <= collided
            collided |= blocked
        self.collided = collided
        to_push = {
            i: r for i, r in pushable.items() if i not in self.collided and self.pushed.get(i) != r
        }
        gone_mapped = gone & set(self.pushed)

        # the exporter: a new key must be free of any row of a slot that stays put
        holder_of = {key: i for i, (key, _) in self.pushed.items()}
        refused: set[str] = set()
        adopts: dict[str, str | None] = {}
        changed = True
        while changed:
            changed = False
            for i, (key, _) in to_push.items():
                holder = holder_of.get(key)
                if i in refused:
                    continue
                if holder is None or holder == i or (holder in to_push and holder not in refused):
                    adopts[i] = None
                elif holder in gone_mapped:
                    adopts[i] = holder
                else:
                    refused.add(i)
                    changed = True
        self.refused = refused
        accepted = {i: r for i, r in to_push.items() if i not in refused}
        for i, (key, _) in accepted.items():
            if self.foreign.pop(key, None) is not None:  # a row at the new key is adopted
                self.seen["foreign row adopted"] += 1
            if (holder := adopts[i]) is not None:
                del self.pushed[holder], self.rows[holder]
                self.seen["gone slot's row adopted"] += 1
            if i in self.rows and self.rows[i] is None:
                self.seen["hand-deleted row written again"] += 1
            if i in self.pushed and self.pushed[i][0] != key:
                self.seen["moved"] += 1
        for i, r in accepted.items():
            self.pushed[i] = self.rows[i] = r
        self.gone = gone_mapped & set(self.pushed)
        self.seen["collision"] += bool(self.collided)
        self.seen["refused by the exporter"] += bool(refused)
        self.seen["gone"] += bool(self.gone)
        self.seen["a hand-deleted row stays missing"] += None in self.rows.values()
        absent = {i for i in self.loaded if i not in upstream}
        if self.on_gone == "delete":
            retracted = {i for i in self.gone if i not in absent or i in self.absent_before}
            self.seen["deletion awaiting confirmation"] += bool(self.gone - retracted)
            for i in retracted:
                del self.pushed[i], self.rows[i]
            self.gone -= retracted
        self.absent_before = absent

    def copy(self, on_gone: str) -> Oracle:
        return replace(
            self,
            on_gone=on_gone,
            loaded=set(self.loaded),
            absent_before=set(self.absent_before),
            pushed=dict(self.pushed),
            rows=dict(self.rows),
            foreign=dict(self.foreign),
            seen=Counter(self.seen),
        )

    def repair(self) -> None:
        """`reconcile --repair`: every mapped slot's row back to what it last pushed."""
        self.rows = dict(self.pushed)

    def expected(self) -> list[tuple]:
        ours = [(*k, *v) for r in self.rows.values() if r is not None for k, v in [r]]
        return sorted(ours + [(*k, *v) for k, v in self.foreign.items()], key=_order)


def _order(row: tuple) -> tuple:
    return (row[0], row[1], row[2], str(row[3:]))


def upstream_of(ds: Dataset, duplicates: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each slot id's record as the loader keeps it. The API lists the slots, then the
    bad records; the first valid record of an id wins, so a `duplicate_id` record (valid
    in itself) only counts once its slot is gone. Other malformed records never load."""
    records = {str(r["id"]): r for r in ds.slots.values()}
    for record in duplicates:
        records.setdefault(str(record["id"]), record)
    return records


# -- the systems -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    staging: str  # database names
    batigest: str
    dlt_dir: Path
    oracle: Oracle  # its state after the first sync

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # short, in Hypothesis' report of a failing example
        printer.text(f"Template({self.staging!r}, {self.batigest!r})")


def new_oracle(ds: Dataset, on_gone: str) -> Oracle:
    return Oracle(
        salarie={r["codebs"].lower(): r["Code"] for r in ds.salarie_rows()},
        project_codes={p.id: p.code for p in ds.projects},
        on_gone=on_gone,
    )


@dataclass
class Chain:
    """One example's systems: the API, a staging and a Batigest database."""

    api: FakeBatiSimply
    staging_url: str
    batigest_url: str
    dlt_dir: Path
    staging: sa.Engine = field(init=False)
    batigest: sa.Engine = field(init=False)

    def __post_init__(self) -> None:
        self.staging = sa.create_engine(self.staging_url)
        self.batigest = sa.create_engine(self.batigest_url)

    def load(self) -> None:
        run_load(
            staging_url=self.staging_url,
            credentials=credentials_for(self.api),
            window=WINDOW,
            chunk_days=31,
            delete_guard_ratio=0.0,  # a deletion is always trusted here
            batigest_url=self.batigest_url,
            pipelines_dir=self.dlt_dir,
            retry=FAST_RETRY,
        )

    def export(self, on_gone: str, batch_size: int = 1000) -> ExportReport:
        options = ExportOptions(on_gone=on_gone, batch_size=batch_size)
        return run_export(self.staging, self.batigest, options, force=True)

    def suivimo(self) -> list[tuple]:
        with self.batigest.connect() as conn:
            found = conn.exec_driver_sql(
                'select "CodeChantier", "CodeSalarie", "Date", "NbH0", "NbH3", "NbH4" '
                'from dbo."SuiviMO"'
            ).all()
        return sorted(((*r[:4], int(r[4]), int(r[5])) for r in found), key=_order)

    def staging_ids(self, query: str) -> set[str]:
        with self.staging.connect() as conn:
            return {r[0] for r in conn.exec_driver_sql(query)}

    def map(self) -> dict[str, Row]:
        with self.staging.connect() as conn:
            found = conn.exec_driver_sql(
                "select id_heure, code_chantier, code_salarie, date_sqlserver, "
                "nb_h0, nb_h3, nb_h4 from batigest_heures_map"
            ).all()
        return {r[0]: ((r[1], r[2], r[3]), (hours_of(r[4]), r[5], r[6])) for r in found}

    def dispose(self) -> None:
        self.staging.dispose()
        self.batigest.dispose()


def hours_of(stored: Any) -> Decimal:
    return Decimal(stored).quantize(Decimal("0.000001"))


@pytest.fixture(scope="module")
def template(pg: EmbeddedPostgres) -> Iterator[Template]:
    """Staging and Batigest after a first sync (load, dbt build as views, export)."""
    staging_db, batigest_db = f"tpl_staging_{os.getpid()}", f"tpl_batigest_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="sync-property-"))
    ds = generate(**DATASET)
    batigest = create_standin(pg.create_database(batigest_db, replace=True))
    seed_salaries(batigest, [(r["Code"], r["Nom"], r["codebs"]) for r in ds.salarie_rows()])
    batigest.dispose()
    pg.create_database(staging_db, replace=True)
    oracle = new_oracle(ds, "keep")
    with FakeBatiSimply(ds) as api:
        chain = Chain(api, pg.url(staging_db), pg.url(batigest_db), workdir / "dlt")
        try:
            chain.load()
            # after the load: a view compiles against the raw tables present at build time
            built = run_dbt(
                ["build", "--vars", "{marts_materialized: view}", "--exclude", "test_type:unit"],
                env={
                    **pg.env(staging_db),
                    **work_env(workdir),
                    "HEURES_WINDOW_DAYS": "36500",  # heures_rejected lists every slot
                },
            )
            assert built.success, built.summary()
            report = chain.export("keep")
            oracle.sync(upstream_of(ds, []))
            assert report.rejected == []
            assert chain.suivimo() == oracle.expected()
            assert len(oracle.pushed) > 10 and oracle.collided == set()
            assert focus_shape(ds) == FOCUS_SHAPE
        finally:
            chain.dispose()
    yield Template(staging_db, batigest_db, workdir / "dlt", oracle)
    pg.drop_database(staging_db)
    pg.drop_database(batigest_db)
    shutil.rmtree(workdir, ignore_errors=True)


# -- the operations -------------------------------------------------------------------------


@dataclass
class World:
    ds: Dataset
    oracle: Oracle
    chain: Chain
    focus: list[str]  # the slot ids ops pick from
    duplicates: list[dict[str, Any]] = field(default_factory=list)

    def pick(self, n: int, among: list[str] | None = None) -> str | None:
        ids = [i for i in (self.focus if among is None else among) if i in self.ds.slots]
        return ids[n % len(ids)] if ids else None


def in_focus(ds: Dataset, i: str) -> bool:
    """A slot of the focus days (of the employee without Salarie: the first day only)."""
    record = ds.slots[i]
    day, employee = record["startDate"][:10], ds.employee(record["user"]["id"])
    matched = employee is not None and employee.code is not None
    return day == FOCUS_DAYS[0] or (day in FOCUS_DAYS and matched)


# (Salarie code, status) of the focus slots, as the @example scenarios below assume them
FOCUS_SHAPE = [
    ("S0001", "VALIDATED"),
    ("S0002", "VALIDATED"),
    (None, "VALIDATED"),
    ("S0001", "VALIDATED"),
    ("S0001", "TO_VALIDATE"),
    ("S0002", "VALIDATED"),
    ("S0002", "TO_VALIDATE"),
]


def focus_of(ds: Dataset) -> list[str]:
    return sorted((i for i in ds.slots if in_focus(ds, i)), key=int)


def focus_shape(ds: Dataset) -> list[tuple[str | None, str]]:
    shape = []
    for i in focus_of(ds):
        employee = ds.employee(ds.slots[i]["user"]["id"])
        shape.append((employee.code if employee else None, ds.slots[i]["managementStatus"]))
    return shape


def _start(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["startDate"].replace("Z", "+00:00"))


def apply_upstream(world: World, op: tuple) -> None:
    """A change in BatiSimply (the fake API's dataset)."""
    ds, (name, *args) = world.ds, op
    if name == "validate":
        i = world.pick(args[0], [i for i in world.focus if not _validated(ds, i)])
    elif name == "unvalidate":
        i = world.pick(args[0], [i for i in world.focus if _validated(ds, i)])
    else:
        i = world.pick(args[0])
    if i is None:
        return
    slot = ds.slots[i]
    if name == "move":
        ds.move_slot(i, args[1])
    elif name == "move_onto":  # onto another slot of the same person: same key
        user = slot["user"]["id"]
        j = world.pick(args[1], [j for j in world.focus if j != i and _user(ds, j) == user])
        if j is not None:
            other = ds.slots[j]
            minutes = (_start(other).replace(second=0) - _start(slot).replace(second=0)) // (
                timedelta(minutes=1)
            )
            ds.move_slot(i, minutes)
            ds.change_project(i, other["project"]["id"])
    elif name == "change_project":
        ds.change_project(i, ds.projects[args[1]].id)
    elif name == "change_minutes":
        ds.change_minutes(i, args[1])
    elif name == "flags":
        ds.set_flags(i, packed_lunch=args[1], home_to_work=args[2])
    elif name == "unvalidate":
        ds.unvalidate(i)
    elif name == "validate":
        ds.validate(i)
    elif name == "delete":
        ds.delete(i)
    elif name in ("add", "add_on_key"):
        start = _start(slot)
        if name == "add":
            start = start.replace(second=37) + timedelta(minutes=args[1])
        else:  # another second of the same minute: the same SuiviMO key
            start = start.replace(second=5 if start.second != 5 else 50)
        new = ds.add_slot(slot["user"]["id"], slot["project"]["id"], start, 60)
        world.focus.append(new)
    elif name == "malformed":
        kind = args[1]
        if kind == "duplicate_id" and any(str(d["id"]) == i for d in world.duplicates):
            return  # one duplicate per id: which of two would win is the API's order
        record = ds.add_malformed(kind, base_id=i)
        if kind == "duplicate_id":
            world.duplicates.append(record)


def _validated(ds: Dataset, i: str) -> bool:
    return i in ds.slots and ds.slots[i].get("managementStatus") == "VALIDATED"


def _user(ds: Dataset, i: str) -> str | None:
    return ds.slots[i]["user"]["id"] if i in ds.slots else None


WHERE_KEY = '"CodeChantier" = :cc and "CodeSalarie" = :cs and "Date" = :d'


def apply_hand_edit(world: World, op: tuple) -> None:
    """Someone edits SuiviMO in Batigest (or runs `batisync reconcile --repair`)."""
    oracle, batigest, (name, *args) = world.oracle, world.chain.batigest, op
    if name == "repair":
        reconcile(world.chain.staging, batigest, repair=True)
        oracle.repair()
        return
    if name == "foreign":  # at a key a slot of the focus could move to
        i = world.pick(args[0])
        shifted = dict(world.ds.slots[i]) if i else None
        if shifted is None:
            return
        moved = _start(shifted) + timedelta(minutes=args[1])
        shifted["startDate"] = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
        row = oracle.row_of(shifted)
        taken = {k for k, _ in oracle.pushed.values()} | set(oracle.foreign)
        taken |= {r[0] for r in oracle.rows.values() if r is not None}
        if row is None or row[0] in taken:
            return
        key = row[0]
        with batigest.begin() as conn:
            conn.execute(
                sa.text(
                    'insert into dbo."SuiviMO" ("CodeChantier", "CodeSalarie", "Date", '
                    '"NbH0", "NbH3", "NbH4", "Libelle") values (:cc, :cs, :d, :h0, :h3, :h4, '
                    "'saisie manuelle')"
                ),
                dict(cc=key[0], cs=key[1], d=key[2], h0=FOREIGN_VALUES[0], h3=0, h4=1),
            )
        oracle.foreign[key] = FOREIGN_VALUES
        return
    ours = [i for i in world.focus if oracle.rows.get(i) is not None]
    ours = ours or sorted(i for i, r in oracle.rows.items() if r is not None)
    if not ours:
        return
    i = ours[args[0] % len(ours)]
    current = oracle.rows[i]
    assert current is not None
    (cc, cs, d), (h0, h3, h4) = current
    with batigest.begin() as conn:
        if name == "hand_delete":
            conn.execute(
                sa.text(f'delete from dbo."SuiviMO" where {WHERE_KEY}'), key_params(cc, cs, d)
            )
            oracle.rows[i] = None
        else:
            value = HAND_NBH0[0] if h0 != HAND_NBH0[0] else HAND_NBH0[1]
            conn.execute(
                sa.text(f'update dbo."SuiviMO" set "NbH0" = :v where {WHERE_KEY}'),
                {"v": value, **key_params(cc, cs, d)},
            )
            oracle.rows[i] = ((cc, cs, d), (value, h3, h4))


def key_params(cc: str, cs: str, d: datetime) -> dict[str, Any]:
    return {"cc": cc, "cs": cs, "d": d}


pick = st.integers(min_value=0, max_value=1000)
delta = st.sampled_from(DELTAS)
upstream_ops = st.one_of(
    st.tuples(st.just("move"), pick, delta),
    st.tuples(st.just("move_onto"), pick, pick),
    st.tuples(st.just("change_project"), pick, st.integers(min_value=0, max_value=2)),
    st.tuples(st.just("change_minutes"), pick, st.sampled_from(MINUTES)),
    st.tuples(st.just("flags"), pick, st.booleans(), st.booleans()),
    st.tuples(st.just("unvalidate"), pick),
    st.tuples(st.just("validate"), pick),
    st.tuples(st.just("delete"), pick),
    st.tuples(st.just("add"), pick, delta),
    st.tuples(st.just("add_on_key"), pick),
    st.tuples(st.just("malformed"), pick, st.sampled_from(MALFORMED_KINDS)),
)
hand_ops = st.one_of(
    st.tuples(st.just("hand_delete"), pick),
    st.tuples(st.just("hand_nbh0"), pick),
    st.tuples(st.just("foreign"), pick, delta),
    st.just(("repair",)),
)
HAND = {"hand_delete", "hand_nbh0", "foreign", "repair"}
steps = st.lists(
    st.lists(st.one_of(upstream_ops, upstream_ops, hand_ops), min_size=1, max_size=5),
    min_size=3,
    max_size=5,
)


# -- the property ---------------------------------------------------------------------------


@contextlib.contextmanager
def example_chain(pg: EmbeddedPostgres, template: Template) -> Iterator[tuple[Dataset, Chain]]:
    """Fresh copies of the template databases, and an API serving the same dataset."""
    n = next(_names)
    staging_db, batigest_db = f"ex_staging_{os.getpid()}_{n}", f"ex_batigest_{os.getpid()}_{n}"
    workdir = Path(tempfile.mkdtemp(prefix="sync-example-"))
    shutil.copytree(template.dlt_dir, workdir / "dlt")
    ds = generate(**DATASET)  # deterministic: what the template loaded
    with FakeBatiSimply(ds) as api:
        chain = Chain(
            api,
            pg.create_database(staging_db, replace=True, template=template.staging),
            pg.create_database(batigest_db, replace=True, template=template.batigest),
            workdir / "dlt",
        )
        try:
            yield ds, chain
        finally:
            chain.dispose()
            pg.drop_database(staging_db)
            pg.drop_database(batigest_db)
            shutil.rmtree(workdir, ignore_errors=True)


def check(world: World, report: ExportReport) -> None:
    """Everything that must hold after a sync."""
    oracle, chain = world.oracle, world.chain
    actual = chain.suivimo()
    assert actual == oracle.expected()
    keys = Counter(r[:3] for r in actual)
    assert not [k for k, n in keys.items() if n > 1], "duplicate SuiviMO keys"
    mapped = chain.map()
    assert mapped == oracle.pushed
    # the map and our SuiviMO rows, one to one (a hand-deleted row: none)
    assert len({key for key, _ in mapped.values()}) == len(mapped)
    for i, (key, _) in mapped.items():
        assert keys[key] == (0 if oracle.rows[i] is None else 1), i
    assert {i for i, _ in report.rejected} == oracle.refused
    # the live marts: what is left to push is what the exporter refused
    assert chain.staging_ids("select id_heure from to_push") == oracle.refused
    assert chain.staging_ids("select id_heure from heures_gone") == oracle.gone
    assert (
        chain.staging_ids("select id_heure from heures_rejected where reason = 'key_collision'")
        == oracle.collided
    )


@pytest.mark.parametrize("on_gone", ["keep", "delete"])
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps, batch_size=st.sampled_from([1, 1000]))
# Scenarios random sequences reach rarely; picks index the focus slots (see World.pick):
# [10001 S0001 02:30 CEST, 10002 S0002 02:30 CET (2026-10-25), 10003 no Salarie,
#  10012 S0001 07:03, 10013 S0001 TO_VALIDATE, 10028 S0002 07:41, 10029 S0002 TO_VALIDATE]
@example(  # a gone slot's row and a foreign row adopted; back to VALIDATED on a held key;
    # a hand-deleted row written again once its slot changes
    steps=[
        [("unvalidate", 0), ("move_onto", 3, 0), ("foreign", 5, 60)],
        [("move", 5, 60), ("validate", 0)],
        [("hand_delete", 0), ("change_minutes", 1, 45)],
        [("delete", 0)],
    ],
    batch_size=1000,
)
@example(  # 10001 moves to 10012's key while 10012, moving too, collides: its row stays,
    # so the exporter refuses 10001 until 10012 is free to go
    steps=[
        [("validate", 0)],
        [("move_onto", 0, 0), ("move_onto", 3, 1)],
        [("delete", 4)],
    ],
    batch_size=1,
)
@example(  # a pushed slot moves to the project without code: its row stays and its key
    # stays held (a slot added on it is not pushed) until it resolves elsewhere
    steps=[
        [("add_on_key", 0)],
        [("change_project", 0, 2)],
        [("move", 0, 180)],
        [("change_project", 0, 1)],
    ],
    batch_size=1000,
)
@example(  # the October fall-back: 00:30Z and 01:30Z are both 02:30 in Paris
    steps=[
        [("add", 0, 60)],
        [("move", 0, 60)],
        [("move", 0, 120), ("malformed", 1, "duplicate_id")],
        [("delete", 1)],
    ],
    batch_size=1000,
)
def test_suivimo_always_equals_the_oracle(
    pg: EmbeddedPostgres, template: Template, on_gone: str, steps: list, batch_size: int
) -> None:
    with example_chain(pg, template) as (ds, chain):
        oracle = template.oracle.copy(on_gone)
        world = World(ds, oracle, chain, focus_of(ds))
        for ops in steps:
            for op in ops:
                (apply_hand_edit if op[0] in HAND else apply_upstream)(world, op)
            chain.load()
            report = chain.export(on_gone, batch_size)
            oracle.sync(upstream_of(ds, world.duplicates))
            check(world, report)
        for what in oracle.seen - template.oracle.seen:
            event(what)
