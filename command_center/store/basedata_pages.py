"""A kind's records under grid prefixes read a page at a time, for exports of any size
(api/basedata_export.py): never all rows at once, and never the store's connection held
between pages (SQLite's is one connection under a lock: a long export must not stall the
rest of the server while the client downloads).

First `grid_counts` asks the database how many records each grid holds (one GROUP BY on the
(grid_code, next_check_at) index): the export's size before anything is read, for its limit
and its audit row. Then `pages` walks grid by grid, each grid by key after the last one
read (keyset paging: every page costs the same, where OFFSET would re-read all before it).
People marked moved out are left out, as in the lists (basedata_records.present).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache

import sqlalchemy as sa

from basedata.model import Record
from command_center.store.basedata_records import BaseDataRecords, from_row, grid_range, present
from command_center.store.basedata_schema import KEYS, TABLES
from command_center.store.queries import compile_sql, const

PAGE = 500  # rows a query: a few hundred KB of records at most


@cache
def _sql(dialect: str, kind: str) -> dict[str, str]:
    table = TABLES[kind]
    key = table.c[KEYS[kind]]
    in_range = sa.and_(table.c.grid_code >= sa.bindparam("lo"), table.c.grid_code < sa.bindparam("hi"))
    counts = (
        sa.select(table.c.grid_code, sa.func.count())
        .where(in_range, present(table))
        .group_by(table.c.grid_code)
        .order_by(table.c.grid_code)
    )
    page = (
        sa.select(*table.columns)
        .where(table.c.grid_code == sa.bindparam("grid"), key > sa.bindparam("after"), present(table))
        .order_by(key)
        .limit(sa.bindparam("size"))
        .offset(const(0))  # SQLite's compiler writes an OFFSET with a bound LIMIT: a constant here
    )
    return {"counts": compile_sql(counts, dialect), "page": compile_sql(page, dialect)}


def grid_counts(records: BaseDataRecords, kind: str, prefixes: Iterable[str]) -> list[tuple[str, int]]:
    """(grid code, records) for each grid under the prefixes holding any, by grid code."""
    found: dict[str, int] = {}
    with records.store._reading() as db:
        for prefix in prefixes:
            for grid, n in db.execute(_sql(records.dialect, kind)["counts"], grid_range(prefix)).fetchall():
                found[str(grid)] = int(n)
    return sorted(found.items())


def pages(
    records: BaseDataRecords, kind: str, grids: Iterable[str], cap: int, size: int = PAGE
) -> Iterator[list[Record]]:
    """The records of these grids, by grid then key, `size` at most a page and `cap` at most
    in all (the number the export was audited for: records added meanwhile are not sent)."""
    sql = _sql(records.dialect, kind)["page"]
    left = cap
    for grid in grids:
        after = ""  # every key is longer than the empty string
        while left > 0:
            with records.store._reading() as db:  # held for one page only
                rows = db.execute(sql, {"grid": grid, "after": after, "size": min(size, left)}).fetchall()
            if not rows:
                break
            chunk = [from_row(kind, row) for row in rows]
            left -= len(chunk)
            yield chunk
            if len(rows) < size:
                break
            after = str(getattr(chunk[-1], KEYS[kind]))
        if left <= 0:
            return
