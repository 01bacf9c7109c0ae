"""The roster's statements (store/roster_records.py), built from store/schema.py and
compiled once per dialect, as store/queries.py builds the others."""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ColumnElement

from command_center.store.columns import USER_DEFAULTS
from command_center.store.queries import (
    USER_FIELDS,
    _in,
    compile_sql,
    const,
    copy_into,
    list_params,
    slots,
    statements,
)
from command_center.store.schema import city_maps, users, worker_grids, worker_leave, workers

WORKER_FIELDS = tuple(c.name for c in workers.columns)
# roster_records.apply_roster builds new workers' rows as tuples in this order.
if WORKER_FIELDS != (
    "id",
    "code",
    "name",
    "phone",
    "kind",
    "level",
    "active",
    "photo",
    "updated_at",
    "updated_by",
):
    raise ImportError(f"workers has columns {WORKER_FIELDS}: update apply_roster's rows")
# What an update may change: everything but the id and the photo (set by its own upload).
WORKER_UPDATED = ("code", "name", "phone", "kind", "level", "active", "updated_at", "updated_by")
GRID_FIELDS = ("seq", "worker_id", "grid_code", "shift", "valid_from", "valid_to", "source")
GRID_INSERTED = ("worker_id", "grid_code", "shift", "valid_from", "source")
LEAVE_FIELDS = ("seq", "worker_id", "starts", "ends", "note", "created_by", "created_at")
COPY_WORKERS = copy_into("workers", WORKER_FIELDS)
COPY_GRIDS = copy_into("worker_grids", GRID_INSERTED)
_QMARK = sqlite.dialect(paramstyle="qmark")


def _p(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name)


def _current() -> ColumnElement[bool]:
    return worker_grids.c.valid_to.is_(None)


@cache
def fixed(dialect: str) -> dict[str, str]:
    """The statements of a fixed shape, by name."""
    built: dict[str, Any] = {
        "insert_worker": sa.insert(workers).values({n: _p(n) for n in WORKER_FIELDS}),
        "update_worker": sa.update(workers)
        .where(workers.c.id == _p("id"))
        .values({n: _p(n) for n in WORKER_UPDATED}),
        "all_workers": sa.select(*workers.columns).order_by(workers.c.id),
        "get_worker": sa.select(*workers.columns).where(workers.c.id == _p("id")),
        "insert_grid": sa.insert(worker_grids).values({n: _p(n) for n in GRID_INSERTED}),
        # Only a current row is closed: closing twice keeps the first end.
        "close_grid": sa.update(worker_grids)
        .where(worker_grids.c.seq == _p("seq"), _current())
        .values(valid_to=_p("at")),
        "current_grids": sa.select(*(worker_grids.c[n] for n in GRID_FIELDS))
        .where(_current())
        .order_by(worker_grids.c.seq),
        "current_grids_of": sa.select(*(worker_grids.c[n] for n in GRID_FIELDS))
        .where(_current(), worker_grids.c.worker_id == _p("id"))
        .order_by(worker_grids.c.seq),
        "leave_after": sa.select(*(worker_leave.c[n] for n in LEAVE_FIELDS))
        .where(worker_leave.c.ends > _p("now"))
        .order_by(worker_leave.c.starts),
        "leave_of": sa.select(*(worker_leave.c[n] for n in LEAVE_FIELDS))
        .where(worker_leave.c.worker_id == _p("id"))
        .order_by(worker_leave.c.starts),
        "insert_leave": sa.insert(worker_leave)
        .values({n: _p(n) for n in LEAVE_FIELDS[1:]})
        .returning(worker_leave.c.seq),
        "delete_leave": sa.delete(worker_leave)
        .where(worker_leave.c.seq == _p("seq"), worker_leave.c.worker_id == _p("id"))
        .returning(worker_leave.c.seq),
        "accounts": sa.select(users.c.username, users.c.worker_id),
        "codes_like": sa.select(workers.c.code).where(workers.c.code.like(_p("pattern"))),
        "insert_map": sa.insert(city_maps)
        .values(saved_at=_p("saved_at"), saved_by=_p("saved_by"), source=_p("source"), doc=_p("doc"))
        .returning(city_maps.c.seq),
        "latest_map": sa.select(city_maps.c.seq, city_maps.c.doc)
        .order_by(city_maps.c.seq.desc())
        .limit(const(1))
        .offset(const(0)),
        "latest_map_seq": sa.select(sa.func.max(city_maps.c.seq)),
        "update_account": sa.update(users)
        .where(users.c.username == _p("username"))
        .values(
            role=_p("role"),
            jurisdiction=_p("jurisdiction"),
            worker_id=_p("worker_id"),
            token_version=users.c.token_version + const(1),
        ),
    }
    return {name: compile_sql(statement, dialect) for name, statement in built.items()}


@cache
def positional(name: str) -> str:
    """SQLite's INSERT `name` of fixed() with ? parameters in the order of its fields
    (WORKER_FIELDS, GRID_INSERTED): executemany of tuples, for bulk inserts."""
    tables = {"insert_worker": (workers, WORKER_FIELDS), "insert_grid": (worker_grids, GRID_INSERTED)}
    table, fields = tables[name]
    compiled = sa.insert(table).values({n: _p(n) for n in fields}).compile(dialect=_QMARK)
    if tuple(compiled.positiontup or ()) != fields:  # the tuples' order is the statement's
        raise ValueError(f"{name}: parameters {compiled.positiontup} are not in the order {fields}")
    return str(compiled)


def _in_scope(prefix_param: str) -> ColumnElement[bool]:
    """The worker has a current grid under a code prefix (`prefix_param` holds 'prefix%')."""
    return sa.exists().where(
        worker_grids.c.worker_id == workers.c.id, _current(), worker_grids.c.grid_code.like(_p(prefix_param))
    )


@cache
def roster_page(dialect: str, key: tuple[str, ...]) -> tuple[str, str]:
    """(count, page) of workers for the filters named in `key`, by id."""
    where: list[ColumnElement[bool]] = []
    if "q" in key:  # name, number or id containing the text
        where.append(
            sa.or_(workers.c.name.like(_p("q")), workers.c.code.like(_p("q")), workers.c.id.like(_p("q")))
        )
    if "grid" in key:
        where.append(
            sa.exists().where(
                worker_grids.c.worker_id == workers.c.id, _current(), worker_grids.c.grid_code == _p("grid")
            )
        )
    for name in ("area", "scope"):
        if name in key:
            where.append(_in_scope(name))
    if "active" in key:
        where.append(workers.c.active == _p("active"))
    count = sa.select(sa.func.count()).select_from(workers).where(*where)
    page = (
        sa.select(*workers.columns)
        .where(*where)
        .order_by(workers.c.id)
        .limit(_p("limit"))
        .offset(_p("offset"))
    )
    return compile_sql(count, dialect), compile_sql(page, dialect)


def of_workers(dialect: str, what: str, count: int) -> str:
    """Rows about a page of workers (`what`: grids, leave, accounts), `count` ids."""
    return _of_workers(dialect, what, slots(count))


@cache
def _of_workers(dialect: str, what: str, count: int) -> str:
    if what == "grids":
        statement = (
            sa.select(*(worker_grids.c[n] for n in GRID_FIELDS))
            .where(_current(), _in(worker_grids.c.worker_id, "id", count, dialect))
            .order_by(worker_grids.c.seq)
        )
    elif what == "leave":
        statement = (
            sa.select(*(worker_leave.c[n] for n in LEAVE_FIELDS))
            .where(_in(worker_leave.c.worker_id, "id", count, dialect))
            .order_by(worker_leave.c.starts)
        )
    else:
        statement = sa.select(users.c.worker_id).where(_in(users.c.worker_id, "id", count, dialect))
    return compile_sql(statement, dialect)


@cache
def history(dialect: str, key: tuple[str, ...]) -> str:
    """Assignments past and present, newest first, for a worker and/or a grid."""
    where: list[ColumnElement[bool]] = []
    if "worker" in key:
        where.append(worker_grids.c.worker_id == _p("worker"))
    if "grid" in key:
        where.append(worker_grids.c.grid_code == _p("grid"))
    if "scope" in key:
        where.append(worker_grids.c.grid_code.like(_p("scope")))
    statement = (
        sa.select(*(worker_grids.c[n] for n in GRID_FIELDS), workers.c.name)
        .select_from(worker_grids.outerjoin(workers, workers.c.id == worker_grids.c.worker_id))
        .where(*where)
        .order_by(worker_grids.c.seq.desc())
        .limit(_p("limit"))
        .offset(const(0))
    )
    return compile_sql(statement, dialect)


def insert_user(dialect: str) -> str:
    """Insert-or-ignore of one account (store/queries.py's)."""
    return statements(dialect).insert_user


def user_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Account rows with every column, defaults filled in."""
    return [{k: u.get(k, USER_DEFAULTS.get(k)) for k in USER_FIELDS} for u in rows]


__all__ = ["list_params"]  # (roster_records reaches it through this module: see its _queries)
