"""The device registry and devices' recent readings in the store (tables:
store/device_schema.py), written once for SQLite and PostgreSQL over the store's own
connections (StoreAccess), like store/patrol_records.py.

- A form's change is a compare-and-set on the version it read (`VersionConflict` carries
  the device as it stands); an import is ONE transaction (`upsert_all`): all rows or none.
- Telemetry (`touch`, `mark_offline`, `set_state`) never bumps the version: a device
  reporting does not make an admin's open form stale.
- Readings are keyed (device, name, ts): a redelivered message adds nothing. The series is
  kept short by `prune_readings` (by age and by count per device and name, in SQL).
- Counts by state per area are a GROUP BY in the database, never rows loaded.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.registry.device_model import STATES, Device
from command_center.store.access import StoreAccess
from command_center.store.basedata_records import grid_range
from command_center.store.device_schema import device_readings, devices
from command_center.store.queries import compile_sql, const

SLOTS = 100  # ids per statement of a list parameter (padded with NULL, which equals nothing)
FORM_COLUMNS = ("name", "kind", "lon", "lat", "grid_code", "address",
                "thresholds", "heartbeat_s", "installed_at")  # fmt: skip
LIVE = devices.c.retired_at.is_(None)


class VersionConflict(Exception):
    def __init__(self, current: Device) -> None:
        super().__init__(f"version {current.version} is stored; the change was made to an older one")
        self.current = current


class DeviceExists(Exception):
    pass


def stamp(at: datetime) -> str:
    """UTC ISO text with milliseconds: one length, so text order is time order."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def _insert(dialect: str) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(devices)


def _filters(kind: bool, state: bool, q: bool) -> list[Any]:
    d = devices.c
    where: list[Any] = [d.grid_code >= sa.bindparam("lo"), d.grid_code < sa.bindparam("hi"), LIVE]
    if kind:
        where.append(d.kind == sa.bindparam("kind"))
    if state:
        where.append(d.state == sa.bindparam("state"))
    if q:
        where.append(
            sa.or_(d.name.like(sa.bindparam("q"), escape="\\"), d.id.like(sa.bindparam("q"), escape="\\"))
        )
    return where


@cache
def _listing(dialect: str, kind: bool, state: bool, q: bool) -> tuple[str, str]:
    where = _filters(kind, state, q)
    rows = sa.select(*devices.columns).where(*where).order_by(devices.c.grid_code, devices.c.id)
    page = rows.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
    total = sa.select(sa.func.count()).select_from(devices).where(*where)
    return compile_sql(page, dialect), compile_sql(total, dialect)


@cache
def _counts(dialect: str, digits: int) -> str:
    area = sa.func.substr(devices.c.grid_code, const(1), const(digits)).label("area")
    select = (
        sa.select(area, devices.c.state, sa.func.count())
        .where(devices.c.grid_code >= sa.bindparam("lo"), devices.c.grid_code < sa.bindparam("hi"), LIVE)
        .group_by(area, devices.c.state)
    )
    return compile_sql(select, dialect)


@cache
def _sql(dialect: str) -> dict[str, str]:
    d, r = devices, device_readings
    one = sa.select(*d.columns).where(d.c.id == sa.bindparam("id"))
    slots: list[sa.BindParameter[Any]] = [sa.bindparam(f"i{n}") for n in range(SLOTS)]
    upsert = _insert(dialect).values({c.name: sa.bindparam(c.name) for c in d.columns})
    form_and_stamps = {name: upsert.excluded[name] for name in (*FORM_COLUMNS, "updated_at", "updated_by")}
    recent = (
        sa.select(r.c.ts, r.c.value)
        .where(r.c.device_id == sa.bindparam("id"), r.c.name == sa.bindparam("name"))
        .order_by(r.c.ts.desc()).limit(sa.bindparam("n")).offset(const(0))
    )  # fmt: skip
    ranked = sa.select(
        r.c.device_id, r.c.name, r.c.ts,
        sa.func.row_number().over(partition_by=(r.c.device_id, r.c.name), order_by=r.c.ts.desc()).label("k"),
    ).subquery()  # fmt: skip
    surplus = sa.select(ranked.c.device_id, ranked.c.name, ranked.c.ts).where(
        ranked.c.k > sa.bindparam("keep")
    )
    ranked_in = sa.select(
        r.c.device_id, r.c.name, r.c.ts, r.c.value,
        sa.func.row_number().over(partition_by=(r.c.device_id, r.c.name), order_by=r.c.ts.desc()).label("k"),
    ).where(r.c.device_id.in_(slots)).subquery()  # fmt: skip
    statements: dict[str, Any] = {
        "get": one,
        "get_for_update": one.with_for_update() if dialect == "postgresql" else one,
        "insert": sa.insert(d).values({c.name: sa.bindparam(c.name) for c in d.columns}),
        "replace": sa.update(d).where(d.c.id == sa.bindparam("id"))
        .values({c.name: sa.bindparam(f"new_{c.name}") for c in d.columns if c.name != "id"}),
        "update": sa.update(d)
        .where(d.c.id == sa.bindparam("id"), d.c.version == sa.bindparam("expected"), LIVE)
        .values({name: sa.bindparam(f"new_{name}") for name in (*FORM_COLUMNS, "version", "updated_at", "updated_by")}),
        # an import: the form's columns replace the stored ones; telemetry stays; a retired one is back
        "upsert": upsert.on_conflict_do_update(
            index_elements=[d.c.id],
            set_={**form_and_stamps, "version": d.c.version + const(1), "retired_at": upsert.excluded.retired_at},
        ),
        "ids_in": sa.select(d.c.id, d.c.retired_at).where(d.c.id.in_(slots)),
        "get_in": sa.select(*d.columns).where(d.c.id.in_(slots), LIVE),
        "recent_in": sa.select(ranked_in.c.device_id, ranked_in.c.name, ranked_in.c.ts, ranked_in.c.value)
        .where(ranked_in.c.k <= sa.bindparam("n")),
        "retire": sa.update(d).where(d.c.id == sa.bindparam("id"), LIVE)
        .values(retired_at=sa.bindparam("at"), updated_at=sa.bindparam("at"), updated_by=sa.bindparam("by"),
                version=d.c.version + const(1)),
        "touch": sa.update(d).where(d.c.id == sa.bindparam("id"), LIVE).values(
            last_seen=sa.case((sa.or_(d.c.last_seen.is_(None), d.c.last_seen < sa.bindparam("ts")), sa.bindparam("ts")),
                              else_=d.c.last_seen),
            battery=sa.func.coalesce(sa.cast(sa.bindparam("battery"), d.c.battery.type), d.c.battery),
            signal=sa.func.coalesce(sa.cast(sa.bindparam("signal"), d.c.signal.type), d.c.signal),
            state=sa.case((d.c.state == const("offline"), const("online")), else_=d.c.state),
        ),
        "offline": sa.update(d).where(d.c.id.in_(slots), d.c.state != const("offline"), LIVE).values(state=const("offline")),
        "set_state": sa.update(d).where(d.c.id == sa.bindparam("id"), LIVE).values(state=sa.bindparam("state")),
        "reading": (postgresql.insert if dialect == "postgresql" else sqlite.insert)(r)
        .values({c.name: sa.bindparam(c.name) for c in r.columns}).on_conflict_do_nothing(),
        "recent": recent,
        "names": sa.select(r.c.name).where(r.c.device_id == sa.bindparam("id")).group_by(r.c.name).order_by(r.c.name),
        "prune_age": sa.delete(r).where(r.c.ts < sa.bindparam("cutoff")),
        "prune_count": sa.delete(r).where(sa.tuple_(r.c.device_id, r.c.name, r.c.ts).in_(surplus)),
    }  # fmt: skip
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _row(device: Device, at: str, by: str, created: str | None = None) -> dict[str, Any]:
    row = device.model_dump(mode="json")
    row["thresholds"] = json.dumps(row["thresholds"], ensure_ascii=False, sort_keys=True)
    if device.last_seen is not None:
        row["last_seen"] = stamp(device.last_seen)
    return row | {"created_at": created or at, "updated_at": at, "updated_by": by, "retired_at": None}


def _device(raw: Iterable[Any]) -> Device:
    row = dict(zip((c.name for c in devices.columns), raw, strict=True))
    for name in ("created_at", "updated_at", "updated_by", "retired_at"):
        del row[name]
    row["thresholds"] = json.loads(row["thresholds"])
    return Device.model_validate(row)


def _chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _slots(ids: Sequence[str]) -> dict[str, Any]:
    return {f"i{n}": (ids[n] if n < len(ids) else None) for n in range(SLOTS)}


def _now() -> str:
    return stamp(datetime.now(UTC))


class DeviceRecords:
    """Devices and their readings of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.dialect = store.dialect
        self.sql = _sql(store.dialect)

    def _many(self, db: Any, sql: str, rows: builtins.list[dict[str, Any]]) -> int:
        """executemany on the transaction's connection (psycopg: pipelined on a cursor)."""
        if self.dialect == "sqlite":
            return int(db.executemany(sql, rows).rowcount)
        with db.cursor() as cur:
            cur.executemany(sql, rows)
            return int(cur.rowcount)

    # the registry
    def add(self, device: Device, by: str) -> Device:
        """A new device (version 1); DeviceExists when one of that id is registered. A
        retired device's id may be registered again: its row is replaced."""
        at = _now()
        with self.store._writing() as db:
            found = db.execute(self.sql["get_for_update"], {"id": device.id}).fetchone()
            fresh = _row(device.model_copy(update={"version": 1}), at, by)
            if found is None:
                db.execute(self.sql["insert"], fresh)
            elif found[-1] is not None:  # retired_at: the last column
                db.execute(
                    self.sql["replace"],
                    {"id": device.id, **{f"new_{k}": v for k, v in fresh.items() if k != "id"}},
                )
            else:
                raise DeviceExists(device.id)
        return device.model_copy(update={"version": 1})

    def get(self, device_id: str) -> Device | None:
        """The registered device (None when unknown or retired)."""
        with self.store._reading() as db:
            raw = db.execute(self.sql["get"], {"id": device_id}).fetchone()
        return None if raw is None or raw[-1] is not None else _device(raw)

    def update(self, device_id: str, changes: Mapping[str, Any], expected_version: int, by: str) -> Device:
        """The device with `changes` (form fields) if still at `expected_version`; KeyError
        when missing, VersionConflict when moved on, pydantic's ValidationError when bad."""
        if set(changes) - set(FORM_COLUMNS):
            raise ValueError(f"not form fields: {sorted(set(changes) - set(FORM_COLUMNS))}")
        with self.store._writing() as db:
            raw = db.execute(self.sql["get_for_update"], {"id": device_id}).fetchone()
            if raw is None or raw[-1] is not None:
                raise KeyError(device_id)
            current = _device(raw)
            if current.version != expected_version:
                raise VersionConflict(current)
            new = Device.model_validate(
                current.model_dump() | dict(changes) | {"version": current.version + 1}
            )
            row = _row(new, _now(), by)
            params = {f"new_{k}": row[k] for k in (*FORM_COLUMNS, "version", "updated_at", "updated_by")}
            db.execute(self.sql["update"], params | {"id": device_id, "expected": expected_version})
        return new

    def retire(self, device_id: str, by: str) -> bool:
        """Out of the registry (the row stays for what names it); False when not registered."""
        with self.store._writing() as db:
            return bool(
                db.execute(self.sql["retire"], {"id": device_id, "at": _now(), "by": by}).rowcount == 1
            )

    def registered(self, ids: Iterable[str]) -> dict[str, bool]:
        """Of these ids, those with a row: id → whether it is live (not retired)."""
        found: dict[str, bool] = {}
        with self.store._reading() as db:
            for chunk in _chunks(sorted(set(ids)), SLOTS):
                for device_id, retired in db.execute(self.sql["ids_in"], _slots(chunk)).fetchall():
                    found[device_id] = retired is None
        return found

    def get_many(self, ids: Iterable[str]) -> dict[str, Device]:
        """The registered (live) devices of these ids, a statement per hundred: the IoT loop's
        first sight of a group of devices in one round."""
        found: dict[str, Device] = {}
        with self.store._reading() as db:
            for chunk in _chunks(sorted(set(ids)), SLOTS):
                for raw in db.execute(self.sql["get_in"], _slots(chunk)).fetchall():
                    device = _device(raw)
                    found[device.id] = device
        return found

    def recent_many(
        self, ids: Iterable[str], n: int
    ) -> dict[str, builtins.list[tuple[str, datetime, float]]]:
        """Each device's last `n` readings of each name, as (name, ts, value), oldest first."""
        found: dict[str, builtins.list[tuple[str, datetime, float]]] = {}
        with self.store._reading() as db:
            for chunk in _chunks(sorted(set(ids)), SLOTS):
                params = _slots(chunk) | {"n": n}
                for device_id, name, ts, value in db.execute(self.sql["recent_in"], params).fetchall():
                    found.setdefault(device_id, []).append((name, datetime.fromisoformat(ts), float(value)))
        for rows in found.values():
            rows.sort(key=lambda row: row[1])
        return found

    def upsert_all(self, items: Sequence[Device], by: str) -> dict[str, int]:
        """An import: every device written in ONE transaction (an error leaves nothing
        written). New ones are added; known ones get the form's fields and a new version,
        keep their state, last seen, battery and signal; retired ones are registered again."""
        at = _now()
        rows = [_row(d.model_copy(update={"version": 1}), at, by) for d in items]
        with self.store._writing() as db:
            known: set[str] = set()
            for chunk in _chunks([r["id"] for r in rows], SLOTS):
                known.update(found[0] for found in db.execute(self.sql["ids_in"], _slots(chunk)).fetchall())
            for chunk in _chunks(rows, 1000):
                self._many(db, self.sql["upsert"], chunk)
        updated = sum(1 for r in rows if r["id"] in known)
        return {"added": len(rows) - updated, "updated": updated}

    def list(
        self, prefix: str = "", limit: int = 100, offset: int = 0, **filters: str | None
    ) -> builtins.list[Device]:
        """Devices under a grid prefix by grid and id; filters: kind, state, q (name or id contains)."""
        page, _ = _listing(self.dialect, *self._flags(filters))
        params = grid_range(prefix) | self._filter_params(filters) | {"limit": limit, "offset": offset}
        with self.store._reading() as db:
            return [_device(raw) for raw in db.execute(page, params).fetchall()]

    def count(self, prefix: str = "", **filters: str | None) -> int:
        _, total = _listing(self.dialect, *self._flags(filters))
        with self.store._reading() as db:
            return int(db.execute(total, grid_range(prefix) | self._filter_params(filters)).fetchone()[0])

    @staticmethod
    def _flags(filters: Mapping[str, str | None]) -> tuple[bool, bool, bool]:
        unknown = set(filters) - {"kind", "state", "q"}
        if unknown:
            raise TypeError(f"unknown filters {sorted(unknown)}")
        return bool(filters.get("kind")), bool(filters.get("state")), bool(filters.get("q"))

    @staticmethod
    def _filter_params(filters: Mapping[str, str | None]) -> dict[str, Any]:
        params = {k: v for k, v in filters.items() if v and k != "q"}
        q = filters.get("q")
        if q:
            params["q"] = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return params

    def counts(self, prefix: str, digits: int) -> dict[str, dict[str, int]]:
        """Live devices under `prefix` by state, per area of the first `digits` digits of
        their grid code (6: districts, 9: streets, 12: communities, 15: grids)."""
        out: dict[str, dict[str, int]] = {}
        with self.store._reading() as db:
            for area, state, n in db.execute(_counts(self.dialect, digits), grid_range(prefix)).fetchall():
                out.setdefault(area, dict.fromkeys(STATES, 0))[state] = int(n)
        return out

    # telemetry
    def touch(
        self, device_id: str, ts: datetime, battery: float | None = None, signal: float | None = None
    ) -> bool:
        """A message from the device: last seen moves forward (never back: messages may come
        out of order), battery and signal when reported, offline → online. False: unknown."""
        params = {"id": device_id, "ts": stamp(ts), "battery": battery, "signal": signal}
        with self.store._writing_one() as db:
            return bool(db.execute(self.sql["touch"], params).rowcount == 1)

    def mark_offline(self, ids: Iterable[str]) -> int:
        """These devices are offline (silent past their heartbeat); how many changed."""
        changed = 0
        with self.store._writing() as db:
            for chunk in _chunks(sorted(set(ids)), SLOTS):
                changed += max(0, db.execute(self.sql["offline"], _slots(chunk)).rowcount)
        return changed

    def set_state(self, device_id: str, state: str) -> bool:
        if state not in STATES:
            raise ValueError(f"state {state!r}: one of {', '.join(STATES)}")
        with self.store._writing_one() as db:
            return bool(db.execute(self.sql["set_state"], {"id": device_id, "state": state}).rowcount == 1)

    # readings
    def add_readings(self, rows: Iterable[tuple[str, datetime, str, float]]) -> int:
        """(device id, ts, name, value) rows in one executemany; one already stored (a
        redelivered message) is skipped. How many were sent."""
        params = [{"device_id": d, "ts": stamp(ts), "name": n, "value": float(v)} for d, ts, n, v in rows]
        if not params:
            return 0
        with self.store._writing() as db:
            self._many(db, self.sql["reading"], params)
        return len(params)

    def recent(self, device_id: str, name: str, n: int = 60) -> builtins.list[tuple[datetime, float]]:
        """The last `n` readings of one name, oldest first."""
        with self.store._reading() as db:
            rows = db.execute(self.sql["recent"], {"id": device_id, "name": name, "n": n}).fetchall()
        return [(datetime.fromisoformat(ts), float(v)) for ts, v in reversed(rows)]

    def reading_names(self, device_id: str) -> builtins.list[str]:
        with self.store._reading() as db:
            return [name for (name,) in db.execute(self.sql["names"], {"id": device_id}).fetchall()]

    def prune_readings(self, before: datetime, keep: int) -> int:
        """Readings older than `before` deleted, then all but the newest `keep` of each
        device and name; how many went."""
        with self.store._writing() as db:
            gone = max(0, db.execute(self.sql["prune_age"], {"cutoff": stamp(before)}).rowcount)
            gone += max(0, db.execute(self.sql["prune_count"], {"keep": keep}).rowcount)
        return int(gone)


def device_store(store: object) -> DeviceRecords:
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no devices")
    return DeviceRecords(store)
