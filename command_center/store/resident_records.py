"""Residents in the store (tables: store/resident_schema.py), written once for SQLite and
PostgreSQL through the store's own connections (StoreAccess), like store/field_photo_records.py.

A code's tries and its single use are applied by conditional UPDATEs (tries below the limit,
not yet used, not expired): two attempts racing on two nodes cannot both sign in with one code,
nor get a sixth try. A resident's first sign-in inserts with ON CONFLICT DO NOTHING, then reads
by the phone's index, so two first sign-ins of one phone make one resident.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.access import StoreAccess
from command_center.store.queries import compile_sql, const
from command_center.store.resident_schema import case_ratings, resident_codes, resident_reports, residents
from residents.codes import StoredCode
from residents.limits import Recent

MY_REPORTS = 100  # the latest reports "my reports" lists


@dataclass(frozen=True, slots=True)
class Resident:
    id: str
    phone_masked: str
    created_at: datetime
    last_seen: datetime
    blocked: bool
    token_version: int


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _bind(table: sa.Table) -> dict[str, Any]:
    return {c.name: sa.bindparam(c.name) for c in table.columns}


@cache
def _sql(dialect: str) -> dict[str, str]:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    c, r, rep, rat = resident_codes.c, residents.c, resident_reports.c, case_ratings.c
    since = c.created_at > sa.bindparam("since")
    code_id = c.id == sa.bindparam("id")
    live = sa.and_(code_id, c.used_at.is_(None), c.tries < sa.bindparam("max_tries"))
    statements: dict[str, Any] = {
        "phone_recent": sa.select(
            sa.func.count(), sa.func.max(c.created_at), sa.func.min(c.created_at)
        ).where(c.phone_index == sa.bindparam("phone"), since),
        "address_recent": sa.select(sa.func.count(), sa.func.min(c.created_at)).where(
            c.address_hash == sa.bindparam("address"), since
        ),
        "add_code": sa.insert(resident_codes).values(_bind(resident_codes)),
        "latest_code": sa.select(c.id, c.code_hash, c.expires_at, c.tries, c.used_at)
        .where(c.phone_index == sa.bindparam("phone"))
        .order_by(c.created_at.desc())
        .limit(const(1))
        .offset(const(0)),
        "count_try": sa.update(resident_codes).where(live).values(tries=c.tries + sa.bindparam("one")),
        "use_code": sa.update(resident_codes)
        .where(live, c.expires_at > sa.bindparam("now"))
        .values(used_at=sa.bindparam("now")),
        "sweep_codes": sa.delete(resident_codes).where(c.created_at < sa.bindparam("before")),
        "add_resident": insert(residents)
        .values(_bind(residents))
        .on_conflict_do_nothing(index_elements=[r.phone_index]),
        "by_phone": sa.select(r.id).where(r.phone_index == sa.bindparam("phone")),
        "seen": sa.update(residents).where(r.id == sa.bindparam("id")).values(last_seen=sa.bindparam("at")),
        "get": sa.select(r.id, r.phone_masked, r.created_at, r.last_seen, r.blocked, r.token_version).where(
            r.id == sa.bindparam("id")
        ),
        "bump": sa.update(residents)
        .where(r.id == sa.bindparam("id"))
        .values(token_version=r.token_version + sa.bindparam("one")),
        "link": insert(resident_reports).values(_bind(resident_reports)).on_conflict_do_nothing(),
        "reports": sa.select(rep.report_id, rep.case_id, rep.created_at, rat.stars, rat.comment, rat.rated_at)
        .select_from(resident_reports.outerjoin(case_ratings, rat.report_id == rep.report_id))
        .where(rep.resident_id == sa.bindparam("resident"))
        .order_by(rep.created_at.desc())
        .limit(sa.bindparam("limit"))
        .offset(const(0)),
        "report": sa.select(rep.report_id, rep.case_id, rep.created_at, rat.stars, rat.comment, rat.rated_at)
        .select_from(resident_reports.outerjoin(case_ratings, rat.report_id == rep.report_id))
        .where(rep.resident_id == sa.bindparam("resident"), rep.report_id == sa.bindparam("report")),
        "rate": insert(case_ratings).values(_bind(case_ratings)).on_conflict_do_nothing(),
        "case_rating": sa.select(sa.func.count(), sa.func.avg(rat.stars)).where(
            rat.case_id == sa.bindparam("case")
        ),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _link(row: Any) -> dict[str, Any]:
    report_id, case_id, created, stars, comment, rated = row
    rating = None if stars is None else {"stars": int(stars), "comment": comment, "rated_at": rated}
    return {"report_id": report_id, "case_id": case_id, "created_at": created, "rating": rating}


class ResidentRecords:
    """The residents of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.sql = _sql(store.dialect)

    # codes
    def recent(self, phone_index: str, address_hash: str, since: datetime) -> Recent:
        """Codes sent to the phone and asked for from the address since `since`."""
        with self.store._reading() as db:
            count, latest, oldest = db.execute(
                self.sql["phone_recent"], {"phone": phone_index, "since": iso(since)}
            ).fetchone()
            by_address, address_oldest = db.execute(
                self.sql["address_recent"], {"address": address_hash, "since": iso(since)}
            ).fetchone()
        return Recent(int(count), _when(latest), _when(oldest), int(by_address), _when(address_oldest))

    def add_code(
        self, phone_index: str, address_hash: str, code_hash: str, now: datetime, expires_at: datetime
    ) -> str:
        code_id = "C" + secrets.token_hex(8)
        row = {"id": code_id, "phone_index": phone_index, "address_hash": address_hash, "code_hash": code_hash,
               "created_at": iso(now), "expires_at": iso(expires_at), "tries": 0, "used_at": None}  # fmt: skip
        with self.store._writing_one() as db:
            db.execute(self.sql["add_code"], row)
        return code_id

    def latest_code(self, phone_index: str) -> StoredCode | None:
        with self.store._reading() as db:
            raw = db.execute(self.sql["latest_code"], {"phone": phone_index}).fetchone()
        if raw is None:
            return None
        code_id, code_hash, expires_at, tries, used_at = raw
        return StoredCode(
            str(code_id), str(code_hash), datetime.fromisoformat(expires_at), int(tries), _when(used_at)
        )

    def count_try(self, code_id: str, max_tries: int) -> bool:
        """A wrong try counted; False when the code was used or spent meanwhile."""
        with self.store._writing_one() as db:
            params = {"id": code_id, "max_tries": max_tries, "one": 1}
            return int(db.execute(self.sql["count_try"], params).rowcount) > 0

    def use_code(self, code_id: str, max_tries: int, now: datetime) -> bool:
        """The code marked used, if it still could be (True once only)."""
        with self.store._writing_one() as db:
            params = {"id": code_id, "max_tries": max_tries, "now": iso(now)}
            return int(db.execute(self.sql["use_code"], params).rowcount) > 0

    def sweep_codes(self, before: datetime) -> int:
        """Codes made before `before` deleted (past every window that counts them)."""
        with self.store._writing_one() as db:
            return int(db.execute(self.sql["sweep_codes"], {"before": iso(before)}).rowcount)

    # residents
    def sign_in(self, phone_index: str, phone_sealed: str, phone_masked: str, now: datetime) -> Resident:
        """The resident of this phone, made on the first sign-in; last_seen set to now."""
        row = {"id": "RS" + secrets.token_hex(8), "phone_index": phone_index, "phone_sealed": phone_sealed,
               "phone_masked": phone_masked, "created_at": iso(now), "last_seen": iso(now), "blocked": 0,
               "token_version": 0}  # fmt: skip
        with self.store._writing() as db:
            db.execute(self.sql["add_resident"], row)
            (resident_id,) = db.execute(self.sql["by_phone"], {"phone": phone_index}).fetchone()
            db.execute(self.sql["seen"], {"id": resident_id, "at": iso(now)})
        found = self.get(str(resident_id))
        assert found is not None
        return found

    def get(self, resident_id: str) -> Resident | None:
        with self.store._reading() as db:
            raw = db.execute(self.sql["get"], {"id": resident_id}).fetchone()
        if raw is None:
            return None
        rid, masked, created, seen, blocked, version = raw
        return Resident(str(rid), str(masked), datetime.fromisoformat(created), datetime.fromisoformat(seen),
                        bool(blocked), int(version))  # fmt: skip

    def sign_out(self, resident_id: str) -> None:
        """Every token of the resident revoked (its version bumped)."""
        with self.store._writing_one() as db:
            db.execute(self.sql["bump"], {"id": resident_id, "one": 1})

    # reports and ratings
    def link_report(self, report_id: str, resident_id: str, case_id: str | None, at: datetime) -> None:
        row = {"report_id": report_id, "resident_id": resident_id, "case_id": case_id, "created_at": iso(at)}
        with self.store._writing_one() as db:
            db.execute(self.sql["link"], row)

    def reports_of(self, resident_id: str, limit: int = MY_REPORTS) -> list[dict[str, Any]]:
        """The resident's latest reports, newest first, each with its rating (or None)."""
        with self.store._reading() as db:
            rows = db.execute(self.sql["reports"], {"resident": resident_id, "limit": limit}).fetchall()
        return [_link(row) for row in rows]

    def report_of(self, resident_id: str, report_id: str) -> dict[str, Any] | None:
        """One report of the resident's (as reports_of gives it), or None if it is not theirs."""
        with self.store._reading() as db:
            row = db.execute(self.sql["report"], {"resident": resident_id, "report": report_id}).fetchone()
        return None if row is None else _link(row)

    def rate(
        self, report_id: str, case_id: str, resident_id: str, stars: int, comment: str, at: datetime
    ) -> bool:
        """The rating stored; False when this report was rated already (once only)."""
        row = {"report_id": report_id, "case_id": case_id, "resident_id": resident_id, "stars": stars,
               "comment": comment, "rated_at": iso(at)}  # fmt: skip
        with self.store._writing_one() as db:
            return int(db.execute(self.sql["rate"], row).rowcount) > 0

    def case_rating(self, case_id: str) -> tuple[int, float | None]:
        """(ratings, average stars) of a case: what the assessment reads."""
        with self.store._reading() as db:
            count, average = db.execute(self.sql["case_rating"], {"case": case_id}).fetchone()
        return int(count), None if average is None else float(average)


def resident_store(store: object) -> ResidentRecords:
    """The residents of a store (either backend)."""
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no residents")
    return ResidentRecords(store)
