"""The assessment in the store (tables: store/assessment_schema.py; indicator SQL:
store/assessment_sql.py), written once for SQLite and PostgreSQL through the store's own
connections (StoreAccess), like store/resident_records.py.

A month's results are written in one transaction (the old rows of the month, or of the
level an appeal re-scored, deleted first), so a reader sees a month whole or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

import sqlalchemy as sa

from assessment.scoring import Scored
from command_center.store.access import StoreAccess
from command_center.store.assessment_sql import (
    CASE_KEYS,
    MonthSpan,
    case_sql,
    case_values,
    count_sql,
    key_of,
    satisfaction_sql,
    subject_of,
)
from command_center.store.queries import compile_sql

Rows = dict[str, tuple[int, dict[str, float | None]]]
COUNTS = ("verify_done", "care_visits", "patrol_places", "attendance_days")
RUN_FIELDS = ("month", "scheme_version", "scheme_label", "scheme", "cutoff_day", "digest", "subjects",
              "frozen_at", "frozen_by", "recomputed_at")  # fmt: skip
APPEAL_FIELDS = ("id", "month", "level", "subject", "subject_key", "case_id", "reason", "state", "filed_by",
                 "filed_at", "decided_by", "decided_at", "note")  # fmt: skip
SCORE_INSERT = ("INSERT INTO assessment_scores (month, level, subject, cases, score, rank, doc)"
                " VALUES (:month, :level, :subject, :cases, :score, :rank, :doc)")  # fmt: skip


@cache
def sql(text: str, dialect: str) -> str:
    """`:name` parameters in the driver's style (psycopg: %(name)s), through SQLAlchemy."""
    return compile_sql(sa.text(text), dialect)


def score_doc(row: Scored) -> str:
    return json.dumps({"values": row.values, "points": row.points}, sort_keys=True, ensure_ascii=False)


class AssessmentRecords:
    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.dialect = store.dialect

    def _all(self, text: str, params: dict[str, Any]) -> list[Any]:
        with self.store._reading() as db:
            return db.execute(sql(text, self.dialect), params).fetchall()

    def _many(self, db: Any, text: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.dialect == "sqlite":
            db.executemany(sql(text, self.dialect), rows)
            return
        with db.cursor() as cur:
            cur.executemany(sql(text, self.dialect), rows)

    # indicators
    def indicator_rows(self, span: MonthSpan, level: str, keys: Iterable[str], subject: str | None = None) -> Rows:
        """subject → (cases, indicator values) for the indicators `keys`; one subject when given."""
        wanted, one = set(keys), subject is not None
        params = span.params(level) | ({"subject_key": key_of(level, subject)} if subject is not None else {})
        out: Rows = {}

        def put(key: str, name: str, value: float | None) -> None:
            out.setdefault(subject_of(level, key), (0, {}))[1][name] = value

        if wanted & set(CASE_KEYS):
            for k, *rest in self._all(case_sql(level, one), params):
                cases, values = case_values(rest)
                old = out.get(subject_of(level, k), (0, {}))[1]
                out[subject_of(level, k)] = (cases, old | {n: v for n, v in values.items() if n in wanted})
        if "satisfaction" in wanted:
            for k, stars, n in self._all(satisfaction_sql(level, one), params):
                put(k, "satisfaction", round(int(stars) / int(n), 2) if n else None)
        for name in sorted(wanted & set(COUNTS)):
            for k, n in self._all(count_sql(level, name, one), params):
                put(k, name, float(n))
        for _, values in out.values():  # a subject with no visit (check-in, task) did none: 0, not unknown
            for name in wanted & set(COUNTS):
                values.setdefault(name, 0.0)
        return out

    def case_of(self, span: MonthSpan, level: str, subject: str, case_id: str) -> bool:
        """Whether the case counts in the subject's month (what an appeal may contest)."""
        key = "c.assignee" if level == "worker" else f"substr(f.grid_code, 1, {len(key_of(level, subject))})"
        rows = self._all("SELECT 1 FROM case_facts f JOIN cases c ON c.id = f.id WHERE f.id = :case_id"
                         f" AND f.counted = 1 AND f.created_day >= :lo AND f.created_day <= :hi AND {key} = :subject_key",
                         {"case_id": case_id, "lo": span.lo, "hi": span.hi, "subject_key": key_of(level, subject)})  # fmt: skip
        return bool(rows)

    # runs and scores
    def run(self, month: str) -> dict[str, Any] | None:
        rows = self._all(f"SELECT {', '.join(RUN_FIELDS)} FROM assessment_runs WHERE month = :month", {"month": month})
        return dict(zip(RUN_FIELDS, rows[0], strict=True)) if rows else None

    def runs(self) -> list[dict[str, Any]]:
        fields = [f for f in RUN_FIELDS if f != "scheme"]
        rows = self._all(f"SELECT {', '.join(fields)} FROM assessment_runs ORDER BY month DESC", {})
        return [dict(zip(fields, r, strict=True)) for r in rows]

    def save_month(self, run: dict[str, Any], rows: list[Scored], honours: list[tuple[str, str, str]],
                   notices: list[dict[str, Any]]) -> None:  # fmt: skip
        """The month's whole result, replacing any before (a recompute). Raises MonthTaken (and
        stores nothing) when another freeze of the month committed meanwhile (PostgreSQL: two
        writers; SQLite serialises them)."""
        month = {"month": run["month"]}
        with self.store._writing() as db:
            for table in ("assessment_runs", "assessment_scores", "assessment_honours", "assessment_notices"):
                db.execute(sql(f"DELETE FROM {table} WHERE month = :month", self.dialect), month)
            stored = db.execute(sql(f"INSERT INTO assessment_runs ({', '.join(RUN_FIELDS)}) VALUES "
                                    f"({', '.join(':' + f for f in RUN_FIELDS)}) ON CONFLICT (month) DO NOTHING "
                                    "RETURNING month", self.dialect), run).fetchone()  # fmt: skip
            if stored is None:
                raise MonthTaken(run["month"])  # the transaction rolls back
            self._many(db, SCORE_INSERT, [month | _score_params(r) for r in rows])
            self._many(db, "INSERT INTO assessment_honours (month, level, subject, honour) VALUES "
                       "(:month, :level, :subject, :honour)",
                       [month | {"level": lv, "subject": s, "honour": h} for lv, s, h in honours])  # fmt: skip
            self._many(db, "INSERT INTO assessment_notices (month, worker_id, kind, text, created_at) VALUES "
                       "(:month, :worker_id, :kind, :text, :created_at)", notices)  # fmt: skip

    def save_level(self, month: str, level: str, rows: list[Scored], honours: list[tuple[str, str, str]],
                   digest: str, at: str) -> None:  # fmt: skip
        """One level of a frozen month re-scored (an appeal decided): its scores and honours."""
        key = {"month": month, "level": level}
        with self.store._writing() as db:
            db.execute(sql("DELETE FROM assessment_scores WHERE month = :month AND level = :level", self.dialect), key)
            db.execute(sql("DELETE FROM assessment_honours WHERE month = :month AND level = :level", self.dialect), key)
            self._many(db, SCORE_INSERT, [{"month": month} | _score_params(r) for r in rows])
            self._many(db, "INSERT INTO assessment_honours (month, level, subject, honour) VALUES "
                       "(:month, :level, :subject, :honour)",
                       [key | {"subject": s, "honour": h} for _, s, h in honours])  # fmt: skip
            db.execute(sql("UPDATE assessment_runs SET digest = :digest, recomputed_at = :at WHERE month = :month",
                           self.dialect), {"month": month, "digest": digest, "at": at})  # fmt: skip

    def scores(self, month: str, level: str | None = None) -> list[Scored]:
        where = " AND level = :level" if level else ""
        rows = self._all("SELECT level, subject, cases, score, rank, doc FROM assessment_scores WHERE month = :month"
                         f"{where} ORDER BY level, rank, subject", {"month": month, "level": level})  # fmt: skip
        out = []
        for lv, subject, cases, score, rank, doc in rows:
            parsed = json.loads(doc)
            out.append(Scored(lv, subject, int(cases), float(score), int(rank), parsed["values"], parsed["points"]))
        return out

    def honours(self, month: str) -> list[tuple[str, str, str]]:
        rows = self._all("SELECT level, subject, honour FROM assessment_honours WHERE month = :month"
                         " ORDER BY level, honour, subject", {"month": month})  # fmt: skip
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def notices_of(self, worker_id: str) -> list[dict[str, Any]]:
        rows = self._all("SELECT month, kind, text, created_at FROM assessment_notices WHERE worker_id = :w"
                         " ORDER BY month DESC, id", {"w": worker_id})  # fmt: skip
        return [dict(zip(("month", "kind", "text", "created_at"), r, strict=True)) for r in rows]

    # appeals
    def add_appeal(self, appeal: dict[str, Any]) -> int:
        fields = [f for f in APPEAL_FIELDS if f != "id" and f in appeal]
        text = (f"INSERT INTO assessment_appeals ({', '.join(fields)}) VALUES ({', '.join(':' + f for f in fields)})"
                " RETURNING id")  # fmt: skip
        with self.store._writing() as db:
            return int(db.execute(sql(text, self.dialect), appeal).fetchone()[0])

    def appeals(self, month: str | None = None, appeal_id: int | None = None) -> list[dict[str, Any]]:
        """A month's appeals (or the one of that id), oldest first."""
        where = "id = :id" if appeal_id is not None else "month = :month"
        rows = self._all(f"SELECT {', '.join(APPEAL_FIELDS)} FROM assessment_appeals WHERE {where}"
                         " ORDER BY id", {"month": month, "id": appeal_id})  # fmt: skip
        return [dict(zip(APPEAL_FIELDS, r, strict=True)) for r in rows]

    def decide_appeal(self, appeal_id: int, state: str, by: str, at: str, note: str) -> bool:
        """pending → approved or rejected; False when it was decided already (two admins racing)."""
        text = ("UPDATE assessment_appeals SET state = :state, decided_by = :by, decided_at = :at, note = :note"
                " WHERE id = :id AND state = 'pending'")  # fmt: skip
        with self.store._writing() as db:
            params = {"id": appeal_id, "state": state, "by": by, "at": at, "note": note}
            return db.execute(sql(text, self.dialect), params).rowcount == 1


def _score_params(row: Scored) -> dict[str, Any]:
    return {"level": row.level, "subject": row.subject, "cases": row.cases, "score": row.score, "rank": row.rank,
            "doc": score_doc(row)}  # fmt: skip


class MonthTaken(Exception):
    """Another freeze of this month was stored while this one was being computed."""


def assessment_store(store: object) -> AssessmentRecords:
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no assessment")
    return AssessmentRecords(store)
