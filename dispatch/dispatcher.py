"""Intake → grid → matter → dedupe → case → worker; and every later action on a case."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dispatch.assign import pick_worker
from dispatch.calendar import WorkCalendar
from dispatch.cases import Case, CaseState, TimelineEntry, new_case_id, transition
from dispatch.catalog import Catalog
from dispatch.city import City, GridIndex
from dispatch.config import DispatchConfig
from dispatch.deadlines import Supervision, deadline_for, supervise
from dispatch.intake import Intake
from dispatch.repository import CaseRepository

SYSTEM = "system"


class CaseNotFound(KeyError):
    pass


class ConcurrentUpdate(RuntimeError):
    """Someone else changed the case first (e.g. two workers accepting at once)."""


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
    ) -> None:
        self.city = city
        self.index = index
        self.catalog = catalog
        self.repo = repo
        self.config = config or DispatchConfig()
        self.tz = ZoneInfo(self.config.timezone)
        self.calendar = WorkCalendar(self.config.calendar, self.config.timezone)

    def intake(self, item: Intake) -> IntakeResult:
        now = datetime.now(UTC)
        matter = self.catalog.get(item.matter_code) if item.matter_code else self.catalog.match(item.rule, item.label)
        duplicate = self._open_duplicate(matter.code, item, now)
        if duplicate is not None:
            return IntakeResult(self._attach(duplicate, item, now), created=False)

        located = self.index.locate(item.lon, item.lat)
        grid_code = located.grid_code or located.community_code if located else self.city_code
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
            timeline=(report,),
        )
        case, _ = transition(case, "register", SYSTEM, now=now)
        worker = pick_worker(self.city, grid_code, now.astimezone(self.tz), self.repo.open_counts)
        if worker is not None:
            case, _ = transition(case, "dispatch", SYSTEM, note=f"to {worker.id}", now=now, assignee=worker.id)
        self.repo.insert_case(case)
        return IntakeResult(case, created=True)

    def act(self, case_id: str, action: str, actor: str, note: str = "", **changes: object) -> Case:
        case = self.get(case_id)
        updated, entry = transition(case, action, actor, note, **changes)
        if not self.repo.save_transition(updated, entry):
            raise ConcurrentUpdate(f"case {case_id} changed meanwhile; reload and retry")
        return updated

    def supervise(self, cases: list[Case], now: datetime | None = None) -> list[Supervision]:
        """Warn and escalate what is due (call it periodically); returns what was stored."""
        now = now or datetime.now(UTC)
        done = []
        for case in cases:
            result = supervise(case, now, self.calendar, self.config.warn_at)
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

    def _open_duplicate(self, matter_code: str, item: Intake, now: datetime) -> Case | None:
        since = now - timedelta(minutes=self.config.dedupe_window_min)
        radius = self.config.dedupe_radius_m
        near = [
            c for c in self.repo.open_cases_of_matter(matter_code, since)
            if _metres(c.lon, c.lat, item.lon, item.lat) <= radius
        ]
        return min(near, key=lambda c: _metres(c.lon, c.lat, item.lon, item.lat)) if near else None

    def _attach(self, case: Case, item: Intake, now: datetime) -> Case:
        for _ in range(3):
            ids = case.incident_ids + ((item.ref_id,) if item.ref_id else ())
            entry = TimelineEntry(now, "attach", item.source, case.state, case.state, item.ref_id or item.description)
            updated = replace(
                case, incident_ids=ids, version=case.version + 1, updated_at=now, timeline=(*case.timeline, entry)
            )
            if self.repo.save_transition(updated, entry):
                return updated
            case = self.get(case.id)
        raise ConcurrentUpdate(f"case {case.id} kept changing while attaching {item.ref_id}")


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    k = 111_320.0
    dx = (lon2 - lon1) * k * math.cos(math.radians((lat1 + lat2) / 2))
    dy = (lat2 - lat1) * k
    return math.hypot(dx, dy)
