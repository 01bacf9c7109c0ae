"""SQLite store: WAL, and synchronous=FULL so an acknowledged case survives a crash."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from command_center.store.base import CaseQuery
from dispatch.cases import DONE_STATES, Case, TimelineEntry

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    camera_id TEXT,
    state TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_ts ON incidents (ts);
CREATE TABLE IF NOT EXISTS cases (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    is_open INTEGER NOT NULL,
    matter_code TEXT NOT NULL,
    grid_code TEXT NOT NULL,
    assignee TEXT,
    created_at TEXT NOT NULL,
    deadline TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_open_matter ON cases (is_open, matter_code, created_at);
CREATE INDEX IF NOT EXISTS cases_assignee ON cases (assignee, is_open);
CREATE TABLE IF NOT EXISTS case_timeline (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_timeline_case ON case_timeline (case_id, seq);
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    case_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_created ON reports (created_at);
"""
_DONE = tuple(s.value for s in DONE_STATES)


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: callers come from worker threads.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        # sqlite:///relative/path.db or sqlite:////absolute/path.db
        return cls(url.removeprefix("sqlite:///") or ":memory:")

    # incidents
    def add_incident(self, incident: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO incidents (id, ts, camera_id, state, doc) VALUES (?, ?, ?, ?, ?)",
                (incident["id"], incident["ts"], incident.get("camera_id"), incident["state"], json.dumps(incident)),
            )

    def update_incident(self, incident_id: str, **fields: Any) -> dict[str, Any] | None:
        with self._lock, self._tx():
            row = self._db.execute("SELECT doc FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is None:
                return None
            doc = json.loads(row[0]) | fields
            self._db.execute(
                "UPDATE incidents SET state = ?, doc = ? WHERE id = ?", (doc["state"], json.dumps(doc), incident_id)
            )
            return doc

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_incidents(self, limit: int = 50, offset: int = 0, state: str | None = None) -> tuple[list[dict], int]:
        where, args = ("WHERE state = ?", [state]) if state else ("", [])
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM incidents {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT doc FROM incidents {where} ORDER BY ts DESC LIMIT ? OFFSET ?", [*args, limit, offset]
            ).fetchall()
        return [json.loads(r[0]) for r in rows], total

    # citizen reports (Open311 service requests)
    def add_report(self, report: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO reports (id, created_at, case_id, doc) VALUES (?, ?, ?, ?)",
                (report["id"], report["requested_datetime"], report.get("case_id"), json.dumps(report, ensure_ascii=False)),
            )

    def get_report(self, report_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM reports WHERE id = ?", (report_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_reports(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM reports ORDER BY created_at DESC LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    # cases
    def insert_case(self, case: Case) -> None:
        with self._lock, self._tx():
            self._db.execute(
                "INSERT INTO cases (state, is_open, matter_code, grid_code, assignee, created_at, deadline,"
                " version, doc, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*self._case_columns(case), case.id),
            )
            for entry in case.timeline:
                self._append(case.id, entry)

    def save_transition(self, case: Case, entry: TimelineEntry) -> bool:
        with self._lock, self._tx():
            cur = self._db.execute(
                "UPDATE cases SET state = ?, is_open = ?, matter_code = ?, grid_code = ?, assignee = ?,"
                " created_at = ?, deadline = ?, version = ?, doc = ? WHERE id = ? AND version = ?",
                (*self._case_columns(case), case.id, case.version - 1),
            )
            if cur.rowcount != 1:
                return False
            self._append(case.id, entry)
            return True

    def get_case(self, case_id: str) -> Case | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM cases WHERE id = ?", (case_id,)).fetchone()
            if row is None:
                return None
            return self._load(row[0])

    def open_cases_of_matter(self, matter_code: str, since: datetime) -> list[Case]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM cases WHERE is_open = 1 AND matter_code = ? AND created_at >= ?",
                (matter_code, since.isoformat()),
            ).fetchall()
            return [self._load(r[0]) for r in rows]

    def open_counts(self, worker_ids: Iterable[str]) -> dict[str, int]:
        ids = list(worker_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT assignee, count(*) FROM cases WHERE is_open = 1 AND assignee IN ({marks}) GROUP BY assignee",
                ids,
            ).fetchall()
        return dict(rows)

    def list_cases(self, query: CaseQuery) -> tuple[list[Case], int]:
        clauses, args = [], []
        if query.open_only:
            clauses.append("is_open = 1")
        if query.state:
            clauses.append("state = ?")
            args.append(query.state)
        if query.assignee:
            clauses.append("assignee = ?")
            args.append(query.assignee)
        if query.grid_prefix:
            clauses.append("grid_code LIKE ?")
            args.append(query.grid_prefix + "%")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM cases {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT doc FROM cases {where} ORDER BY is_open DESC, deadline ASC LIMIT ? OFFSET ?",
                [*args, query.limit, query.offset],
            ).fetchall()
            return [self._load(r[0]) for r in rows], total

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # helpers
    def _tx(self) -> _Transaction:
        # In autocommit mode a `with connection` block does not open a transaction; BEGIN does.
        return _Transaction(self._db)

    def _append(self, case_id: str, entry: TimelineEntry) -> None:
        row = entry.to_dict()
        self._db.execute(
            "INSERT INTO case_timeline (case_id, ts, action, actor, from_state, to_state, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (case_id, row["ts"], row["action"], row["actor"], row["from_state"], row["to_state"], row["note"]),
        )

    def _load(self, doc: str) -> Case:
        raw = json.loads(doc)
        rows = self._db.execute(
            "SELECT ts, action, actor, from_state, to_state, note FROM case_timeline WHERE case_id = ? ORDER BY seq",
            (raw["id"],),
        ).fetchall()
        raw["timeline"] = [dict(zip(("ts", "action", "actor", "from_state", "to_state", "note"), r, strict=True)) for r in rows]
        return Case.from_dict(raw)

    @staticmethod
    def _case_columns(case: Case) -> tuple:
        doc = case.to_dict()
        del doc["timeline"]  # the timeline table is the record; the doc holds the rest
        return (
            case.state.value,
            int(case.state.value not in _DONE),
            case.matter_code,
            case.grid_code,
            case.assignee,
            case.created_at.isoformat(),
            case.deadline.isoformat(),
            case.version,
            json.dumps(doc, ensure_ascii=False),
        )


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
