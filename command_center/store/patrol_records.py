"""Key places, patrol check-ins and attendance in the store (tables: store/patrol_schema.py),
written once for SQLite and PostgreSQL through the store's own connections (StoreAccess),
like store/basedata_records.py.

- A place changes by compare-and-set on the version read (`VersionConflict` carries it as
  it stands); a check-in and the place's new due date go in ONE transaction, so a place
  never shows "checked" without the check-in that did it, nor the other way round.
- Coverage per grid and the monthly attendance summary are computed by the database
  (GROUP BY / SUM), never by loading rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from basedata.attendance import MonthSummary
from basedata.patrol import CheckIn, KeyPlace
from command_center.store.access import StoreAccess
from command_center.store.basedata_records import grid_range
from command_center.store.patrol_schema import attendance_days, attendance_track, key_places, patrol_checkins
from command_center.store.queries import compile_sql, const

PLACE_STAMPS = ("created_at", "updated_at", "updated_by")


class VersionConflict(Exception):
    def __init__(self, current: KeyPlace) -> None:
        super().__init__(f"version {current.version} is stored; the change was made to an older one")
        self.current = current


class PlaceExists(Exception):
    pass


class AlreadyOnDuty(Exception):
    """The worker has a check-in for that day already (`row`: it)."""

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__(f"checked in on {row['day']} at {row['on_at']}")
        self.row = row


@dataclass(frozen=True, slots=True)
class TrackPoint:
    at: datetime  # tz-aware
    lon: float
    lat: float


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _all(table: sa.Table) -> dict[str, sa.BindParameter[Any]]:
    return {c.name: sa.bindparam(c.name) for c in table.columns}


def _day(column: Any) -> Any:
    """The local day of an ISO time with offset: its first ten characters."""
    return sa.func.substr(column, const(1), const(10))


@cache
def _sql(dialect: str) -> dict[str, str]:
    p, c, d, t = key_places, patrol_checkins, attendance_days, attendance_track
    in_range = sa.and_(p.c.grid_code >= sa.bindparam("lo"), p.c.grid_code < sa.bindparam("hi"))
    checked = _day(p.c.last_checked_at) == sa.bindparam("today")
    due = sa.or_(p.c.next_due.is_(None), p.c.next_due <= sa.bindparam("today"), checked)
    one = sa.select(*p.columns).where(p.c.id == sa.bindparam("id"))
    in_month = sa.and_(d.c.worker_id == sa.bindparam("worker"), d.c.day >= sa.bindparam("lo"), d.c.day < sa.bindparam("hi"))
    statements: dict[str, Any] = {
        "place_insert": sa.insert(p).values(_all(p)),
        "place_get": one,
        "place_get_for_update": one.with_for_update() if dialect == "postgresql" else one,
        "place_update": sa.update(p)
        .where(p.c.id == sa.bindparam("id"), p.c.version == sa.bindparam("expected"))
        .values({col.name: sa.bindparam(f"new_{col.name}") for col in p.columns if col.name not in ("id", "created_at")}),
        "place_checked": sa.update(p)
        .where(p.c.id == sa.bindparam("id"))
        .values(last_checked_at=sa.bindparam("at"), next_due=sa.bindparam("next_due"), version=p.c.version + const(1),
                updated_at=sa.bindparam("stamp"), updated_by=sa.bindparam("by")),
        "places_under": sa.select(*p.columns).where(in_range).order_by(p.c.grid_code, p.c.id)
        .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")),
        "places_in_grid": sa.select(*p.columns).where(p.c.grid_code == sa.bindparam("grid")).order_by(p.c.id),
        "coverage": sa.select(
            p.c.grid_code,
            sa.func.sum(sa.case((due, const(1)), else_=const(0))).label("due"),
            sa.func.sum(sa.case((checked, const(1)), else_=const(0))).label("checked"),
            sa.func.count().label("places"),
        ).where(in_range).group_by(p.c.grid_code).order_by(p.c.grid_code),
        "checkin_insert": sa.insert(c).values(_all(c)),
        "checkin_case": sa.update(c).where(c.c.id == sa.bindparam("id")).values(case_id=sa.bindparam("case_id")),
        "checkins_of_place": sa.select(*c.columns).where(c.c.place_id == sa.bindparam("place"))
        .order_by(c.c.at.desc()).limit(sa.bindparam("limit")).offset(const(0)),
        "day_insert": _insert(dialect, d).values(_all(d)).on_conflict_do_nothing(index_elements=["worker_id", "day"]),
        "day_get": sa.select(*d.columns).where(d.c.worker_id == sa.bindparam("worker"), d.c.day == sa.bindparam("day")),
        "day_open": sa.select(*d.columns).where(d.c.worker_id == sa.bindparam("worker"), d.c.off_at.is_(None))
        .order_by(d.c.day.desc()).limit(const(1)).offset(const(0)),
        "day_close": sa.update(d)
        .where(d.c.worker_id == sa.bindparam("worker"), d.c.day == sa.bindparam("day"), d.c.off_at.is_(None))
        .values(off_at=sa.bindparam("off_at"), off_lon=sa.bindparam("lon"), off_lat=sa.bindparam("lat"),
                duty_s=sa.bindparam("duty_s")),
        "month": sa.select(
            sa.func.count().label("days"),
            sa.func.coalesce(sa.func.sum(d.c.duty_s), const(0)).label("duty_s"),
            sa.func.coalesce(sa.func.sum(sa.case((d.c.late, const(1)), else_=const(0))), const(0)).label("late"),
            sa.func.coalesce(sa.func.sum(sa.case((d.c.off_at.is_(None), const(1)), else_=const(0))), const(0)),
        ).where(in_month),
        "track_insert": _insert(dialect, t).values(_all(t)).on_conflict_do_nothing(index_elements=["worker_id", "at"]),
        "track_of": sa.select(t.c.at, t.c.lon, t.c.lat)
        .where(t.c.worker_id == sa.bindparam("worker"), t.c.at >= sa.bindparam("since")).order_by(t.c.at),
        "track_prune": sa.delete(t).where(t.c.at < sa.bindparam("cutoff")),
    }  # fmt: skip
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _place_row(place: KeyPlace, at: str, by: str) -> dict[str, Any]:
    row = place.model_dump(mode="json")
    row["checklist"] = json.dumps(row["checklist"], ensure_ascii=False)
    return row | {"created_at": at, "updated_at": at, "updated_by": by}


def _place(raw: Iterable[Any]) -> KeyPlace:
    row = dict(zip((col.name for col in key_places.columns), raw, strict=True))
    for stamp in PLACE_STAMPS:
        del row[stamp]
    row["checklist"] = json.loads(row["checklist"])
    return KeyPlace.model_validate(row)


def _checkin(raw: Iterable[Any]) -> CheckIn:
    row = dict(zip((col.name for col in patrol_checkins.columns), raw, strict=True))
    row["answers"] = json.loads(row["answers"])
    return CheckIn.model_validate(row)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class PatrolRecords:
    """Key places, check-ins, attendance days and tracks of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.sql = _sql(store.dialect)

    # places
    def add_place(self, place: KeyPlace, by: str) -> KeyPlace:
        with self.store._writing() as db:
            if db.execute(self.sql["place_get"], {"id": place.id}).fetchone() is not None:
                raise PlaceExists(place.id)
            db.execute(self.sql["place_insert"], _place_row(place, _now(), by))
        return place

    def get_place(self, place_id: str) -> KeyPlace | None:
        with self.store._reading() as db:
            raw = db.execute(self.sql["place_get"], {"id": place_id}).fetchone()
        return None if raw is None else _place(raw)

    def update_place(self, place_id: str, changes: Mapping[str, Any], expected_version: int, by: str) -> KeyPlace:
        """The place with `changes` (field names) if still at `expected_version`; KeyError
        when missing, VersionConflict when moved on, pydantic's ValidationError when bad."""
        if "id" in changes or "version" in changes:
            raise ValueError("a place's id and version are not changed by an update")
        with self.store._writing() as db:
            raw = db.execute(self.sql["place_get_for_update"], {"id": place_id}).fetchone()
            if raw is None:
                raise KeyError(place_id)
            current = _place(raw)
            if current.version != expected_version:
                raise VersionConflict(current)
            new = KeyPlace.model_validate(current.model_dump() | dict(changes) | {"version": current.version + 1})
            row = _place_row(new, _now(), by)
            params = {f"new_{k}": v for k, v in row.items() if k not in ("id", "created_at")}
            db.execute(self.sql["place_update"], params | {"id": place_id, "expected": expected_version})
        return new

    def places_under(self, prefix: str = "", limit: int = 100, offset: int = 0) -> list[KeyPlace]:
        params: dict[str, Any] = grid_range(prefix) | {"limit": limit, "offset": offset}
        with self.store._reading() as db:
            return [_place(r) for r in db.execute(self.sql["places_under"], params).fetchall()]

    def places_in(self, grids: Iterable[str]) -> list[KeyPlace]:
        """Every place of these grids (a worker's few: one indexed query each)."""
        with self.store._reading() as db:
            return [_place(r) for g in sorted(set(grids)) for r in db.execute(self.sql["places_in_grid"], {"grid": g}).fetchall()]

    def coverage(self, prefix: str, today: date) -> list[dict[str, Any]]:
        """Per grid under the prefix holding places: places due today (due by then, or
        checked today), checked today, all places."""
        params = grid_range(prefix) | {"today": today.isoformat()}
        with self.store._reading() as db:
            rows = db.execute(self.sql["coverage"], params).fetchall()
        return [{"grid_code": g, "due": int(due), "checked": int(done), "places": int(n)} for g, due, done, n in rows]

    # check-ins
    def record_checkin(self, checkin: CheckIn, place_after: KeyPlace, by: str) -> None:
        """The check-in and the place's last check and next due date, in one transaction."""
        row = checkin.model_dump(mode="json")
        row["answers"] = json.dumps(row["answers"], ensure_ascii=False)
        moved = {"id": place_after.id, "at": checkin.at.isoformat(), "by": by, "stamp": _now(),
                 "next_due": None if place_after.next_due is None else place_after.next_due.isoformat()}  # fmt: skip
        with self.store._writing() as db:
            db.execute(self.sql["checkin_insert"], row)
            if db.execute(self.sql["place_checked"], moved).rowcount != 1:
                raise KeyError(place_after.id)

    def set_checkin_case(self, checkin_id: str, case_id: str) -> None:
        with self.store._writing() as db:
            db.execute(self.sql["checkin_case"], {"id": checkin_id, "case_id": case_id})

    def checkins_of(self, place_id: str, limit: int = 50) -> list[CheckIn]:
        with self.store._reading() as db:
            rows = db.execute(self.sql["checkins_of_place"], {"place": place_id, "limit": limit}).fetchall()
        return [_checkin(r) for r in rows]

    # attendance
    def _day_row(self, raw: Any) -> dict[str, Any]:
        row = dict(zip((col.name for col in attendance_days.columns), raw, strict=True))
        row["late"] = bool(row["late"])
        return row

    def start_day(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A worker's check-in for a day (attendance_days' columns); AlreadyOnDuty when
        that day has one (kept: the first check-in of a day is what counts)."""
        with self.store._writing() as db:
            if db.execute(self.sql["day_insert"], dict(row)).rowcount != 1:
                found = db.execute(self.sql["day_get"], {"worker": row["worker_id"], "day": row["day"]}).fetchone()
                raise AlreadyOnDuty(self._day_row(found))
        return dict(row)

    def open_day(self, worker_id: str) -> dict[str, Any] | None:
        """The worker's day checked in and not out (the latest), or None: off duty."""
        with self.store._reading() as db:
            raw = db.execute(self.sql["day_open"], {"worker": worker_id}).fetchone()
        return None if raw is None else self._day_row(raw)

    def end_day(self, worker_id: str, day: str, off_at: datetime, lon: float, lat: float, duty_s: int) -> bool:
        """Close the day if still open; False when it was closed meanwhile."""
        params = {"worker": worker_id, "day": day, "off_at": off_at.isoformat(), "lon": lon, "lat": lat, "duty_s": duty_s}
        with self.store._writing() as db:
            return bool(db.execute(self.sql["day_close"], params).rowcount == 1)

    def month(self, worker_id: str, month: str, first: date, after: date) -> MonthSummary:
        params = {"worker": worker_id, "lo": first.isoformat(), "hi": after.isoformat()}
        with self.store._reading() as db:
            days, duty_s, late, still_open = db.execute(self.sql["month"], params).fetchone()
        return MonthSummary(worker_id=worker_id, month=month, days_present=int(days), late_starts=int(late),
                            hours_on_duty=round(int(duty_s) / 3600, 2), open_days=int(still_open))  # fmt: skip

    def add_track(self, worker_id: str, points: Iterable[TrackPoint]) -> int:
        """Points stored (a point at an instant already stored is skipped: a resend)."""
        rows = [{"worker_id": worker_id, "at": p.at.astimezone(UTC).isoformat(), "lon": p.lon, "lat": p.lat} for p in points]
        added = 0
        with self.store._writing() as db:
            for row in rows:
                added += max(0, db.execute(self.sql["track_insert"], row).rowcount)
        return added

    def track_of(self, worker_id: str, since: datetime) -> list[TrackPoint]:
        params = {"worker": worker_id, "since": since.astimezone(UTC).isoformat()}
        with self.store._reading() as db:
            rows = db.execute(self.sql["track_of"], params).fetchall()
        return [TrackPoint(datetime.fromisoformat(at), float(lon), float(lat)) for at, lon, lat in rows]

    def prune_track(self, before: datetime) -> int:
        """Track points older than `before` deleted (the retention sweep); how many."""
        with self.store._writing() as db:
            return int(db.execute(self.sql["track_prune"], {"cutoff": before.astimezone(UTC).isoformat()}).rowcount)


def patrol_store(store: object) -> PatrolRecords:
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no patrols")
    return PatrolRecords(store)
