"""The registry's matter records in the store (issue 16): the matter catalogue's versions per
district, the working calendar's stored days, and settings changed in the console.

Statements are compiled once per dialect (store/queries.py); a version number is the next
one of its (code, district), taken in the same transaction as its insert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.access import StoreAccess
from command_center.store.queries import compile_sql, const
from command_center.store.schema import holidays, matter_versions, settings

VERSION_FIELDS = tuple(c.name for c in matter_versions.columns)
HOLIDAY_FIELDS = tuple(c.name for c in holidays.columns)
SETTING_FIELDS = tuple(c.name for c in settings.columns)
FILTERS = ("status", "district", "code")  # what matter_versions() may be narrowed by


class MatterStore(Protocol):
    """What the rest of the code may call (base.Store includes it)."""

    def add_matter_versions(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]: ...

    def matter_versions(
        self, status: str | None = None, district: str | None = None, code: str | None = None
    ) -> list[dict[str, Any]]: ...

    def matter_version(self, seq: int) -> dict[str, Any] | None: ...

    def decide_matter_version(self, seq: int, status: str, by: str, at: str, note: str) -> bool: ...

    def stored_days(self) -> list[dict[str, Any]]: ...

    def put_day(self, day: str, kind: str, name: str, by: str, at: str) -> None: ...

    def delete_day(self, day: str) -> bool: ...

    def setting(self, key: str) -> dict[str, Any] | None: ...

    def put_setting(self, key: str, doc: dict[str, Any], by: str, at: str) -> None: ...


def _insert_of(dialect: str) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)


@cache
def _next_version(dialect: str) -> str:
    t = matter_versions
    statement = sa.select(sa.func.coalesce(sa.func.max(t.c.version), const(0)) + const(1)).where(
        t.c.code == sa.bindparam("code"), t.c.district == sa.bindparam("district")
    )
    return compile_sql(statement, dialect)


@cache
def _insert_version(dialect: str) -> str:
    values: dict[str, Any] = {name: sa.bindparam(name) for name in VERSION_FIELDS if name != "seq"}
    return compile_sql(sa.insert(matter_versions).values(values).returning(matter_versions.c.seq), dialect)


@cache
def _select_versions(dialect: str, filters: tuple[str, ...]) -> str:
    t = matter_versions
    statement = sa.select(*t.columns).where(*(t.c[name] == sa.bindparam(name) for name in filters))
    return compile_sql(statement.order_by(t.c.seq), dialect)


@cache
def _decide(dialect: str) -> str:
    t = matter_versions
    statement = (
        sa.update(t)
        .where(t.c.seq == sa.bindparam("seq_"), t.c.status == const("proposed"))  # only a pending one
        .values(status=sa.bindparam("status"), decided_by=sa.bindparam("by"), decided_at=sa.bindparam("at"),
                decision_note=sa.bindparam("note"))
    )  # fmt: skip
    return compile_sql(statement, dialect)


@cache
def _select_days(dialect: str) -> str:
    return compile_sql(sa.select(*holidays.columns).order_by(holidays.c.day), dialect)


@cache
def _upsert(dialect: str, which: str) -> str:
    table = holidays if which == "holidays" else settings
    key = table.c.day if which == "holidays" else table.c.key
    statement = _insert_of(dialect)(table).values({c.name: sa.bindparam(c.name) for c in table.columns})
    statement = statement.on_conflict_do_update(
        index_elements=[key], set_={c.name: statement.excluded[c.name] for c in table.columns if c is not key}
    )
    return compile_sql(statement, dialect)


@cache
def _delete_day(dialect: str) -> str:
    return compile_sql(sa.delete(holidays).where(holidays.c.day == sa.bindparam("day")), dialect)


@cache
def _select_setting(dialect: str) -> str:
    return compile_sql(sa.select(*settings.columns).where(settings.c.key == sa.bindparam("key")), dialect)


def _version_row(row: Sequence[Any]) -> dict[str, Any]:
    found = dict(zip(VERSION_FIELDS, row, strict=True))
    found["doc"] = json.loads(found["doc"])
    return found


class MatterRecords(StoreAccess):
    """Written once for both stores over StoreAccess (see store/records.py)."""

    def add_matter_versions(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store each row (every field but seq and version) as its (code, district)'s next
        version, all in one transaction; the rows as stored."""
        stored = []
        with self._writing() as db:
            for row in rows:
                key = {"code": row["code"], "district": row["district"]}
                version = int(db.execute(_next_version(self.dialect), key).fetchone()[0])
                params = {**row, "version": version, "doc": json.dumps(row["doc"], ensure_ascii=False)}
                params.setdefault("decided_by", None)
                params.setdefault("decided_at", None)
                params.setdefault("decision_note", None)
                seq = int(db.execute(_insert_version(self.dialect), params).fetchone()[0])
                stored.append({**params, "seq": seq, "doc": row["doc"]})
        return stored

    def matter_versions(
        self, status: str | None = None, district: str | None = None, code: str | None = None
    ) -> list[dict[str, Any]]:
        """Oldest first, narrowed by whichever of status, district ("" = city-wide), code is given."""
        given = {"status": status, "district": district, "code": code}
        params = {name: value for name, value in given.items() if value is not None}
        with self._reading() as db:
            rows = db.execute(_select_versions(self.dialect, tuple(params)), params).fetchall()
        return [_version_row(r) for r in rows]

    def matter_version(self, seq: int) -> dict[str, Any] | None:
        with self._reading() as db:
            row = db.execute(_select_versions(self.dialect, ("seq",)), {"seq": seq}).fetchone()
        return _version_row(row) if row else None

    def decide_matter_version(self, seq: int, status: str, by: str, at: str, note: str) -> bool:
        """Approve, reject or withdraw a proposed version; False when it is not proposed (any more)."""
        params = {"seq_": seq, "status": status, "by": by, "at": at, "note": note}
        with self._writing_one() as db:
            return db.execute(_decide(self.dialect), params).rowcount == 1

    # the working calendar's days
    def stored_days(self) -> list[dict[str, Any]]:
        with self._reading() as db:
            return [dict(zip(HOLIDAY_FIELDS, r, strict=True)) for r in db.execute(_select_days(self.dialect), {}).fetchall()]

    def put_day(self, day: str, kind: str, name: str, by: str, at: str) -> None:
        params = {"day": day, "kind": kind, "name": name, "updated_by": by, "updated_at": at}
        with self._writing_one() as db:
            db.execute(_upsert(self.dialect, "holidays"), params)

    def delete_day(self, day: str) -> bool:
        with self._writing_one() as db:
            return db.execute(_delete_day(self.dialect), {"day": day}).rowcount == 1

    # settings
    def setting(self, key: str) -> dict[str, Any] | None:
        with self._reading() as db:
            row = db.execute(_select_setting(self.dialect), {"key": key}).fetchone()
        if row is None:
            return None
        found = dict(zip(SETTING_FIELDS, row, strict=True))
        found["doc"] = json.loads(found["doc"])
        return found

    def put_setting(self, key: str, doc: dict[str, Any], by: str, at: str) -> None:
        params = {"key": key, "doc": json.dumps(doc, ensure_ascii=False), "updated_by": by, "updated_at": at}
        with self._writing_one() as db:
            db.execute(_upsert(self.dialect, "settings"), params)
