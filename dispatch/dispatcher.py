"""Intake → grid → matter → dedupe → case → worker; and every later action on a case."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dispatch.assign import pick_worker
from dispatch.calendar import WorkCalendar
from dispatch.cases import (
    REASON_ACTIONS,
    REVIEW_ACTIONS,
    Case,
    CaseState,
    TimelineEntry,
    check_actor,
    check_transition,
    new_case_id,
    transition,
)
from dispatch.catalog import Catalog, CatalogBook, Matter
from dispatch.city import City, GridIndex, Worker
from dispatch.city.model import metres_between
from dispatch.config import DispatchConfig
from dispatch.deadlines import (
    ROUND_THE_CLOCK,
    Hours,
    Supervision,
    deadline_for,
    defer_changes,
    dispatched_at,
    hold_end,
    resume_changes,
    supervise,
)
from dispatch.intake import Intake
from dispatch.repository import CaseIdTaken, CaseRepository

SYSTEM = "system"
# A lost compare-and-set is retried on the fresh case: most races are with a sweep's
# warning, which must not make a worker's accept fail. A real conflict then shows as
# InvalidTransition (someone else already moved the case on).
RETRIES = 5
PHOTO_ACTIONS = frozenset({"feedback"}) | REVIEW_ACTIONS  # the handler's proof, the checker's counter-proof
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class CaseNotFound(KeyError):
    pass


class ConcurrentUpdate(RuntimeError):
    """Someone else changed the case first (e.g. two workers accepting at once)."""


class UnknownMatter(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown matter code {code!r}")
        self.code = code


class BadParams(ValueError):
    """The action is allowed, but its parameters are wrong for this case."""

    def __init__(self, reason: str, detail: object = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class IntakeResult:
    case: Case
    created: bool  # False when the intake was merged into an open case nearby


class Dispatcher:
    def __init__(
        self,
        city: City,
        index: GridIndex,
        catalog: Catalog,
        repo: CaseRepository,
        config: DispatchConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.city = city
        self.index = index
        self.catalog = catalog  # the base catalogue: rule and label matching, the services listed
        # Each district's catalogue by day (approved versions over the base); the registry
        # swaps in a new book when the catalogue changes (command_center/registry/matters.py).
        self.book = CatalogBook(catalog)
        self.repo = repo
        self.config = config or DispatchConfig()
        self.tz = ZoneInfo(self.config.timezone)
        self.calendar = WorkCalendar(self.config.calendar, self.config.timezone)
        self.clock: Clock = clock or utc_now  # injectable: time limits are tested across weekends

    def local_now(self) -> datetime:  # now in the city: its zone's days are the ones events are counted in
        return self.clock().astimezone(self.tz)

    def today(self) -> date:  # the city's date: the sweeps by the day (care, re-checks, retention) go by it
        return self.local_now().date()

    @property
    def departments(self) -> frozenset[str]:
        return self.book.departments

    def matter_in(self, matter: Matter, grid_code: str, at: datetime) -> Matter:
        """The matter as the grid's district's catalogue has it for cases created at `at`."""
        area = self.book.for_area(grid_code, at.astimezone(self.tz).date())
        try:
            return area.get(matter.code)
        except KeyError:  # a code only another district has: its own terms
            return matter

    def matter_of(self, case: Case) -> Matter:
        """A case's matter: its district's version on the day the case was created."""
        return self.matter_in(self._matter(case.matter_code), case.grid_code, case.created_at)

    def prefetch_duplicates(self, items: list[Intake]) -> None:
        """Name the dedupe reads the intakes of `items` will make, so that the store can
        answer them in one round trip (a batch on PostgreSQL). Intakes whose matter is
        unknown are left out: their intake fails before any read."""
        now = self.clock()
        since = now - timedelta(minutes=self.config.dedupe_window_min)
        wanted = []
        for item in items:
            try:
                matter = self._matter(item.matter_code) if item.matter_code else self.catalog.match(item.rule, item.label)
            except UnknownMatter:
                continue
            wanted.append((matter.code, since, (item.lon, item.lat, self.config.dedupe_radius_m)))
        self.repo.prefetch_open_cases(wanted)

    def intake(self, item: Intake) -> IntakeResult:
        now = self.clock()
        matter = self._matter(item.matter_code) if item.matter_code else self.catalog.match(item.rule, item.label)
        duplicate = self._open_duplicate(matter.code, item, now)
        if duplicate is not None:
            return IntakeResult(self._attach(duplicate, item.ref_id, item.source, item.description, now), created=False)

        index = self.index  # once: a re-drawn map may swap it meanwhile; its city goes with it
        located = index.locate(item.lon, item.lat)
        # Every answer carries a grid or a community code; the city is the type-safe last resort.
        grid_code = (located.grid_code or located.community_code if located else None) or self.city_code
        matter = self.matter_in(matter, grid_code, now)  # the district's time limit and standard
        report = TimelineEntry(now, "report", item.source, CaseState.REPORTED, CaseState.REPORTED, item.description)
        case = Case(
            id=new_case_id(now),
            state=CaseState.REPORTED,
            matter_code=matter.code,
            grid_code=grid_code,
            source=item.source,
            created_at=now,
            deadline=deadline_for(self.calendar, matter, now),
            lon=item.lon,
            lat=item.lat,
            incident_ids=(item.ref_id,) if item.ref_id else (),
            description=item.description or matter.name,
            snapshot_url=item.snapshot_url,
            external_media_url=item.external_media_url,
            urgency=matter.urgency,
            timeline=(report,),
        )
        if item.device is not None:
            case = replace(case, device_id=item.device[0], device_name=item.device[1], device_kind=item.device[2])
        case, _ = transition(case, "register", SYSTEM, now=now)
        if matter.dispatch == "confirm" and item.source == "video":
            # Confirm-first: the hall looks before anyone is sent (triage.py ends the wait).
            case = replace(case, confirm_by=now + timedelta(seconds=matter.confirm_s))
        else:
            case = self.auto_dispatch(case, now, index.city)
        return IntakeResult(self._insert_new(case, now), created=True)

    def auto_dispatch(self, case: Case, now: datetime, city: City | None = None) -> Case:
        """The case handed to the least-loaded on-duty worker of its grid (or nearby), if any:
        else it stays registered, in the desk's queue of cases the machine could not route."""
        worker = self.pick_for(case, now, city)
        if worker is None:
            return replace(case, confirm_by=None)
        case, _ = transition(case, "dispatch", SYSTEM, note=f"to {worker.id}", now=now, assignee=worker.id, confirm_by=None)
        return case

    def pick_for(self, case: Case, now: datetime, city: City | None = None) -> Worker | None:
        """The on-duty worker auto-dispatch would send now (triage.py sends them by `act`)."""
        return pick_worker(city or self.index.city, case.grid_code, now.astimezone(self.tz), self.repo.open_counts)

    def hours_of(self, case: Case) -> Hours:
        """How the case's clock counts: every hour for a matter limited in minutes (its
        deadline was set by the clock), else the working calendar's hours."""
        try:
            by_clock = self.matter_of(case).time_limit.minutes is not None
        except (KeyError, ValueError):  # a matter no catalogue has any more: its urgency tells
            by_clock = case.urgency == "immediate"
        return ROUND_THE_CLOCK if by_clock else self.calendar

    def _insert_new(self, case: Case, now: datetime) -> Case:
        """Store a new case; should its random id be taken, under another one."""
        for _ in range(RETRIES):
            try:
                self.repo.insert_case(case)
                return case
            except CaseIdTaken:
                case = replace(case, id=new_case_id(now))
        raise ConcurrentUpdate(f"no free case id in {RETRIES} draws")

    def act(self, case_id: str, action: str, actor: str, note: str = "", **options: Any) -> Case:
        """The case after one action (see `step`)."""
        return self.step(case_id, action, actor, note, **options)[1]

    def step(
        self,
        case_id: str,
        action: str,
        actor: str,
        note: str = "",
        *,
        expected_version: int | None = None,
        on_behalf_of: str | None = None,
        **params: Any,
    ) -> tuple[Case, Case]:
        """The case as the action found it and as it left it (whom it was taken from, say).

        Apply one action with its parameters: `into` (merge); `until`, `hours` or `days` (defer);
        `department` (transfer); `photos` (feedback and checks: URLs to attach).

        `actor` is who really acts (the signed-in user): the timeline records them, and the
        checker-is-not-the-handler rule compares them. `on_behalf_of` names someone without a
        login they act for (a department, a worker on the phone); it goes into the note.
        `expected_version` makes it a compare-and-set against what the caller last saw."""
        for _ in range(RETRIES):
            case = self.get(case_id)
            if expected_version is not None and case.version != expected_version:
                raise ConcurrentUpdate(f"case {case_id} is at version {case.version}, not {expected_version}; reload")
            check_transition(case, action)
            check_actor(case, action, actor)
            now = self.clock()
            changes, full_note = self._prepare(case, action, note, dict(params), now)
            if on_behalf_of and on_behalf_of != actor:
                full_note = f"{full_note} (on behalf of {on_behalf_of})".strip()
            updated, entry = transition(case, action, actor, full_note, now, **changes)
            if self.repo.save_transition(updated, entry):
                if action == "merge" and updated.merged_into:
                    # Best effort: the merge itself is stored; the survivor shows the incidents too.
                    with contextlib.suppress(ConcurrentUpdate, CaseNotFound):
                        self._attach_many(updated.merged_into, case.incident_ids, actor, f"merged {case.id}", now)
                return case, updated
        raise ConcurrentUpdate(f"case {case_id} kept changing; reload and retry")

    def supervise(self, cases: list[Case], now: datetime | None = None) -> list[Supervision]:
        """Warn, escalate what is due and resume what was on hold (call it periodically);
        returns what was stored."""
        now = now or self.clock()
        done = []
        for case in cases:
            result = supervise(case, now, self.hours_of(case), self.config.warn_at)
            if result is not None and self.repo.save_transition(result.case, result.entry):
                done.append(result)
        return done

    def get(self, case_id: str) -> Case:
        case = self.repo.get_case(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        return case

    @property
    def city_code(self) -> str:
        return next(a.code for a in self.city.areas.values() if a.level == "city")

    def _matter(self, code: str) -> Matter:
        try:
            return self.catalog.get(code)
        except KeyError:
            found = self.book.find(code)  # a matter a district or the city added
            if found is None:
                raise UnknownMatter(code) from None
            return found

    def _prepare(
        self, case: Case, action: str, note: str, params: dict[str, Any], now: datetime
    ) -> tuple[dict[str, Any], str]:
        """The field changes an action brings, computed on the current case (so a retry after
        a lost race recomputes them), and the note to record."""
        changes: dict[str, Any] = {}
        if action in REASON_ACTIONS and not note.strip():
            raise BadParams(f"{action} needs a reason (note)")
        photos = tuple(params.pop("photos", None) or ())
        if photos:
            if action not in PHOTO_ACTIONS:
                raise BadParams(f"photos go with {', '.join(sorted(PHOTO_ACTIONS))}, not {action}")
            changes["photos"] = case.photos + tuple(dict.fromkeys(u for u in photos if u not in case.photos))
            note = f"{note} [{len(photos)} photo{'s' if len(photos) > 1 else ''}]".strip()
        if action == "merge":
            changes["merged_into"] = self._merge_target(case, params.pop("into", None) or params.pop("merged_into", None))
        elif action == "defer":
            try:
                until = hold_end(params, now, self.calendar, self.tz)
                changes.update(defer_changes(case, now, self.hours_of(case), until))
            except ValueError as exc:  # BadHold names what it refused
                raise BadParams(str(exc), getattr(exc, "detail", None)) from None
            # The fields are overwritten by the next deferral; the timeline keeps each one.
            note = f"{note} (until {self._local(until)}; deadline {self._local(changes['deadline'])})"
        elif action == "resume":
            changes.update(resume_changes(case, now, self.hours_of(case)))
            if "deadline" in changes:
                note = f"{note} (early; deadline {self._local(changes['deadline'])})".strip()
        elif action in ("dispatch", "reassign"):
            changes.update(self._to_worker(case, action, params.pop("worker", None)), confirm_by=None)
            note = f"to {changes['assignee']}: {note}" if note else f"to {changes['assignee']}"
        elif action == "reclassify":
            changes.update(self._reclassified(case, params.pop("matter", None)))
            note = f"{case.matter_code} → {changes['matter_code']}: {note}"
        elif action == "transfer":
            department = params.pop("department", None) or self.matter_of(case).department
            if department not in self.departments:
                raise BadParams("unknown department", sorted(self.departments))
            changes.update(assignee=department, department=department)
            note = f"to {department}: {note}" if note else f"to {department}"
        if params:
            raise BadParams(f"unexpected parameters for {action}", sorted(params))
        return changes, note

    def _to_worker(self, case: Case, action: str, worker_id: object) -> dict[str, Any]:
        """A manual dispatch or a reassignment: to a worker of the city's roster."""
        if not isinstance(worker_id, str) or not worker_id:
            raise BadParams(f"{action} needs 'worker'", "the id of a grid worker")
        if not any(w.id == worker_id for w in self.city.workers):
            raise BadParams("unknown worker", worker_id)
        if action == "reassign" and worker_id == case.assignee:
            raise BadParams("the case is already assigned to this worker", worker_id)
        return {"assignee": worker_id, "department": None}

    def _reclassified(self, case: Case, code: object) -> dict[str, Any]:
        """Another matter: its district's terms as on the case's first day, the clock kept."""
        if not isinstance(code, str) or not code:
            raise BadParams("reclassify needs 'matter'", "a matter code")
        if code == case.matter_code:
            raise BadParams("the case already has this matter", code)
        try:
            matter = self.matter_in(self._matter(code), case.grid_code, case.created_at)
        except UnknownMatter:
            raise BadParams("unknown matter code", code) from None
        return {
            "matter_code": matter.code,
            "urgency": matter.urgency,
            "deadline": deadline_for(self.calendar, matter, dispatched_at(case)),
        }

    def _local(self, moment: datetime) -> str:
        return f"{moment.astimezone(self.tz):%Y-%m-%d %H:%M}"

    def _merge_target(self, case: Case, into: object) -> str:
        if not isinstance(into, str) or not into or into == case.id:
            raise BadParams("merge needs 'into'", "the id of another case")
        target = self.repo.get_case(into)
        if target is None:
            raise BadParams("case to merge into not found", into)
        if not target.is_open:
            raise BadParams("cannot merge into a case that is no longer open", {"into": into, "state": target.state.value})
        return into

    def _open_duplicate(self, matter_code: str, item: Intake, now: datetime) -> Case | None:
        since = now - timedelta(minutes=self.config.dedupe_window_min)
        radius = self.config.dedupe_radius_m
        near = [
            c for c in self.repo.open_cases_of_matter(matter_code, since, (item.lon, item.lat, radius))
            if metres_between(c.lon, c.lat, item.lon, item.lat) <= radius
        ]
        return min(near, key=lambda c: metres_between(c.lon, c.lat, item.lon, item.lat)) if near else None

    def _attach(self, case: Case, ref_id: str | None, actor: str, description: str, now: datetime) -> Case:
        return self._attach_many(case.id, (ref_id,) if ref_id else (), actor, ref_id or description, now, case)

    def _attach_many(
        self, case_id: str, ids: tuple[str, ...], actor: str, note: str, now: datetime, case: Case | None = None
    ) -> Case:
        """Add incident ids to a case without changing its step (a duplicate, a merged case)."""
        case = case or self.get(case_id)
        for _ in range(RETRIES):
            merged_ids = case.incident_ids + tuple(i for i in ids if i not in case.incident_ids)
            entry = TimelineEntry(now, "attach", actor, case.state, case.state, note)
            updated = replace(
                case, incident_ids=merged_ids, version=case.version + 1, updated_at=now, timeline=(*case.timeline, entry)
            )
            if self.repo.save_transition(updated, entry):
                return updated
            case = self.get(case_id)
        raise ConcurrentUpdate(f"case {case_id} kept changing while attaching {note}")
