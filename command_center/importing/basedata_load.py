"""A first load into an empty table (PostgreSQL, the bulk import's writer thread:
importing/basedata_sink.py): the table taken for the import, its secondary indexes and its
counts trigger set aside while the rows go in, then built once over the loaded rows.

Maintaining five indexes row by row (a random HMAC, an id, a grid…) costs PostgreSQL more
than the COPY itself at a district's two million people; building each once, by sorting,
costs a fraction. The counts (store/basedata_counts.py) are then added in one call, from the
importer's own tally of the rows it loaded (by grid and next check), instead of the trigger's
aggregate per COPY statement. The cross-analysis's sums (store/basedata_sums.py, migration
0032) likewise: their insert trigger is off while the rows go in, and the table's sums are
then added by one GROUP BY over it (basedata_sums_rebuild).

All of it is in the import's transaction: a rolled-back import leaves the table, its
indexes and triggers as they were. The price: from its first row to its commit, a table
loaded this way is the import's alone (ACCESS EXCLUSIVE): other readers of it wait. Only a
table empty when the import began is taken so, checked empty again once locked, and only if
the lock comes within LOCK_WAIT; any other table is written row by row, its readers never
wait.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from command_center.store.basedata_records import COUNT_NAMES
from command_center.store.basedata_schema import TABLES

# The table's indexes that can be rebuilt after: neither the primary key nor a unique one
# (those guard the load itself).
INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid
WHERE x.indrelid = %(table)s::regclass AND NOT x.indisprimary AND NOT x.indisunique ORDER BY i.relname
"""
SUMMED = {"people": "people_ages_insert", "households": "households_sums_insert",
          "buildings": "buildings_sums_insert"}  # tables with 0032's sums triggers: their insert trigger
LOCK_WAIT = "2s"  # for the table to be free of other readers and writers; else row by row
BUILD_MEMORY = "256MB"  # maintenance_work_mem while the indexes are built: a sort in memory


Counted = Counter[tuple[str, str | None]]  # rows by (grid_code, next_check_at)


@dataclass(slots=True)
class Taken:
    """A table being loaded while empty: what to build once its rows are in."""

    kind: str
    indexes: list[str]  # CREATE INDEX statements, as the catalog wrote them
    counted: Counted = field(default_factory=Counter)  # its rows, as the importer counted them


def take(db: Any, kind: str) -> Taken | None:
    """Lock the kind's table; if it is still empty, set its indexes and counts trigger aside.
    None (row by row after all) when someone wrote it meanwhile, or holds it now."""
    import psycopg

    table = TABLES[kind].name  # names from the schema, not from input
    saved = db.execute("SHOW lock_timeout").fetchone()[0]
    try:
        with db.transaction():  # a savepoint: a table busy elsewhere is no reason to fail
            db.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
            db.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    except psycopg.errors.LockNotAvailable:
        return None
    finally:
        db.execute("SELECT set_config('lock_timeout', %(saved)s, true)", {"saved": saved})
    if db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
        return None
    found = db.execute(INDEXES, {"table": table}).fetchall()
    for name, _ in found:
        db.execute(f'DROP INDEX "{name}"')  # a name from the catalog
    db.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_counts_insert")  # migration 0022's
    if table in SUMMED:
        db.execute(f"ALTER TABLE {table} DISABLE TRIGGER {SUMMED[table]}")  # migration 0032's
    return Taken(kind, [definition for _, definition in found])


def release(db: Any, taken: Taken) -> None:
    """The indexes built, the trigger back, the loaded rows counted."""
    table = TABLES[taken.kind].name
    with _unbounded(db):
        db.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
        for definition in taken.indexes:
            db.execute(definition)
        if taken.counted:  # what the trigger would have added, one call (migration 0022's function)
            grids, days = zip(*taken.counted, strict=True)
            db.execute(
                "SELECT basedata_counts_apply(%(column)s, %(grids)s::text[], %(days)s::text[], %(n)s::int[])",
                {"column": COUNT_NAMES[taken.kind], "grids": list(grids), "days": list(days),
                 "n": list(taken.counted.values())},
            )  # fmt: skip
        if table in SUMMED:  # what 0032's trigger would have added: the table was empty before
            db.execute("SELECT basedata_sums_rebuild(%(table)s)", {"table": table})
    db.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_counts_insert")
    if table in SUMMED:
        db.execute(f"ALTER TABLE {table} ENABLE TRIGGER {SUMMED[table]}")


@contextlib.contextmanager
def _unbounded(db: Any) -> Iterator[None]:
    """No statement timeout, server's or client's, for building a district's indexes (tens of
    seconds); the store's own bounds back afterwards."""
    saved = db.execute("SHOW statement_timeout").fetchone()[0]
    waits = getattr(db, "answer_within", None)
    db.execute("SET LOCAL statement_timeout = 0")
    db.answer_within = None
    try:
        yield
    finally:
        db.answer_within = waits
    db.execute("SELECT set_config('statement_timeout', %(saved)s, true)", {"saved": saved})
