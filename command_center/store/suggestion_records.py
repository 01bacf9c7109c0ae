"""Suggested classes of reports and the choices people made (table `report_suggestions`,
store/schema.py), written once for both databases.

Kept beside the store rather than mixed into it: `SuggestionRecords(store)` runs its
statements through the store's own connections (StoreAccess), so neither store class
needs to know of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.store.access import StoreAccess
from command_center.store.queries import compile_sql, const
from command_center.store.schema import report_suggestions as table

Row = dict[str, Any]
FIELDS = tuple(c.name for c in table.columns)
FEEDBACK_ROWS = 50_000  # the latest choices a retraining reads: more is years of a city's reports


@cache
def _sql(dialect: str) -> dict[str, str]:
    one = table.c.id == sa.bindparam("id")
    chosen = table.c.chosen_code.is_not(None)
    statements: dict[str, Any] = {
        "add": sa.insert(table).values({c: sa.bindparam(c) for c in FIELDS}),
        "get": sa.select(*table.columns).where(one),
        # First choice only: a second caller (a resend, someone else) does not overwrite it.
        "choose_first": sa.update(table)
        .where(one, table.c.chosen_code.is_(None))
        .values(chosen_code=sa.bindparam("code"), chosen_by=sa.bindparam("by"), chosen_at=sa.bindparam("at"),
                case_id=sa.func.coalesce(sa.bindparam("case_id"), table.c.case_id)),
        "choose_again": sa.update(table)
        .where(one)
        .values(chosen_code=sa.bindparam("code"), chosen_by=sa.bindparam("by"), chosen_at=sa.bindparam("at"),
                case_id=sa.func.coalesce(sa.bindparam("case_id"), table.c.case_id)),
        "feedback": sa.select(table.c.text, table.c.chosen_code)
        .where(chosen, table.c.text != const(""))
        .order_by(table.c.chosen_at.desc())
        .limit(sa.bindparam("limit"))
        .offset(const(0)),
        "count_chosen": sa.select(sa.func.count()).select_from(table).where(chosen),
        "since": sa.select(table.c.source, table.c.suggested, table.c.chosen_code).where(
            table.c.created_at >= sa.bindparam("since")
        ),
        "latest_of_case": sa.select(*table.columns)
        .where(table.c.case_id == sa.bindparam("case_id"))
        .order_by(table.c.created_at.desc())
        .limit(const(1))
        .offset(const(0)),
    }  # fmt: skip
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


@dataclass(frozen=True, slots=True)
class SuggestionStats:
    total: int  # suggestions made
    chosen: int  # ... of which someone chose a class
    top1: int  # ... and chose the first suggestion (accepted)
    top3: int  # ... or one of the first three
    by_source: dict[str, dict[str, int]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "chosen": self.chosen,
            "chosen_share": _share(self.chosen, self.total),
            "accepted": self.top1,
            "top1_agreement": _share(self.top1, self.chosen),
            "top3_agreement": _share(self.top3, self.chosen),
            "by_source": self.by_source,
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class SuggestionRecords:
    """report_suggestions over a store's connections (SQLite or PostgreSQL)."""

    def __init__(self, store: object) -> None:
        if not isinstance(store, StoreAccess):
            raise TypeError(f"{type(store).__name__} keeps no report suggestions")
        self._store = store
        self._sql = _sql(store.dialect)

    def add(self, row: Row) -> None:
        """A suggestion: id, created_at, source, text, has_photo, suggested [[code, score], ...]."""
        params = {name: row.get(name) for name in FIELDS}
        params["suggested"] = json.dumps(row["suggested"], ensure_ascii=False)
        with self._store._writing_one() as db:
            db.execute(self._sql["add"], params)

    def get(self, suggestion_id: str) -> Row | None:
        with self._store._reading() as db:
            row = db.execute(self._sql["get"], {"id": suggestion_id}).fetchone()
        return None if row is None else _row(row)

    def latest_of_case(self, case_id: str) -> Row | None:
        """The newest suggestion linked to a case (the desk's, or the reporter's)."""
        with self._store._reading() as db:
            row = db.execute(self._sql["latest_of_case"], {"case_id": case_id}).fetchone()
        return None if row is None else _row(row)

    def choose(
        self, suggestion_id: str, code: str, by: str, at: str, case_id: str | None = None, overwrite: bool = False
    ) -> bool:
        """Record the class chosen; without `overwrite` only when none was chosen yet.
        Whether a row changed."""
        params = {"id": suggestion_id, "code": code, "by": by, "at": at, "case_id": case_id}
        with self._store._writing_one() as db:
            return db.execute(self._sql["choose_again" if overwrite else "choose_first"], params).rowcount > 0

    def feedback(self, limit: int = FEEDBACK_ROWS) -> list[tuple[str, str]]:
        """(text, chosen code) of the latest choices, to retrain on."""
        with self._store._reading() as db:
            rows = db.execute(self._sql["feedback"], {"limit": limit}).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def count_chosen(self) -> int:
        with self._store._reading() as db:
            row = db.execute(self._sql["count_chosen"], {}).fetchone()
        return int(row[0])

    def stats(self, since: str) -> SuggestionStats:
        """How suggestions made since `since` (UTC ISO 8601) fared."""
        with self._store._reading() as db:
            rows = db.execute(self._sql["since"], {"since": since}).fetchall()
        total = chosen = top1 = top3 = 0
        by_source: dict[str, dict[str, int]] = {}
        for source, suggested, code in rows:
            ranked = [c for c, _ in json.loads(suggested)]
            counts = by_source.setdefault(str(source), {"total": 0, "chosen": 0, "accepted": 0})
            total += 1
            counts["total"] += 1
            if code is None:
                continue
            chosen += 1
            counts["chosen"] += 1
            if ranked[:1] == [code]:
                top1 += 1
                counts["accepted"] += 1
            top3 += code in ranked[:3]
        return SuggestionStats(total, chosen, top1, top3, by_source)


def _row(row: Any) -> Row:
    out = dict(zip(FIELDS, row, strict=True))
    out["has_photo"] = bool(out["has_photo"])
    out["suggested"] = json.loads(out["suggested"])
    return out
