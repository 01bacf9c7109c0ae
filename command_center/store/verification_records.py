"""Video verifications (视频核查) and case flags in the store, written once for both
databases (the tables and what their columns mean: store/schema.py `verifications`,
`case_flags`; who writes them: command_center/verification.py).

The records wrap a store rather than being mixed into it: they only need the store's three
connection context managers (store/access.py), so neither store class changes. A row's
`doc` is a JSON object (the request, the verdict's facts, evidence URLs); readers get it
merged into the row. A decision is a compare-and-set on `state` (`update_verification`
with `expect`), so two officers confirming at once cannot both act on the case.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.access import StoreAccess
from command_center.store.queries import box, compile_sql, const
from command_center.store.schema import case_flags as flags
from command_center.store.schema import cases, verifications

Row = dict[str, Any]
COLUMNS = ("id", "case_id", "camera_id", "purpose", "mode", "state", "created_at", "decided_at", "decided_by")
STATES = ("checking", "cleared", "present", "unsure", "confirmed", "rejected", "cancelled")
# A suggested verdict waits for an officer in these states (mode suggest).
AWAITING = ("cleared", "present")
DONE_CASE_STATES = ("closed", "evaluated")  # what "a closed case" means for a recurrence


class Connection(Protocol):
    def execute(self, sql: str, params: dict[str, Any] = ..., /) -> Any: ...


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _filters(states: int, by_case: bool, grid: bool, awaiting: bool, purpose: bool) -> list[Any]:
    p = sa.bindparam
    where: list[Any] = []
    if states:
        where.append(verifications.c.state.in_([p(f"state{i}") for i in range(states)]))
    if by_case:
        where.append(verifications.c.case_id == p("case_id"))
    if grid:
        # The case's grid decides the jurisdiction, as for the case itself.
        where.append(
            verifications.c.case_id.in_(sa.select(cases.c.id).where(cases.c.grid_code.like(p("grid"))))
        )
    if awaiting:
        where.append(verifications.c.mode == const("suggest"))
        where.append(verifications.c.state.in_([const(s) for s in AWAITING]))
    if purpose:
        where.append(verifications.c.purpose == p("purpose"))
    return where


@cache
def _list_sql(
    dialect: str, states: int, by_case: bool, grid: bool, awaiting: bool, purpose: bool
) -> tuple[str, str]:
    where = _filters(states, by_case, grid, awaiting, purpose)
    cols = [verifications.c[c] for c in COLUMNS] + [verifications.c.doc]
    page = (
        sa.select(*cols).where(*where)
        .order_by(verifications.c.created_at.desc(), verifications.c.id.desc())
        .limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
    )  # fmt: skip
    count = sa.select(sa.func.count()).select_from(verifications).where(*where)
    return compile_sql(page, dialect), compile_sql(count, dialect)


@cache
def _sql(dialect: str) -> dict[str, str]:
    p = sa.bindparam
    cols = [verifications.c[c] for c in COLUMNS] + [verifications.c.doc]
    one = sa.select(*cols).where(verifications.c.id == p("id"))
    statements: dict[str, Any] = {
        "insert": _insert(dialect, verifications).values({c: p(c) for c in (*COLUMNS, "doc")}),
        "get": one,
        "get_for_update": one.with_for_update() if dialect == "postgresql" else one,
        "update": sa.update(verifications)
        .where(verifications.c.id == p("id"))
        .values(state=p("state"), doc=p("doc"), decided_at=p("decided_at"), decided_by=p("decided_by")),
        "add_flag": _insert(dialect, flags)
        .values(case_id=p("case_id"), kind=p("kind"), created_at=p("created_at"), doc=p("doc"))
        .on_conflict_do_nothing(index_elements=[flags.c.case_id, flags.c.kind]),
        "flags_of": sa.select(flags.c.case_id, flags.c.kind, flags.c.created_at, flags.c.doc)
        .where(flags.c.case_id == p("case_id"))
        .order_by(flags.c.created_at),
        "flags_by_kind": sa.select(flags.c.case_id, flags.c.kind, flags.c.created_at, flags.c.doc)
        .where(flags.c.kind == p("kind"), flags.c.created_at >= p("since"))
        .order_by(flags.c.created_at.desc())
        .limit(p("limit"))
        .offset(const(0)),
        # Closed cases of a matter in a box around a point: the recurrence check's
        # candidates (the index on is_open, matter_code, lon narrows it).
        "closed_near": sa.select(cases.c.id, cases.c.lon, cases.c.lat, cases.c.doc)
        .where(
            cases.c.is_open == const(0),
            cases.c.matter_code == p("matter_code"),
            cases.c.state.in_([const(s) for s in DONE_CASE_STATES]),
            cases.c.lon.between(p("west"), p("east")),
            cases.c.lat.between(p("south"), p("north")),
            cases.c.created_at >= p("since"),
        )
        .order_by(cases.c.created_at.desc())
        .limit(const(50))
        .offset(const(0)),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _row(raw: Any) -> Row:
    """A stored row with its doc merged in (the columns win over a doc key of the same name)."""
    values = tuple(raw)
    row = dict(zip(COLUMNS, values[: len(COLUMNS)], strict=True))
    doc = json.loads(values[len(COLUMNS)] or "{}")
    return {**doc, **row}


def _flag(raw: Any) -> Row:
    case_id, kind, created_at, doc = tuple(raw)
    return {**json.loads(doc or "{}"), "case_id": case_id, "kind": kind, "created_at": created_at}


class VerificationRecords:
    """The verification and flag rows of one store (SQLite or PostgreSQL)."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.sql = _sql(store.dialect)

    # verifications
    def add_verification(self, row: Row) -> None:
        """row: the columns (COLUMNS; decided_* optional) and `doc` (a dict)."""
        params = {c: row.get(c) for c in COLUMNS} | {
            "doc": json.dumps(row.get("doc") or {}, ensure_ascii=False)
        }
        if params["state"] not in STATES:
            raise ValueError(f"unknown verification state {params['state']!r}")
        with self.store._writing_one() as db:
            db.execute(self.sql["insert"], params)

    def get_verification(self, verification_id: str) -> Row | None:
        with self.store._reading() as db:
            raw = db.execute(self.sql["get"], {"id": verification_id}).fetchone()
        return _row(raw) if raw is not None else None

    def update_verification(
        self,
        verification_id: str,
        *,
        state: str | None = None,
        doc: dict[str, Any] | None = None,
        decided_at: str | None = None,
        decided_by: str | None = None,
        expect: Iterable[str] | None = None,
    ) -> Row | None:
        """Change a row: its state, doc keys merged in, who and when decided. With `expect`,
        only while its state is one of those (compare-and-set). The row after, or None when
        it is missing or its state was not expected."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown verification state {state!r}")
        wanted = None if expect is None else frozenset(expect)
        with self.store._writing() as db:
            raw = db.execute(self.sql["get_for_update"], {"id": verification_id}).fetchone()
            if raw is None:
                return None
            current = tuple(raw)
            columns = dict(zip(COLUMNS, current[: len(COLUMNS)], strict=True))
            if wanted is not None and columns["state"] not in wanted:
                return None
            merged = json.loads(current[len(COLUMNS)] or "{}") | (doc or {})
            params = {
                "id": verification_id,
                "state": state or columns["state"],
                "doc": json.dumps(merged, ensure_ascii=False),
                "decided_at": decided_at if decided_at is not None else columns["decided_at"],
                "decided_by": decided_by if decided_by is not None else columns["decided_by"],
            }
            db.execute(self.sql["update"], params)
        return {**merged, **columns, **{k: params[k] for k in ("state", "decided_at", "decided_by")}}

    def list_verifications(
        self,
        *,
        states: Iterable[str] = (),
        case_id: str | None = None,
        grid_prefix: str | None = None,
        awaiting: bool = False,
        purpose: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Row], int]:
        """Newest first, with the total; `grid_prefix` scopes by the case's grid (a
        jurisdiction), `awaiting` keeps the suggested verdicts waiting for an officer."""
        wanted = list(dict.fromkeys(states))
        page, count = _list_sql(self.store.dialect, len(wanted), case_id is not None, bool(grid_prefix), awaiting,
                                purpose is not None)  # fmt: skip
        params: dict[str, Any] = {f"state{i}": s for i, s in enumerate(wanted)}
        if case_id is not None:
            params["case_id"] = case_id
        if grid_prefix:
            params["grid"] = grid_prefix + "%"
        if purpose is not None:
            params["purpose"] = purpose
        with self.store._reading() as db:
            total = int(db.execute(count, params).fetchone()[0])
            rows = db.execute(page, params | {"limit": limit, "offset": offset}).fetchall()
        return [_row(r) for r in rows], total

    def verifications_of(self, case_id: str) -> list[Row]:
        return self.list_verifications(case_id=case_id, limit=1000)[0]

    def checking(self, limit: int = 10_000) -> list[Row]:
        """Rows still `checking` (a restart re-requests them)."""
        return self.list_verifications(states=("checking",), limit=limit)[0]

    # flags
    def add_flag(self, case_id: str, kind: str, doc: dict[str, Any], at: str) -> bool:
        """A flag on a case, once per kind: True when it is new."""
        params = {
            "case_id": case_id,
            "kind": kind,
            "created_at": at,
            "doc": json.dumps(doc, ensure_ascii=False),
        }
        with self.store._writing_one() as db:
            return bool(db.execute(self.sql["add_flag"], params).rowcount > 0)

    def flags_of(self, case_id: str) -> list[Row]:
        with self.store._reading() as db:
            return [_flag(r) for r in db.execute(self.sql["flags_of"], {"case_id": case_id}).fetchall()]

    def flags_for(self, case_ids: list[str]) -> dict[str, list[Row]]:
        """The flags of a page of cases, by case (cases without any left out): one read, a
        primary-key lookup per case."""
        out: dict[str, list[Row]] = {}
        with self.store._reading() as db:
            for case_id in dict.fromkeys(case_ids):
                found = db.execute(self.sql["flags_of"], {"case_id": case_id}).fetchall()
                if found:
                    out[case_id] = [_flag(r) for r in found]
        return out

    def flags_by_kind(self, kind: str, since: str = "", limit: int = 100) -> list[Row]:
        """A kind's flags, newest first, made at or after `since` (UTC ISO)."""
        with self.store._reading() as db:
            found = db.execute(
                self.sql["flags_by_kind"], {"kind": kind, "since": since, "limit": limit}
            ).fetchall()
        return [_flag(r) for r in found]

    # the recurrence check's candidates
    def closed_cases_near(
        self, matter_code: str, lon: float, lat: float, radius_m: float, created_since: datetime
    ) -> list[Row]:
        """Closed cases of the matter within a box of ± radius_m around the point, created
        since then: {id, lon, lat, updated_at} (the caller measures the real distance)."""
        params = {
            "matter_code": matter_code,
            "since": created_since.astimezone(UTC).isoformat(),
            **box((lon, lat, radius_m)),
        }
        with self.store._reading() as db:
            found = db.execute(self.sql["closed_near"], params).fetchall()
        out = []
        for case_id, c_lon, c_lat, doc in found:
            updated = json.loads(doc or "{}").get("updated_at")
            out.append({"id": case_id, "lon": c_lon, "lat": c_lat, "updated_at": updated})
        return out


def verification_store(store: object) -> VerificationRecords:
    """The verification records of a store (either backend)."""
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no verifications")
    return VerificationRecords(store)
