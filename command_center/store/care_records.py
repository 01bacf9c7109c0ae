"""The special-group ledger in the store (tables: store/care_schema.py; records:
basedata/care.py), written once for SQLite and PostgreSQL, like store/basedata_records.py.

- `add` / `update`: a membership, new or changed on the version the caller read
  (compare-and-set; `VersionConflict` carries the membership as it stands).
- `record_visit`: the visit's row and the membership's last visit and next due date in ONE
  transaction (the membership locked meanwhile), so a visit never lands without moving
  the date, nor the date without its visit.
- `list` / `count`: memberships in a scope (grid prefixes, and for a worker those paired
  with them wherever they live), optionally only those due by a day or paired with a
  worker; `counts_by_grid`: members, due and overdue per grid, by the database.
- `escalate`: the sweep's step (command_center/care_overdue.py): the memberships whose
  overdue level rose past the one already announced, each marked as it is taken, so a
  level is raised once per membership however many sweeps or nodes run.

A grid prefix is a range of codes, as in basedata_records.grid_range (an index, not LIKE).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from basedata.care import (
    CarePolicy,
    Membership,
    Visit,
    counts_as_visit,
    escalation_level,
    next_due,
    overdue_since,
)
from command_center.store.access import StoreAccess
from command_center.store.basedata_records import grid_range
from command_center.store.care_schema import care_memberships as members
from command_center.store.care_schema import care_visits as visits
from command_center.store.queries import compile_sql, const

STAMPS = ("escalated", "created_at", "updated_at", "updated_by")
MOST_RAISED = 10_000  # memberships one sweep raises; the rest wait for the next sweep


class VersionConflict(Exception):
    """The membership moved on since the caller read it: `current` is how it stands now."""

    def __init__(self, current: Membership) -> None:
        super().__init__(f"version {current.version} is stored; the change was made to an older one")
        self.current = current


class MembershipNotFound(KeyError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no care membership {key!r}")
        self.key = key


class MembershipExists(Exception):
    """The id is taken, or the person is already in this group (`current`: that membership)."""

    def __init__(self, current: Membership) -> None:
        super().__init__(f"care membership {current.id} exists for {current.person_id} in {current.group}")
        self.current = current


@dataclass(frozen=True, slots=True)
class CareScope:
    """Who sees which memberships: those under any of `prefixes` (a jurisdiction; a worker's
    grids) and, for a worker, those paired with them (`paired`) wherever the person lives."""

    prefixes: tuple[str, ...]
    paired: str | None = None

    def covers(self, membership: Membership) -> bool:
        if self.paired is not None and membership.paired_with == self.paired:
            return True
        return self.covers_grid(membership.grid_code)

    def covers_grid(self, grid_code: str) -> bool:
        return any(grid_code.startswith(prefix) for prefix in self.prefixes)


@dataclass(frozen=True, slots=True)
class Raised:
    """A membership raised to `level` by a sweep: what the `care.overdue` event carries."""

    membership_id: str
    person_id: str
    grid_code: str
    paired_with: str | None
    next_visit_due: date
    level: int
    days_overdue: int


def to_row(m: Membership) -> dict[str, Any]:
    row = m.model_dump(mode="json")
    row["care_group"] = row.pop("group")
    return row


def from_row(values: Iterable[Any]) -> Membership:
    row = dict(zip((c.name for c in members.columns), values, strict=True))
    for stamp in STAMPS:
        del row[stamp]
    row["group"] = row.pop("care_group")
    row["active"] = bool(row["active"])
    return Membership.model_validate(row)


def _visit_from_row(values: Iterable[Any]) -> Visit:
    row = dict(zip((c.name for c in visits.columns), values, strict=True))
    del row["created_at"]
    row["photos"] = json.loads(row["photos"])
    return Visit.model_validate(row)


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _scoped(prefixes: int, paired: bool) -> sa.ColumnElement[bool]:
    """The scope as SQL: grid ranges lo0/hi0…, or paired with :paired."""
    parts = [sa.and_(members.c.grid_code >= sa.bindparam(f"lo{i}"), members.c.grid_code < sa.bindparam(f"hi{i}"))
             for i in range(prefixes)]  # fmt: skip
    if paired:
        parts.append(members.c.paired_with == sa.bindparam("paired"))
    return sa.or_(*parts) if parts else sa.false()


@cache
def _listing(dialect: str, prefixes: int, paired: bool, worker: bool, due: bool) -> dict[str, str]:
    """The list and the count for one shape of query (compiled once per shape)."""
    where = [_scoped(prefixes, paired)]
    if worker:
        where.append(members.c.paired_with == sa.bindparam("worker"))
    if due:  # due by the day asked, among the active ones
        where += [members.c.active.is_(sa.true()), members.c.next_visit_due <= sa.bindparam("due")]
    order = (members.c.next_visit_due, members.c.id) if due else (members.c.grid_code, members.c.id)
    rows = sa.select(*members.columns).where(*where).order_by(*order)
    statements: dict[str, Any] = {
        "list": rows.limit(sa.bindparam("limit")).offset(sa.bindparam("offset")),
        "count": sa.select(sa.func.count()).select_from(members).where(*where),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


@cache
def _sql(dialect: str) -> dict[str, str]:
    one = sa.select(*members.columns).where(members.c.id == sa.bindparam("id"))
    data = [c for c in members.columns if c.name not in ("id", "created_at")]
    overdue = members.c.next_visit_due < sa.bindparam("today")
    due = members.c.next_visit_due <= sa.bindparam("today")
    active = members.c.active.is_(sa.true())

    def flag(condition: sa.ColumnElement[bool]) -> Any:
        return sa.func.sum(sa.case((sa.and_(active, condition), const(1)), else_=const(0)))

    rising = sa.or_(*(sa.and_(members.c.next_visit_due < sa.bindparam(f"since{level}"), members.c.escalated < const(level))
                      for level in (1, 2, 3)))  # fmt: skip
    statements: dict[str, Any] = {
        "insert": _insert(dialect, members)
        .values({c.name: sa.bindparam(c.name) for c in members.columns})
        .on_conflict_do_nothing(index_elements=[members.c.id]),
        "get": one,
        "get_for_update": one.with_for_update() if dialect == "postgresql" else one,
        "same_group": sa.select(*members.columns).where(
            members.c.person_id == sa.bindparam("person_id"), members.c.care_group == sa.bindparam("care_group")
        ),
        "update": sa.update(members)
        .where(members.c.id == sa.bindparam("id"), members.c.version == sa.bindparam("expected"))
        .values({c.name: sa.bindparam(f"new_{c.name}") for c in data}),
        "add_visit": sa.insert(visits).values({c.name: sa.bindparam(c.name) for c in visits.columns}),
        "visits": sa.select(*visits.columns).where(visits.c.membership_id == sa.bindparam("id"))
        .order_by(visits.c.at.desc(), visits.c.id).limit(sa.bindparam("limit")).offset(const(0)),
        "counts": sa.select(members.c.grid_code, flag(sa.true()), flag(due), flag(overdue))
        .where(members.c.grid_code >= sa.bindparam("lo"), members.c.grid_code < sa.bindparam("hi"))
        .group_by(members.c.grid_code).order_by(members.c.grid_code),
        "rising": sa.select(*members.columns).where(active, rising)
        .order_by(members.c.next_visit_due, members.c.id).limit(const(MOST_RAISED)).offset(const(0)),
        "mark": sa.update(members).values(escalated=sa.bindparam("level")).where(
            members.c.id == sa.bindparam("id"), members.c.escalated < sa.bindparam("level"),
            members.c.next_visit_due == sa.bindparam("due")),
    }  # fmt: skip
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat()


class CareRecords:
    """The memberships and visits of one store (either backend)."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.dialect = store.dialect

    def _sql(self) -> dict[str, str]:
        return _sql(self.dialect)

    # writing
    def add(self, membership: Membership, by: str) -> Membership:
        """Store a new membership; MembershipExists when its id is taken or the person is in
        the group already (one membership per person and group)."""
        row = to_row(membership) | {"escalated": 0, "created_at": _now(), "updated_at": _now(), "updated_by": by}
        with self.store._writing() as db:
            same = db.execute(self._sql()["same_group"], {"person_id": membership.person_id,
                                                          "care_group": membership.group}).fetchone()  # fmt: skip
            if same is not None:
                raise MembershipExists(from_row(same))
            if db.execute(self._sql()["insert"], row).rowcount != 1:
                taken = db.execute(self._sql()["get"], {"id": membership.id}).fetchone()
                raise MembershipExists(from_row(taken) if taken else membership)
        return membership

    def update(self, key: str, changes: Mapping[str, Any], expected_version: int, by: str) -> Membership:
        """Change fields if the membership is still at `expected_version`: the membership
        after, version bumped. A new due date lets the sweep raise it afresh. Raises
        MembershipNotFound, VersionConflict, or pydantic's ValidationError (a ValueError)."""
        if changes.get("id", key) != key or "version" in changes:
            raise ValueError("the id and the version of a membership are not changed by an update")
        with self.store._writing() as db:
            raw = db.execute(self._sql()["get_for_update"], {"id": key}).fetchone()
            if raw is None:
                raise MembershipNotFound(key)
            current = from_row(raw)
            if current.version != expected_version:
                raise VersionConflict(current)
            new = Membership.model_validate(current.model_dump() | dict(changes) | {"version": current.version + 1})
            self._write(db, raw, new, by)
        return new

    def _write(self, db: Any, raw: Any, new: Membership, by: str) -> None:
        """The row of `new` over the one read (`raw`), on the caller's transaction."""
        stored = dict(zip((c.name for c in members.columns), raw, strict=True))
        escalated = stored["escalated"]
        if new.next_visit_due.isoformat() != stored["next_visit_due"]:
            escalated = 0  # a new due date: its overdue levels are raised afresh
        row = to_row(new) | {"escalated": escalated, "updated_at": _now(), "updated_by": by}
        params = {f"new_{name}": value for name, value in row.items() if name != "id"}
        db.execute(self._sql()["update"], params | {"id": new.id, "expected": new.version - 1})

    def record_visit(self, visit: Visit) -> Membership:
        """The visit and its membership's new dates in one transaction: the membership after.
        A door not opened (not_home) is kept, but moves no date: the visit is still owed."""
        with self.store._writing() as db:
            raw = db.execute(self._sql()["get_for_update"], {"id": visit.membership_id}).fetchone()
            if raw is None:
                raise MembershipNotFound(visit.membership_id)
            current = from_row(raw)
            row = visit.model_dump(mode="json") | {"photos": json.dumps(visit.photos), "created_at": _now()}
            db.execute(self._sql()["add_visit"], row)
            if not counts_as_visit(visit.outcome):
                return current
            on = visit.at.date()
            last = max(on, current.last_visit_at) if current.last_visit_at else on
            new = current.model_copy(update={"last_visit_at": last, "next_visit_due": next_due(current, on),
                                             "version": current.version + 1})  # fmt: skip
            self._write(db, raw, new, visit.worker_id)
        return new

    def escalate(self, today: date, policy: CarePolicy) -> builtins.list[Raised]:
        """The memberships whose overdue level on `today` passed the one announced, each
        marked at its new level in the same statement that claims it (compare-and-set on
        the level and the due date: a visit meanwhile, or another node, wins)."""
        params = {f"since{level}": overdue_since(level, today, policy).isoformat() for level in (1, 2, 3)}
        raised: builtins.list[Raised] = []
        with self.store._writing() as db:
            for raw in db.execute(self._sql()["rising"], params).fetchall():
                m = from_row(raw)
                days = (today - m.next_visit_due).days
                level = escalation_level(days, policy)
                marked = db.execute(self._sql()["mark"], {"id": m.id, "level": level,
                                                          "due": m.next_visit_due.isoformat()})  # fmt: skip
                if marked.rowcount == 1:
                    raised.append(Raised(m.id, m.person_id, m.grid_code, m.paired_with, m.next_visit_due, level, days))
        return raised

    # reading
    def get(self, key: str) -> Membership | None:
        with self.store._reading() as db:
            raw = db.execute(self._sql()["get"], {"id": key}).fetchone()
        return None if raw is None else from_row(raw)

    def _query(
        self, scope: CareScope, worker: str | None, due_by: date | None
    ) -> tuple[dict[str, str], dict[str, Any]]:
        sql = _listing(self.dialect, len(scope.prefixes), scope.paired is not None, worker is not None,
                       due_by is not None)  # fmt: skip
        params: dict[str, Any] = {"paired": scope.paired, "worker": worker}
        for i, prefix in enumerate(scope.prefixes):
            bounds = grid_range(prefix)
            params[f"lo{i}"], params[f"hi{i}"] = bounds["lo"], bounds["hi"]
        if due_by is not None:
            params["due"] = due_by.isoformat()
        return sql, params

    def list(
        self, scope: CareScope, *, worker: str | None = None, due_by: date | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[builtins.list[Membership], int]:
        """A page of the memberships in `scope` and how many there are: by grid and id, or
        with `due_by` only the active ones due that day or before, the most overdue first;
        `worker`: only those paired with that worker."""
        sql, params = self._query(scope, worker, due_by)
        with self.store._reading() as db:
            found = db.execute(sql["count"], params).fetchone()
            rows = db.execute(sql["list"], params | {"limit": limit, "offset": offset}).fetchall()
        return [from_row(r) for r in rows], int(found[0]) if found else 0

    def visits(self, membership_id: str, limit: int = 50) -> builtins.list[Visit]:
        """A membership's visits, the latest first."""
        with self.store._reading() as db:
            rows = db.execute(self._sql()["visits"], {"id": membership_id, "limit": limit}).fetchall()
        return [_visit_from_row(r) for r in rows]

    def counts_by_grid(self, grid_prefix: str, today: date) -> builtins.list[dict[str, Any]]:
        """[{grid_code, members, due, overdue}] per grid under the prefix (active memberships;
        due: a visit due today or before; overdue: due before today), by grid code."""
        params = grid_range(grid_prefix) | {"today": today.isoformat()}
        with self.store._reading() as db:
            rows = db.execute(self._sql()["counts"], params).fetchall()
        return [{"grid_code": g, "members": int(n or 0), "due": int(d or 0), "overdue": int(o or 0)} for g, n, d, o in rows]


def care_store(store: object) -> CareRecords:
    """The care ledger of a store (either backend)."""
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no care ledger")
    return CareRecords(store)
