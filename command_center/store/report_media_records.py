"""Citizens' report media and follows in the store (tables: store/report_media_schema.py),
written once for SQLite and PostgreSQL through the store's own connections (StoreAccess), like
store/resident_records.py; and the Open311 list query (GET requests.json's filters in SQL).

A report's media rows go in one transaction (all or none): api/report_media.py writes the
files first and removes them again when this fails, so a refused or failed report leaves
neither rows nor files.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.access import StoreAccess
from command_center.store.queries import compile_sql, const
from command_center.store.report_media_schema import case_follows, report_media
from command_center.store.resident_records import iso
from command_center.store.schema import cases, reports

MY_FOLLOWS = 100
OPEN311_PAGE = 200  # the most requests one Open311 list answers (each is a case read: bounded)


@dataclass(frozen=True, slots=True)
class MediaRow:
    id: str
    report_id: str
    case_id: str | None
    kind: str  # photo, voice, video
    mime: str
    file: str
    bytes: int
    duration_s: float | None
    created_at: str
    removed_at: str | None = None  # the retention sweep deleted the file then

    def public(self) -> dict[str, Any]:
        """What a page is told of it (the URL is the caller's: it depends on who asks, and there
        is none once the file was swept: `removed`, shown as 已按规定删除)."""
        return {"id": self.id, "kind": self.kind, "mime": self.mime, "bytes": self.bytes,
                "duration_s": self.duration_s, "created_at": self.created_at,
                "removed": self.removed_at is not None, "removed_at": self.removed_at}  # fmt: skip


def new_media_id() -> str:
    return "M" + secrets.token_hex(6)


@cache
def _sql(dialect: str) -> dict[str, str]:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    m, f = report_media.c, case_follows.c
    columns = [m.id, m.report_id, m.case_id, m.kind, m.mime, m.file, m.bytes, m.duration_s, m.created_at,
               m.removed_at]  # fmt: skip
    swept = sa.and_(m.created_at < sa.bindparam("cutoff"), m.removed_at.is_(None))
    statements: dict[str, Any] = {
        "add": sa.insert(report_media).values({c.name: sa.bindparam(c.name) for c in report_media.columns}),
        "of_report": sa.select(*columns)
        .where(m.report_id == sa.bindparam("report"))
        .order_by(m.created_at, m.id),
        "of_case": sa.select(*columns).where(m.case_id == sa.bindparam("case")).order_by(m.created_at, m.id),
        "one": sa.select(*columns).where(m.id == sa.bindparam("id")),
        "follow": insert(case_follows)
        .values(
            case_id=sa.bindparam("case"), resident_id=sa.bindparam("resident"), created_at=sa.bindparam("at")
        )
        .on_conflict_do_nothing(),
        "follows": sa.select(f.case_id, f.created_at)
        .where(f.resident_id == sa.bindparam("resident"))
        .order_by(f.created_at.desc())
        .limit(sa.bindparam("limit"))
        .offset(const(0)),
        "followers": sa.select(sa.func.count()).where(f.case_id == sa.bindparam("case")),
        # the retention sweep's: what it deletes now, marked in the same transaction
        "to_sweep": sa.select(m.report_id, m.file).where(swept),
        "mark_swept": sa.update(report_media).where(swept).values(removed_at=sa.bindparam("at")),
        "of_report_gone": sa.delete(report_media).where(m.report_id == sa.bindparam("report")),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


@cache
def _open311_sql(dialect: str, codes: int, states: int) -> str:
    """Reports in a time window, optionally of some matters and of open or closed cases: the
    reports table's `created_at` index, the case by its key."""
    r, c = reports.c, cases.c
    query = (
        sa.select(r.doc)
        .select_from(reports.outerjoin(cases, c.id == r.case_id))
        .where(r.created_at >= sa.bindparam("start"), r.created_at <= sa.bindparam("end"))
        .order_by(r.created_at.desc())
        .limit(const(OPEN311_PAGE))
        .offset(const(0))
    )
    if codes:
        query = query.where(c.matter_code.in_([sa.bindparam(f"code{i}") for i in range(codes)]))
    if states:  # a report whose case is gone counts as open, as the single view says
        open_ = sa.or_(c.is_open == const(1), c.id.is_(None))
        query = query.where(open_ if states == 1 else sa.not_(open_))
    return compile_sql(query, dialect)


def _row(raw: Any) -> MediaRow:
    mid, report, case, kind, mime, file, size, duration, created, removed = raw
    return MediaRow(str(mid), str(report), case, str(kind), str(mime), str(file), int(size),
                    None if duration is None else float(duration), str(created), removed)  # fmt: skip


class ReportMediaRecords:
    """The report media and follows of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.sql = _sql(store.dialect)

    def add(self, rows: list[MediaRow]) -> None:
        """All of a report's media, in one transaction."""
        if not rows:
            return
        with self.store._writing() as db:
            for row in rows:
                db.execute(self.sql["add"], {name: getattr(row, name) for name in MediaRow.__slots__})

    def of_report(self, report_id: str) -> list[MediaRow]:
        with self.store._reading() as db:
            return [_row(r) for r in db.execute(self.sql["of_report"], {"report": report_id}).fetchall()]

    def of_case(self, case_id: str) -> list[MediaRow]:
        with self.store._reading() as db:
            return [_row(r) for r in db.execute(self.sql["of_case"], {"case": case_id}).fetchall()]

    def get(self, media_id: str) -> MediaRow | None:
        with self.store._reading() as db:
            raw = db.execute(self.sql["one"], {"id": media_id}).fetchone()
        return None if raw is None else _row(raw)

    def follow(self, case_id: str, resident_id: str, at: datetime) -> bool:
        """The follow stored; False when the resident follows the case already."""
        with self.store._writing_one() as db:
            params = {"case": case_id, "resident": resident_id, "at": iso(at)}
            return int(db.execute(self.sql["follow"], params).rowcount) > 0

    def follows_of(self, resident_id: str, limit: int = MY_FOLLOWS) -> list[tuple[str, str]]:
        """(case id, followed at) of the resident's follows, newest first."""
        with self.store._reading() as db:
            rows = db.execute(self.sql["follows"], {"resident": resident_id, "limit": limit}).fetchall()
        return [(str(case_id), str(at)) for case_id, at in rows]

    def followers(self, case_id: str) -> int:
        with self.store._reading() as db:
            return int(db.execute(self.sql["followers"], {"case": case_id}).fetchone()[0])

    def open311_reports(
        self, start: datetime, end: datetime, codes: list[str], status: str | None
    ) -> list[str]:
        """The stored docs (JSON text) of reports made in [start, end], newest first; `codes`
        limit the matters, `status` ("open"/"closed"/None) the case's state."""
        states = {"open": 1, "closed": 2}.get(status or "", 0)
        params: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat()}
        params |= {f"code{i}": code for i, code in enumerate(codes)}
        with self.store._reading() as db:
            rows = db.execute(_open311_sql(self.store.dialect, len(codes), states), params).fetchall()
        return [str(row[0]) for row in rows]

    def sweep_before(self, cutoff: str, now: str) -> list[tuple[str, str]]:
        """(report id, file name) of the media made before `cutoff` and not swept yet, marked
        swept at `now` in the same transaction: the retention sweep deletes their files next."""
        with self.store._writing() as db:
            found = db.execute(self.sql["to_sweep"], {"cutoff": cutoff}).fetchall()
            if found:
                db.execute(self.sql["mark_swept"], {"cutoff": cutoff, "at": now})
        return [(str(report), str(file)) for report, file in found]

    def forget_reports(self, report_ids: list[str]) -> int:
        """The media rows of reports the sweep deleted (their files go with the report's folder)."""
        if not report_ids:
            return 0
        with self.store._writing() as db:
            return sum(int(db.execute(self.sql["of_report_gone"], {"report": r}).rowcount) for r in report_ids)


def report_media_store(store: object) -> ReportMediaRecords:
    """The report media of a store (either backend)."""
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no report media")
    return ReportMediaRecords(store)
