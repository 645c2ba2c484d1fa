"""Deterministic, realistic BatiSimply data for the fake API.

Everything derives from ``random.Random(seed)`` and ``today``: the same pair always
gives the same dataset, so tests can assert on exact values.
"""

from __future__ import annotations

import copy
import json
import math
import random
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

DEFAULT_STATUS_MIX: dict[str, float] = {
    "VALIDATED": 0.85,
    "TO_VALIDATE": 0.07,
    "REFUSED": 0.04,
    "IN_PROGRESS": 0.04,
}
MALFORMED_KINDS = (
    "missing_id",
    "bad_start_date",
    "bad_end_date",
    "bad_minutes",
    "missing_user",
    "duplicate_id",
)
# The two 2026 days when Paris changes offset (at 01:00 UTC both times).
DST_DAYS_2026 = (date(2026, 3, 29), date(2026, 10, 25))
# (employee index, UTC start "HH:MM:SS", minutes) of the slots put on each DST day.
# In October 00:30:17Z and 01:30:41Z are both 02:30 local: different employees, so
# no key collision is introduced by default.
DST_SLOT_SPECS = ((0, "00:30:17", 60), (1, "01:30:41", 120), (2, "00:45:59", 150))

FIRST_NAMES = (
    "Jean", "Pierre", "Michel", "Philippe", "Alain", "Nicolas", "Christophe", "Patrick",
    "Thomas", "Julien", "Sébastien", "Laurent", "Mickaël", "Kévin", "Romain", "Mathieu",
    "Karim", "Mehdi", "João", "Luís", "Stéphane", "Cédric", "Anthony", "Damien",
    "Sophie", "Nathalie", "Camille", "Élodie", "Aurélie", "Manon",
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
    "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
    "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier",
    "Da Silva", "Ferreira", "Benali", "Nguyen", "Lemaître", "Faure",
)  # fmt: skip
WORKS = (
    "Rénovation", "Extension", "Construction", "Ravalement", "Réhabilitation",
    "Aménagement", "Mise aux normes", "Toiture",
)  # fmt: skip
SITES = (
    "école Jules Ferry", "maison Dupont", "immeuble Les Tilleuls", "mairie annexe",
    "gymnase municipal", "résidence du Parc", "local commercial", "EHPAD Les Glycines",
    "groupe scolaire Pasteur", "hangar agricole", "crèche Les Lutins", "villa Rossi",
)  # fmt: skip
STREETS = ("rue de la République", "avenue Jean Jaurès", "chemin des Vignes", "rue Pasteur")
CITIES = (("69003", "Lyon"), ("38000", "Grenoble"), ("73000", "Chambéry"), ("01000", "Bourg"))
COMMENTS = ("RAS", "Livraison matériaux", "Attente béton", "Pluie l'après-midi", "Reprise")


@dataclass
class Employee:
    id: str  # UUID4 string, deterministic from the seed
    code: str | None  # Batigest Salarie.Code like 'S0007'; None = no Batigest match
    nom: str
    prenom: str


@dataclass
class Project:
    id: int
    code: str | None  # projectCode = Batigest chantier code; None exercises no_project_code
    name: str


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def format_utc(moment: datetime) -> str:
    """The API's timestamp shape: ``YYYY-MM-DDTHH:MM:SSZ``."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def parse_utc(value: Any) -> datetime | None:
    """Parse an API timestamp; None when it is not one (bad records stay unparsed)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def paris_offset_hours(day: date) -> int:
    """UTC offset of Paris on a weekday (EU rule; weekdays never hold a transition)."""
    return 2 if _last_sunday(day.year, 3) < day < _last_sunday(day.year, 10) else 1


def _encode(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(eq=False)
class Dataset:
    """What the fake API serves. ``slots`` maps str(id) to the exact API record.

    Mutate through the methods (they bump ``version`` so the server re-indexes); after
    editing a record by hand call ``touch(slot_id)``.
    """

    employees: list[Employee]
    projects: list[Project]
    project_records: list[dict[str, Any]]
    slots: dict[str, dict[str, Any]]
    # Bad or duplicate records, appended to API answers (kept apart so slots stays a dict).
    malformed: list[dict[str, Any]] = field(default_factory=list)
    # Any JSON values, served in every time slot answer whatever the window (a hostile
    # API: dates far outside the window, non-objects, …); see devstack/hostile.py.
    served_always: list[Any] = field(default_factory=list)
    dst_slot_ids: list[str] = field(default_factory=list)
    # the real API's shapes (issue 11): slots whose `project` carries its `projectCode`,
    # and projects missing from `GET /project` but served by `GET /project/{id}`
    embeds_project_codes: bool = False
    unlisted_project_records: dict[int, dict[str, Any]] = field(default_factory=dict)
    today: date | None = None
    version: int = 0
    _next_id: int = 10_001
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _encoded: dict[str, bytes] = field(default_factory=dict, repr=False)

    # -- lookups ---------------------------------------------------------------------
    def employee(self, user_id: str) -> Employee | None:
        return next((e for e in self.employees if e.id == user_id), None)

    def project(self, project_id: int) -> Project | None:
        return next((p for p in self.projects if p.id == project_id), None)

    def project_record(self, project_id: int) -> dict[str, Any] | None:
        """What `GET /project/{id}` answers: listed or not, None for an unknown id."""
        listed = next(
            (r for r in self.project_records if isinstance(r, dict) and r.get("id") == project_id),
            None,
        )
        return listed or self.unlisted_project_records.get(project_id)

    def validated_slots(self) -> list[dict[str, Any]]:
        return [s for s in self.slots.values() if s.get("managementStatus") == "VALIDATED"]

    def in_window(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Valid slots whose startDate is in [start, end], as the API filters them."""
        lo, hi = start.astimezone(UTC), end.astimezone(UTC)
        return [s for s in self.slots.values() if lo <= (parse_utc(s["startDate"]) or lo) <= hi]

    def salarie_rows(self) -> list[dict[str, str]]:
        """Batigest ``Salarie`` rows for the employees that have a match."""
        return [
            {"Code": e.code, "Nom": e.nom, "Prenom": e.prenom, "codebs": e.id}
            for e in self.employees
            if e.code is not None
        ]

    # -- mutations (scenario tests) --------------------------------------------------
    def touch(self, slot_id: str | int | None = None) -> None:
        """Record that a slot (or anything, when None) changed."""
        with self._lock:
            if slot_id is None:
                self._encoded.clear()
            else:
                self._encoded.pop(str(slot_id), None)
            self.version += 1

    def _slot(self, slot_id: str | int) -> dict[str, Any]:
        return self.slots[str(slot_id)]

    def move_slot(self, slot_id: str | int, minutes: int) -> dict[str, Any]:
        with self._lock:
            slot = self._slot(slot_id)
            for key in ("startDate", "endDate"):
                moment = parse_utc(slot[key])
                assert moment is not None, f"slot {slot_id} has no valid {key}"
                slot[key] = format_utc(moment + timedelta(minutes=minutes))
            self.touch(slot_id)
            return slot

    def change_project(self, slot_id: str | int, project_id: int) -> dict[str, Any]:
        with self._lock:
            slot = self._slot(slot_id)
            slot["project"] = self._project_ref(project_id)
            self.touch(slot_id)
            return slot

    def change_minutes(self, slot_id: str | int, minutes: int) -> dict[str, Any]:
        """New duration; endDate follows so the record stays consistent."""
        with self._lock:
            slot = self._slot(slot_id)
            start = parse_utc(slot["startDate"])
            assert start is not None, f"slot {slot_id} has no valid startDate"
            slot["totalTimeMinutes"] = minutes
            slot["endDate"] = format_utc(start + timedelta(minutes=minutes))
            self.touch(slot_id)
            return slot

    def set_flags(
        self,
        slot_id: str | int,
        *,
        packed_lunch: bool | None = None,
        home_to_work: bool | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            slot = self._slot(slot_id)
            if packed_lunch is not None:
                slot["hasPackedLunch"] = packed_lunch
            if home_to_work is not None:
                slot["hasHomeToWorkJourney"] = home_to_work
            self.touch(slot_id)
            return slot

    def set_status(self, slot_id: str | int, status: str) -> dict[str, Any]:
        with self._lock:
            slot = self._slot(slot_id)
            slot["managementStatus"] = status
            self.touch(slot_id)
            return slot

    def unvalidate(self, slot_id: str | int, status: str = "TO_VALIDATE") -> dict[str, Any]:
        return self.set_status(slot_id, status)

    def validate(self, slot_id: str | int) -> dict[str, Any]:
        return self.set_status(slot_id, "VALIDATED")

    def delete(self, slot_id: str | int) -> dict[str, Any]:
        with self._lock:
            slot = self.slots.pop(str(slot_id))
            self.touch(slot_id)
            return slot

    def add_slot(
        self,
        user_id: str,
        project_id: int,
        start: datetime,
        minutes: int,
        status: str = "VALIDATED",
        packed_lunch: bool = False,
        home_to_work: bool = False,
    ) -> str:
        """Add a valid slot (naive ``start`` is taken as UTC); returns its id as a string."""
        start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
        end = start + timedelta(minutes=minutes)
        with self._lock:
            slot_id = self._take_id()
            self.slots[str(slot_id)] = {
                "id": slot_id,
                "startDate": format_utc(start),
                "endDate": format_utc(end),
                "totalTimeMinutes": minutes,
                "managementStatus": status,
                "hasPackedLunch": packed_lunch,
                "hasHomeToWorkJourney": home_to_work,
                "user": self._user_ref(user_id),
                "project": self._project_ref(project_id),
                "comment": None,
                "createdAt": f"{format_utc(end)[:-1]}.000Z",
            }
            self.touch(slot_id)
            return str(slot_id)

    def add_malformed(self, kind: str, base_id: str | int | None = None) -> dict[str, Any]:
        """Append one bad record of ``kind`` (see MALFORMED_KINDS); returns it.

        It copies ``base_id`` (default: the latest validated slot) so it lands in the
        usual fetch windows; ``duplicate_id`` repeats that slot's id with other values.
        """
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"unknown malformed kind {kind!r}; expected one of {MALFORMED_KINDS}")
        with self._lock:
            base = self._slot(base_id) if base_id is not None else self._template()
            record = copy.deepcopy(base)
            if kind != "duplicate_id":
                record["id"] = self._take_id()
            _spoil(record, kind)
            self.malformed.append(record)
            self.touch()
            return record

    def embed_project_codes(self, slot_ids: Iterable[str | int] | None = None) -> None:
        """Slots (all, or `slot_ids`) carry `project.projectCode`, as the real API may;
        slots added or moved to a project afterwards carry it too when all do."""
        with self._lock:
            keys = list(self.slots) if slot_ids is None else [str(i) for i in slot_ids]
            self.embeds_project_codes = self.embeds_project_codes or slot_ids is None
            for key in keys:
                project = self.slots[key].get("project")
                if isinstance(project, dict) and isinstance(project.get("id"), int):
                    known = self.project(project["id"])
                    # a copy: the generator shares one `project` object between slots
                    code = known.code if known else None
                    self.slots[key]["project"] = {**project, "projectCode": code}
            self.touch()

    def unlist_project(self, project_id: int) -> None:
        """`GET /project` no longer lists it (archived, or on a page not read);
        `GET /project/{id}` still serves it."""
        with self._lock:
            record = next(r for r in self.project_records if r.get("id") == project_id)
            self.project_records.remove(record)
            self.unlisted_project_records[project_id] = record

    def forget_project(self, project_id: int) -> None:
        """Gone from BatiSimply altogether: `GET /project/{id}` answers 404."""
        with self._lock:
            self.project_records[:] = [r for r in self.project_records if r.get("id") != project_id]
            self.unlisted_project_records.pop(project_id, None)

    def clear_malformed(self) -> None:
        with self._lock:
            self.malformed.clear()
            self.touch()

    # -- server support --------------------------------------------------------------
    def encoded(self) -> tuple[int, list[tuple[Any, bytes]], list[tuple[Any, bytes]]]:
        """(version, [(startDate, json bytes)] of slots, same for malformed records)."""
        with self._lock:
            cache = self._encoded
            slots = []
            for key, record in self.slots.items():
                body = cache.get(key)
                if body is None:
                    body = cache[key] = _encode(record)
                slots.append((record.get("startDate"), body))
            bad = [(r.get("startDate"), _encode(r)) for r in self.malformed]
            bad += [(None, _encode(r)) for r in self.served_always]
            return self.version, slots, bad

    # -- helpers ---------------------------------------------------------------------
    def _take_id(self) -> int:
        slot_id = self._next_id
        self._next_id += 1
        return slot_id

    def _template(self) -> dict[str, Any]:
        dst = set(self.dst_slot_ids)
        regular = [s for k, s in self.slots.items() if k not in dst]
        validated = [s for s in regular if s.get("managementStatus") == "VALIDATED"]
        if not validated:
            raise ValueError("dataset has no validated slot to copy; pass base_id")
        return max(validated, key=lambda s: (s["startDate"], s["id"]))

    def _user_ref(self, user_id: str) -> dict[str, Any]:
        emp = self.employee(user_id)
        return {
            "id": user_id,
            "firstName": emp.prenom if emp else None,
            "lastName": emp.nom if emp else None,
        }

    def _project_ref(self, project_id: int) -> dict[str, Any]:
        proj = self.project(project_id)
        ref: dict[str, Any] = {"id": project_id, "projectName": proj.name if proj else None}
        if self.embeds_project_codes:
            ref["projectCode"] = proj.code if proj else None
        return ref


def _spoil(record: dict[str, Any], kind: str) -> None:
    """Make ``record`` bad in the way ``kind`` names."""
    if kind == "missing_id":
        del record["id"]
    elif kind == "bad_start_date":
        record["startDate"] = "2026-02-31T07:00:00Z"  # right shape, impossible day
    elif kind == "bad_end_date":
        record["endDate"] = "not-a-date"
    elif kind == "bad_minutes":
        record["totalTimeMinutes"] = "abc"
    elif kind == "missing_user":
        del record["user"]
    elif kind == "duplicate_id":
        record["totalTimeMinutes"] = record.get("totalTimeMinutes", 0) + 30
        record["comment"] = "doublon"


# -- generation ------------------------------------------------------------------------
class _SlotMaker:
    """Builds slot records quickly: per-day string prefixes, integer seconds of day."""

    def __init__(self, rng: random.Random, status_mix: Mapping[str, float], first_id: int):
        self.rng = rng
        total = sum(status_mix.values())
        acc, self.cumulative = 0.0, []
        for status, weight in status_mix.items():
            acc += weight / total
            self.cumulative.append((acc, status))
        self.next_id = first_id

    def status(self) -> str:
        draw = self.rng.random()
        return next((s for bound, s in self.cumulative if draw < bound), self.cumulative[-1][1])

    def seconds(self) -> int:
        # Never :00, often :59: the exporter must truncate, not round.
        return 59 if self.rng.random() < 0.15 else self.rng.randrange(1, 59)

    def make(
        self,
        day: date,
        start_s: int,
        end_s: int,
        user: dict[str, Any],
        project: dict[str, Any],
        status: str | None = None,
    ) -> dict[str, Any]:
        rng, prefix = self.rng, f"{day.isoformat()}T"
        slot_id, self.next_id = self.next_id, self.next_id + 1
        created_s = min(end_s + rng.randrange(60, 6 * 3600), 86_399)
        return {
            "id": slot_id,
            "startDate": f"{prefix}{_hms(start_s)}Z",
            "endDate": f"{prefix}{_hms(end_s)}Z",
            "totalTimeMinutes": round((end_s - start_s) / 60),
            "managementStatus": status or self.status(),
            "hasPackedLunch": rng.random() < 0.4,
            "hasHomeToWorkJourney": rng.random() < 0.3,
            "user": user,
            "project": project,
            "comment": rng.choice(COMMENTS) if rng.random() < 0.1 else None,
            "createdAt": f"{prefix}{_hms(created_s)}.{rng.randrange(1000):03d}Z",
        }


def _make_projects(
    rng: random.Random, n: int, null_code: int, year: int
) -> tuple[list[Project], list[dict[str, Any]]]:
    projects, records = [], []
    for i in range(n):
        code = None if i >= n - null_code else f"C{year % 100:02d}{i + 1:03d}"
        name = f"{rng.choice(WORKS)} {rng.choice(SITES)}"
        zip_code, city = rng.choice(CITIES)
        address = f"{rng.randrange(1, 120)} {rng.choice(STREETS)}, {zip_code} {city}"
        proj = Project(id=4100 + i * 3, code=code, name=name)
        projects.append(proj)
        records.append(
            {
                "id": proj.id,
                "projectCode": code,
                "projectName": name,
                "address": address,
                "city": city,
                "zipCode": zip_code,
                "customerName": f"Client {rng.choice(LAST_NAMES)}",
                "isArchived": False,
            }
        )
    return projects, records


def _make_employee(rng: random.Random, index: int) -> Employee:
    uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return Employee(uid, f"S{index + 1:04d}", rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES))


def _working_days(first: date, last: date) -> list[tuple[date, int]]:
    """(day, Paris UTC offset in seconds) for each Monday-Friday in [first, last]."""
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append((day, paris_offset_hours(day) * 3600))
        day += timedelta(days=1)
    return days


def _employee_slots(
    maker: _SlotMaker,
    days: Iterable[tuple[date, int]],
    user: dict[str, Any],
    project_refs: list[list[dict[str, Any]]],
    limit: float,
) -> list[dict[str, Any]]:
    """A morning and an afternoon slot per working day (local Paris hours)."""
    rng, out = maker.rng, []
    coded, uncoded = project_refs[0], project_refs[1]
    current = rng.choice(coded) if coded else rng.choice(uncoded)
    for day, offset in days:
        if len(out) >= limit:
            break
        if rng.random() < 0.04:  # absent that day
            continue
        if rng.random() < 0.1 and coded:
            current = rng.choice(coded)
        morning = current
        if uncoded and rng.random() < 0.02:  # rare slot on a project unknown to Batigest
            morning = rng.choice(uncoded)
        start = 7 * 3600 + rng.randrange(-30, 46) * 60 + maker.seconds() - offset
        end = 12 * 3600 + rng.randrange(-15, 16) * 60 + maker.seconds() - offset
        out.append(maker.make(day, start, end, user, morning))
        if len(out) >= limit:
            break
        afternoon = rng.choice(coded) if coded and rng.random() < 0.15 else current
        start = 13 * 3600 + rng.randrange(-15, 31) * 60 + maker.seconds() - offset
        end = 17 * 3600 + rng.randrange(-30, 61) * 60 + maker.seconds() - offset
        out.append(maker.make(day, start, end, user, afternoon))
    return out


def _dst_slots(
    maker: _SlotMaker, days: list[date], users: list[dict[str, Any]], project: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for day in days:
        for emp_index, hms, minutes in DST_SLOT_SPECS:
            if emp_index >= len(users):
                continue
            h, m, s = (int(x) for x in hms.split(":"))
            start = h * 3600 + m * 60 + s
            end = start + minutes * 60
            out.append(maker.make(day, start, end, users[emp_index], project, "VALIDATED"))
    return out


def generate(
    n_employees: int = 30,
    n_projects: int = 12,
    days: int = 180,
    seed: int = 0,
    today: date | None = None,
    status_mix: Mapping[str, float] = DEFAULT_STATUS_MIX,
    *,
    include_dst_days: bool = False,
    n_slots: int | None = None,
    unmatched_employees: int = 1,
    null_code_projects: int = 1,
    embed_project_codes: bool = False,
    history_days: int = 0,
) -> Dataset:
    """Build a dataset for working days in [today - days, today].

    ``n_slots`` fixes the total slot count (employees are added as needed).
    The last ``unmatched_employees`` employees have ``code=None`` (no Batigest Salarie)
    and the last ``null_code_projects`` projects have ``projectCode`` null.
    DST-day slots (2026-03-29, 2026-10-25) are added when inside the window, or
    always with ``include_dst_days``. ``embed_project_codes``: each slot's ``project``
    carries its ``projectCode`` (the real API's shape; see ``Dataset.embed_project_codes``).
    ``history_days`` adds older history beside the window, as a site that has run for a
    while has: the same employees' slots on the working days of the ``history_days``
    before ``today - days``, drawn after the window's, so that the window holds exactly
    what it holds without history (``n_slots`` counts the window only).
    """
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days)
    n_projects = max(n_projects, 1)
    projects, project_records = _make_projects(rng, n_projects, null_code_projects, today.year)
    refs = [{"id": p.id, "projectName": p.name} for p in projects]
    coded = [r for r, p in zip(refs, projects, strict=True) if p.code is not None]
    uncoded = [r for r, p in zip(refs, projects, strict=True) if p.code is None]
    work_days = _working_days(first, today)
    dst_days = [d for d in DST_DAYS_2026 if include_dst_days or first <= d <= today]

    if n_slots is not None:
        per_employee = max(1, int(2 * len(work_days) * 0.9))
        n_employees = max(len(DST_SLOT_SPECS), math.ceil(n_slots / per_employee) + 1)
    employees = [_make_employee(rng, i) for i in range(max(n_employees, 1))]
    users = [{"id": e.id, "firstName": e.prenom, "lastName": e.nom} for e in employees]

    maker = _SlotMaker(rng, status_mix, first_id=10_001)
    dst_records = _dst_slots(maker, dst_days, users, (coded or refs)[0])
    budget = (n_slots - len(dst_records)) if n_slots is not None else math.inf
    slots: dict[str, dict[str, Any]] = {}
    used = 0
    for index, user in enumerate(users):
        limit = budget - len(slots)
        if limit <= 0:
            break
        for record in _employee_slots(maker, work_days, user, [coded, uncoded], limit):
            slots[str(record["id"])] = record
        used = index + 1
    if n_slots is not None:
        employees = employees[: max(used, len(DST_SLOT_SPECS))]
    for record in dst_records:
        slots[str(record["id"])] = record
    if history_days > 0:
        older = _working_days(first - timedelta(days=history_days), first - timedelta(days=1))
        for user in users[: len(employees)]:
            for record in _employee_slots(maker, older, user, [coded, uncoded], math.inf):
                slots[str(record["id"])] = record
    for emp in employees[len(employees) - unmatched_employees :] if unmatched_employees else []:
        emp.code = None
    dataset = Dataset(
        employees=employees,
        projects=projects,
        project_records=project_records,
        slots=slots,
        dst_slot_ids=[str(r["id"]) for r in dst_records],
        today=today,
        _next_id=maker.next_id,
    )
    if embed_project_codes:
        dataset.embed_project_codes()
    return dataset
