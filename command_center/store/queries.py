"""Every statement of both stores, built once with SQLAlchemy Core from store/schema.py.

Where the two databases differ, it is here and only here: reading a field of a JSON
document (SQLite's json_extract, PostgreSQL's ->>), insert-or-ignore (OR IGNORE, ON
CONFLICT DO NOTHING), a list parameter (IN with one placeholder per item, = ANY(array)),
FOR UPDATE (PostgreSQL only; SQLite's write transaction already excludes writers).

Each statement is compiled once per dialect into its SQL text with named parameters
(`:name` for sqlite3, `%(name)s` for psycopg) and the stores run that text on their own
driver connection with a dict of parameters. Why not SQLAlchemy's Connection.execute:
both stores keep their transaction control in their own hands (SQLite: one connection,
BEGIN IMMEDIATE, a savepoint per write in a group commit; PostgreSQL: a bounded pool,
pipelines, deferred batch writes), and Connection.execute costs ~14 µs a statement more
than the driver (measured on the dedupe read: 22 µs against 8 µs on sqlite3; parameter
processing, result wrapping), which over an intake's statements is a fifth of its time
in a SQLite group commit. The SQL is SQLAlchemy's either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, ColumnElement

from command_center.store.schema import (
    audit,
    case_timeline,
    cases,
    incidents,
    metadata,
    publish_keys,
    reports,
    users,
)

USER_FIELDS = tuple(c.name for c in users.columns)
KEY_FIELDS = tuple(c.name for c in publish_keys.columns)
AUDIT_STORED = ("ts", "actor", "role", "action", "target", "ip", "detail")
AUDIT_LISTED = ("seq", *AUDIT_STORED, "hash")  # list_audit's rows: the fields and the row's chain hash
AUDIT_CHAINED = ("seq", *AUDIT_STORED, "prev_hash", "hash")  # iter_audit's rows
# A case row's columns after the id, in the order columns.case_columns gives them.
CASE_FIELDS = ("state", "is_open", "matter_code", "grid_code", "assignee", "created_at", "deadline", "version", "doc", "lon", "lat")
TIMELINE_FIELDS = ("ts", "action", "actor", "from_state", "to_state", "note")

# PostgreSQL: the advisory lock key serialising audit appends across processes ("cc_aud")
AUDIT_LOCK = 0x63635F617564

_DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(paramstyle="named"),
    # Compiled with the plain PostgreSQL dialect: psycopg takes its %(name)s parameters,
    # without the ::VARCHAR casts SQLAlchemy's psycopg dialect would add to each.
    "postgresql": PGDialect(paramstyle="pyformat"),  # type: ignore[no-untyped-call]  # (SQLAlchemy leaves it untyped)
}


def const(value: int | str) -> ColumnElement[Any]:
    """A constant written into the SQL (not a parameter): compiled text needs no default values."""
    text = str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"
    return sa.literal_column(text)


def compile_sql(statement: ClauseElement, dialect: str) -> str:
    compiled = statement.compile(dialect=_DIALECTS[dialect])
    # Run as text with the caller's parameters only: a value SQLAlchemy bound itself (a
    # Python constant in an expression) would be missing. Constants go in with const().
    fixed = [name for name, value in compiled.params.items() if value is not None]
    if fixed:
        raise ValueError(f"statement binds constants {fixed}: write them with const()")
    return str(compiled)


def _first(statement: sa.Select[Any]) -> sa.Select[Any]:
    return statement.limit(const(1)).offset(const(0))


def _p(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name)


def _values(names: Sequence[str]) -> dict[str, sa.BindParameter[Any]]:
    return {n: _p(n) for n in names}


def _json_text(column: sa.Column[Any], key: str, dialect: str) -> ColumnElement[Any]:
    """A top-level text field of a JSON document column."""
    if dialect == "postgresql":
        return sa.cast(column, postgresql.JSONB).op("->>", return_type=sa.Text)(const(key))
    return sa.func.json_extract(column, const(f"$.{key}"))


# Up to this many items a list parameter is one placeholder each, on both databases
# (statements compiled and prepared per length). PostgreSQL plans `= ANY(array)` for an
# array of unknown length: a bitmap scan and a sort, 2.5 times the time of `IN ($1)` for
# the one worker of a grid that most intakes ask about (`bench scale`). Longer lists,
# there only, are one array parameter: one prepared statement for every length.
SHORT_LIST = 32


def _in(column: sa.Column[Any], name: str, count: int, dialect: str) -> ColumnElement[bool]:
    """`column` among a list of `count` items; list_params gives their parameters."""
    if dialect == "postgresql" and count > SHORT_LIST:
        return column == sa.any_(_p(name))
    return column.in_([_p(f"{name}{i}") for i in range(count)])


def slots(count: int) -> int:
    """Placeholders for a list of `count` items: the count up to 4, then the next power of
    two, the rest NULL (equal to nothing). Each length is a statement compiled (~0.5 ms
    and more with the length) and prepared, and a grid's fallback to its community asks
    for lists of any length: measured in `bench cases`, compiling each new length put
    the intake's p99 from 1.5 to 2.6 ms."""
    return count if count <= 4 else 1 << (count - 1).bit_length()


def list_params(name: str, items: list[Any], dialect: str) -> dict[str, Any]:
    if dialect == "postgresql" and len(items) > SHORT_LIST:
        return {name: items}
    padded = [*items, *[None] * (slots(len(items)) - len(items))]
    return {f"{name}{i}": item for i, item in enumerate(padded)}


def box(near: tuple[float, float, float]) -> dict[str, float]:
    """open_of_matter_near's parameters: a box around (lon, lat) of ± radius metres."""
    lon, lat, radius_m = near
    dlat = radius_m / 111_320.0
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return {"west": lon - dlon, "east": lon + dlon, "south": lat - dlat, "north": lat + dlat}


def _open() -> ColumnElement[bool]:
    return cases.c.is_open == const(1)


def copy_into(table: str, columns: Sequence[str]) -> str:
    """PostgreSQL's bulk load of these columns (COPY ... FROM STDIN): the group commit's
    writes (store/postgres/batch.py). Core has no COPY; the names come from the tables."""
    found = metadata.tables[table]
    return f"COPY {found.name} ({', '.join(found.c[name].name for name in columns)}) FROM STDIN"


@dataclass(frozen=True, slots=True)
class Statements:
    """The statements with a fixed shape, compiled for one dialect."""

    insert_incident: str
    incident_doc: str
    incident_doc_for_update: str
    update_incident: str
    insert_report: str
    report_doc: str
    list_reports: str
    delete_reports_before: str
    insert_user: str
    get_user: str
    count_users: str
    list_users: str
    last_audit_hash: str
    insert_audit: str
    set_audit_hash: str
    chain_audit_row: str
    audit_page: str
    any_audit_hashed: str
    scrub_audit_ips: str
    ping: str
    insert_key: str
    get_key: str
    list_keys: str
    insert_case: str
    insert_timeline: str
    update_case: str
    case_row: str
    case_doc: str
    timeline_of: str
    open_of_matter: str
    open_of_matter_near: str
    open_counts_by_grid: str
    audit_lock: str  # PostgreSQL only
    cases_reltuples: str  # PostgreSQL only


def _documents(dialect: str) -> dict[str, ClauseElement]:
    """Incidents, reports, users and publish keys."""
    insert_user = (
        postgresql.insert(users).on_conflict_do_nothing(index_elements=["username"])
        if dialect == "postgresql"
        else sa.insert(users).prefix_with("OR IGNORE")
    )
    return {
        "insert_incident": sa.insert(incidents).values(_values(("id", "ts", "camera_id", "state", "doc"))),
        "incident_doc": sa.select(incidents.c.doc).where(incidents.c.id == _p("id")),
        # (SQLite has no FOR UPDATE and needs none: its write transaction excludes writers)
        "incident_doc_for_update": sa.select(incidents.c.doc).where(incidents.c.id == _p("id")).with_for_update(),
        "update_incident": sa.update(incidents).where(incidents.c.id == _p("id")).values(_values(("state", "doc"))),
        "insert_report": sa.insert(reports).values(_values(("id", "created_at", "case_id", "doc"))),
        "report_doc": sa.select(reports.c.doc).where(reports.c.id == _p("id")),
        "list_reports": sa.select(reports.c.doc)
        .order_by(reports.c.created_at.desc())
        .limit(_p("limit"))
        .offset(_p("offset")),
        "delete_reports_before": sa.delete(reports).where(reports.c.created_at < _p("ts")).returning(reports.c.id),
        "insert_user": insert_user.values(_values(USER_FIELDS)),
        "get_user": sa.select(*users.columns).where(users.c.username == _p("username")),
        "count_users": sa.select(sa.func.count()).select_from(users),
        "list_users": sa.select(*users.columns).order_by(users.c.username).limit(_p("limit")).offset(_p("offset")),
        "insert_key": sa.insert(publish_keys).values(_values(KEY_FIELDS)),
        "get_key": sa.select(*publish_keys.columns).where(publish_keys.c.id == _p("id")),
        "list_keys": sa.select(*publish_keys.columns).order_by(publish_keys.c.created_at, publish_keys.c.id),
        "ping": sa.select(sa.func.count()).select_from(sa.table("alembic_version")),
    }


def _audit(dialect: str) -> dict[str, ClauseElement]:
    """The audit log and its hash chain (audit_chain.py)."""
    built: dict[str, ClauseElement] = {
        "last_audit_hash": _first(sa.select(audit.c.hash).order_by(audit.c.seq.desc())),
        "insert_audit": sa.insert(audit).values(_values((*AUDIT_STORED, "prev_hash"))).returning(audit.c.seq),
        "set_audit_hash": sa.update(audit).where(audit.c.seq == _p("seq")).values(hash=_p("hash")),
        "chain_audit_row": sa.update(audit).where(audit.c.seq == _p("seq")).values(_values(("prev_hash", "hash"))),
        "audit_page": sa.select(*(audit.c[n] for n in AUDIT_CHAINED))
        .where(audit.c.seq > _p("after"))
        .order_by(audit.c.seq)
        .limit(_p("limit"))
        .offset(const(0)),  # (SQLite spells a LIMIT alone with an OFFSET parameter)
        "any_audit_hashed": _first(sa.select(const(1)).select_from(audit).where(audit.c.hash.is_not(None))),
        "scrub_audit_ips": sa.update(audit).where(audit.c.ts < _p("ts"), audit.c.ip != const("")).values(ip=const("")),
    }
    if dialect == "postgresql":  # appends from every process serialise on it (SQLite: its write lock)
        built["audit_lock"] = sa.select(sa.func.pg_advisory_xact_lock(const(AUDIT_LOCK)))
    return built


def _cases(dialect: str) -> dict[str, ClauseElement]:
    of_matter = sa.select(cases.c.id, cases.c.version).where(
        _open(), cases.c.matter_code == _p("matter_code"), cases.c.created_at >= _p("since")
    )
    built: dict[str, ClauseElement] = {
        "insert_case": sa.insert(cases).values({**_values(CASE_FIELDS), "id": _p("id")}),
        "insert_timeline": sa.insert(case_timeline).values(_values(("case_id", *TIMELINE_FIELDS))),
        # The compare-and-set: only over the version the caller read.
        "update_case": sa.update(cases)
        .where(cases.c.id == _p("id"), cases.c.version == _p("prior"))
        .values(_values(CASE_FIELDS))
        .returning(cases.c.id),
        "case_row": sa.select(cases.c.id, cases.c.version, cases.c.doc).where(cases.c.id == _p("id")),
        "case_doc": sa.select(cases.c.doc).where(cases.c.id == _p("id")),
        "timeline_of": sa.select(*(case_timeline.c[n] for n in TIMELINE_FIELDS))
        .where(case_timeline.c.case_id == _p("case_id"))
        .order_by(case_timeline.c.seq),
        "open_of_matter": of_matter,
        # a box around (lon, lat): the caller measures exactly
        "open_of_matter_near": of_matter.where(
            cases.c.lon.between(_p("west"), _p("east")), cases.c.lat.between(_p("south"), _p("north"))
        ),
        "open_counts_by_grid": sa.select(cases.c.grid_code, sa.func.count())
        .where(_open(), cases.c.grid_code.like(_p("prefix")))
        .group_by(cases.c.grid_code),
    }
    if dialect == "postgresql":  # the planner's estimate of the case table's size (postgres/stats.FreshStats)
        built["cases_reltuples"] = (
            sa.select(sa.column("reltuples"))
            .select_from(sa.table("pg_class"))
            .where(sa.column("oid") == sa.literal_column("'cases'::regclass"))
        )
    return built


@cache
def statements(dialect: str) -> Statements:
    """Every fixed statement compiled for `dialect`; one the dialect has no use for is ""."""
    built = _documents(dialect) | _audit(dialect) | _cases(dialect)
    return Statements(**{f.name: compile_sql(built[f.name], dialect) if f.name in built else "" for f in fields(Statements)})


# ------------------------------------------------------------ statements whose shape varies


def users_named(dialect: str, count: int) -> str:
    return _users_named(dialect, slots(count))


@cache
def _users_named(dialect: str, count: int) -> str:
    return compile_sql(sa.select(*users.columns).where(_in(users.c.username, "name", count, dialect)), dialect)


@cache
def update_user(dialect: str, names: tuple[str, ...]) -> str:
    return compile_sql(sa.update(users).where(users.c.username == _p("key")).values(_values(names)), dialect)


@cache
def update_key(dialect: str, names: tuple[str, ...]) -> str:
    statement = sa.update(publish_keys).where(publish_keys.c.id == _p("key"), publish_keys.c.revoked_at.is_(None))
    return compile_sql(statement.values(_values(names)), dialect)


def open_counts(dialect: str, count: int) -> str:
    return _open_counts(dialect, slots(count))


@cache
def _open_counts(dialect: str, count: int) -> str:
    statement = (
        sa.select(cases.c.assignee, sa.func.count())
        .where(_open(), _in(cases.c.assignee, "worker", count, dialect))
        .group_by(cases.c.assignee)
    )
    return compile_sql(statement, dialect)


@cache
def incidents_page(dialect: str, state: bool, grid: bool, camera: bool = False) -> tuple[str, str]:
    """(count, page) of incidents, by state, by camera and by a grid code prefix (in the document only)."""
    where: list[ColumnElement[bool]] = []
    if state:
        where.append(incidents.c.state == _p("state"))
    if camera:
        where.append(incidents.c.camera_id == _p("camera"))
    if grid:
        where.append(_json_text(incidents.c.doc, "grid_code", dialect).like(_p("grid")))
    count = sa.select(sa.func.count()).select_from(incidents).where(*where)
    page = sa.select(incidents.c.doc).where(*where).order_by(incidents.c.ts.desc()).limit(_p("limit")).offset(_p("offset"))
    return compile_sql(count, dialect), compile_sql(page, dialect)
