"""Budget lines in the store (store/cost_schema.py) and the attribution's sums
(store/cost_queries.py), for SQLite and PostgreSQL through the store's own connections
(StoreAccess), like store/resident_records.py.

An import writes all its lines in ONE transaction (an upsert on the line's key: area, month,
category, grade), so a refused or failed import leaves nothing behind. A change names the
version it read: a line changed meanwhile is a conflict, not overwritten.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.costs.lines import LineInput
from command_center.store.access import StoreAccess
from command_center.store.basedata_sql import grid_range
from command_center.store.cost_queries import (
    attribution_sql,
    budget_sql,
    cases_sql,
    residents_sql,
    rounds_sql,
)
from command_center.store.cost_schema import cost_budget_lines
from command_center.store.queries import compile_sql, const

FIELDS = tuple(c.name for c in cost_budget_lines.columns)
KEY = ("month", "area_code", "category", "grade")
ANALYZE_AFTER = 500  # lines in one import: PostgreSQL's statistics of the table refreshed at once
BY_DAY_DIGITS = 6  # a scope of a district or wider reads its month of cases by day (cost_queries._units)


class DuplicateLine(Exception):
    """A line of that area, month, category and grade exists already."""


class StaleLine(Exception):
    """The line changed since the version the caller read."""


@dataclass(slots=True)
class Attribution:
    """The raw sums of one area and month (store/cost_queries.py says what each is)."""

    shares: list[tuple[str, str, str, float]] = field(default_factory=list)  # child, matter, category, fen
    unattributed: list[tuple[str, str, int]] = field(default_factory=list)  # line's area, category, fen
    budget: list[tuple[str, str, int]] = field(default_factory=list)  # line's area, category, fen
    cases: list[tuple[str, str, int, int, int, int]] = field(
        default_factory=list
    )  # child, matter, n, sensed, worker, citizen
    rounds: list[tuple[str, int, int]] = field(default_factory=list)  # child, check-ins, visits
    residents: dict[str, int] = field(default_factory=dict)  # child → people


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def month_days(month: str) -> tuple[str, str]:
    """[first day, first day of the next month) as ISO dates."""
    year, number = int(month[:4]), int(month[5:7])
    after = f"{year + 1}-01-01" if number == 12 else f"{year}-{number + 1:02d}-01"
    return f"{month}-01", after


@cache
def _sql(dialect: str) -> dict[str, str]:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    b = cost_budget_lines.c
    upsert = insert(cost_budget_lines).values({n: sa.bindparam(n) for n in FIELDS})
    upsert = upsert.on_conflict_do_update(
        index_elements=list(KEY),
        set_={"amount_fen": upsert.excluded.amount_fen, "note": upsert.excluded.note,
              "version": b.version + const(1), "updated_at": upsert.excluded.updated_at,
              "updated_by": upsert.excluded.updated_by},
    )  # fmt: skip
    inside = sa.and_(b.prefix >= sa.bindparam("lo"), b.prefix < sa.bindparam("hi"))
    listed = sa.and_(
        inside, sa.or_(sa.cast(sa.bindparam("month"), sa.Text).is_(None), b.month == sa.bindparam("month"))
    )
    above = (
        sa.func.substr(sa.cast(sa.bindparam("xprefix"), sa.Text), const(1), sa.func.length(b.prefix))
        == b.prefix
    )
    statements: dict[str, Any] = {
        "insert": insert(cost_budget_lines).values({n: sa.bindparam(n) for n in FIELDS}).on_conflict_do_nothing(),
        "upsert": upsert,
        "get": sa.select(*cost_budget_lines.c).where(b.id == sa.bindparam("id")),
        "list": sa.select(*cost_budget_lines.c).where(listed)
        .order_by(b.month.desc(), b.area_code, b.category, b.grade).limit(sa.bindparam("limit")).offset(sa.bindparam("offset")),
        "count": sa.select(sa.func.count()).where(listed),
        "update": sa.update(cost_budget_lines).where(b.id == sa.bindparam("id"), b.version == sa.bindparam("version"))
        .values(category=sa.bindparam("category"), grade=sa.bindparam("grade"), amount_fen=sa.bindparam("amount_fen"),
                note=sa.bindparam("note"), version=b.version + const(1), updated_at=sa.bindparam("updated_at"),
                updated_by=sa.bindparam("updated_by")),
        "delete": sa.delete(cost_budget_lines).where(b.id == sa.bindparam("id")),
        "widest": sa.select(b.prefix).where(b.month == sa.bindparam("month"), above)
        .order_by(sa.func.length(b.prefix)).limit(const(1)).offset(const(0)),
    }  # fmt: skip
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _row(raw: Any) -> dict[str, Any]:
    return dict(zip(FIELDS, raw, strict=True)) | {"amount_fen": int(raw[FIELDS.index("amount_fen")])}


class CostRecords:
    """The budget lines and the attribution's sums of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.dialect = store.dialect

    def _q(self, name: str) -> str:
        return _sql(self.dialect)[name]

    def _params(self, line: LineInput, by: str) -> dict[str, Any]:
        return {"id": "BL" + secrets.token_hex(6), "area_code": line.area_code, "prefix": line.prefix,
                "month": line.month, "category": line.category, "grade": line.grade, "amount_fen": line.amount_fen,
                "note": line.note, "version": 1, "updated_at": _now(), "updated_by": by}  # fmt: skip

    def add(self, line: LineInput, by: str) -> dict[str, Any]:
        params = self._params(line, by)
        with self.store._writing() as db:
            if db.execute(self._q("insert"), params).rowcount == 0:
                raise DuplicateLine(line.key)
        return params

    def upsert_all(self, lines: Iterable[LineInput], by: str) -> int:
        """Every line written in one transaction (all or none): how many."""
        rows = [self._params(line, by) for line in lines]
        with self.store._writing() as db:
            for row in rows:
                db.execute(self._q("upsert"), row)
            if self.dialect == "postgresql" and len(rows) >= ANALYZE_AFTER:
                # A city's year of lines loaded at once: the planner learns of them now, not at
                # autovacuum's next pass (the attribution's joins are planned by these counts).
                db.execute("ANALYZE cost_budget_lines", {})
        return len(rows)

    def get(self, line_id: str) -> dict[str, Any] | None:
        with self.store._reading() as db:
            raw = db.execute(self._q("get"), {"id": line_id}).fetchone()
        return None if raw is None else _row(raw)

    def list(
        self, prefix: str, month: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        params = grid_range(prefix) | {"month": month, "limit": limit, "offset": offset}
        with self.store._reading() as db:
            rows = db.execute(self._q("list"), params).fetchall()
            total = db.execute(self._q("count"), params).fetchone()[0]
        return [_row(r) for r in rows], int(total)

    def update(self, line_id: str, version: int, changes: dict[str, Any], by: str) -> dict[str, Any] | None:
        """The line after the change; None when there is no such line; StaleLine when it moved on."""
        with self.store._writing() as db:
            raw = db.execute(self._q("get"), {"id": line_id}).fetchone()
            if raw is None:
                return None
            now = (
                _row(raw)
                | changes
                | {"id": line_id, "version": version, "updated_at": _now(), "updated_by": by}
            )
            try:
                done = db.execute(self._q("update"), now).rowcount
            except Exception as exc:  # the unique key: another line has that category and grade
                if "unique" in str(exc).lower() or "duplicate" in str(exc).lower():
                    raise DuplicateLine(line_id) from exc
                raise
            if done == 0:
                raise StaleLine(line_id)
        return now | {"version": version + 1}

    def delete(self, line_id: str) -> bool:
        with self.store._writing() as db:
            return db.execute(self._q("delete"), {"id": line_id}).rowcount > 0

    def attribution(self, month: str, prefix: str, digits: int) -> Attribution:
        """The sums of area `prefix` in `month`, per child area (its first `digits` of code)."""
        area = grid_range(prefix)
        dlo, dhi = month_days(month)
        base = {"month": month, "xprefix": prefix, "alo": area["lo"], "ahi": area["hi"], "digits": digits,
                "dlo": dlo, "dhi": dhi}  # fmt: skip
        found = Attribution()
        with self.store._reading() as db:
            widest = db.execute(self._q("widest"), base).fetchone()
            scope = grid_range(widest[0] if widest is not None else prefix)
            params = base | {"slo": scope["lo"], "shi": scope["hi"]}
            sql = attribution_sql(self.dialect, len(scope["lo"]) <= BY_DAY_DIGITS)
            for kind, place, matter, category, fen in db.execute(sql, params).fetchall():
                if kind == "share":
                    found.shares.append((place, matter, category, float(fen)))
                else:  # the line's prefix: its area's code
                    found.unattributed.append((place.ljust(15, "0"), category, int(fen)))
            found.budget = [
                (a, k, int(v)) for a, k, v in db.execute(budget_sql(self.dialect), params).fetchall()
            ]
            found.cases = [(c, m, int(n), int(s), int(w), int(z))
                           for c, m, n, s, w, z in db.execute(cases_sql(self.dialect), params).fetchall()]  # fmt: skip
            found.rounds = [
                (c, int(p), int(v)) for c, p, v in db.execute(rounds_sql(self.dialect), params).fetchall()
            ]
            found.residents = {
                c: int(n or 0) for c, n in db.execute(residents_sql(self.dialect), params).fetchall()
            }
        return found


def cost_store(store: object) -> CostRecords:
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no budget lines")
    return CostRecords(store)
