"""0022 basedata counts: the per-grid counts of the base data kept by the database itself
(store/basedata_counts.py), and the building layer's (lat, lon) index (store/basedata_map.py).

- `basedata_counts`: per grid, the records of each kind, and `overdue`: those never checked
  or due before the row's own `as_of` day;
- `basedata_due`: per grid and next-check day, how many records fall due that day: what
  moves `overdue` from `as_of` to any other day.

Triggers keep both exact in the same transaction as every write to the five tables (an
import's COPY and merge, a worker's form, the retention sweep's deletes), whoever writes:
on PostgreSQL one statement-level trigger per table and event, over its transition tables
(one aggregate per statement, not per row: a COPY of 10,000 rows costs one GROUP BY); on
SQLite row triggers. A person marked moved out (people.left_on, 0020) is not counted.
Existing rows are counted here once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# table → its column in basedata_counts
KINDS = {"addresses": "addresses", "buildings": "buildings", "households": "households",
         "people": "people", "organisations": "organisations"}  # fmt: skip
PG_TODAY = "to_char(current_date, 'YYYY-MM-DD')"
SQLITE_TODAY = "date('now', 'localtime')"


def upgrade() -> None:
    op.create_table(
        "basedata_counts",
        sa.Column("grid_code", sa.Text, primary_key=True),
        *(sa.Column(name, sa.Integer, nullable=False) for name in KINDS.values()),
        sa.Column("overdue", sa.Integer, nullable=False),
        sa.Column("as_of", sa.Text, nullable=False),
    )
    op.create_table(
        "basedata_due",
        sa.Column("grid_code", sa.Text, primary_key=True),
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.create_index("buildings_place", "buildings", ["lat", "lon", "grid_code", "code"])
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    present = {t: ("left_on" in {c["name"] for c in inspector.get_columns(t)}) for t in KINDS}
    if bind.dialect.name == "postgresql":
        _postgres(present)
    else:
        _sqlite(present)
    _backfill(present, PG_TODAY if bind.dialect.name == "postgresql" else SQLITE_TODAY)


def _backfill(present: dict[str, bool], today: str) -> None:
    """The rows already stored, counted once (as the triggers would have)."""
    parts = []
    for table, column in KINDS.items():
        where = " WHERE left_on IS NULL" if present[table] else ""
        counts = ", ".join(f"{'1' if other == column else '0'} AS {other}" for other in KINDS.values())
        parts.append(f"SELECT grid_code, next_check_at AS day, {counts} FROM {table}{where}")
    rows = " UNION ALL ".join(parts)
    sums = ", ".join(f"sum({name})" for name in KINDS.values())
    op.execute(
        f"INSERT INTO basedata_counts (grid_code, {', '.join(KINDS.values())}, overdue, as_of) "
        f"SELECT grid_code, {sums}, sum(CASE WHEN day IS NULL OR day < {today} THEN 1 ELSE 0 END), {today} "
        f"FROM ({rows}) AS r GROUP BY grid_code"
    )
    op.execute(
        f"INSERT INTO basedata_due (grid_code, day, n) SELECT grid_code, day, count(*) FROM ({rows}) AS r "
        "WHERE day IS NOT NULL GROUP BY grid_code, day"
    )


# PostgreSQL: basedata_counts_apply(kind column, grids, days, deltas) adds one statement's
# changes. The grid rows are locked first, in code order, and only then is each grid's
# as_of read (a fresh snapshot per statement in a VOLATILE function): a concurrent roll of
# as_of (store/basedata_counts.py roll) cannot slip between the read and the update.
PG_APPLY = f"""
CREATE FUNCTION basedata_counts_apply(kind text, g text[], d text[], k int[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO basedata_counts (grid_code, {", ".join(KINDS.values())}, overdue, as_of)
    SELECT DISTINCT grid, 0, 0, 0, 0, 0, 0, {PG_TODAY} FROM unnest(g) AS grid
    ON CONFLICT (grid_code) DO NOTHING;
  PERFORM 1 FROM basedata_counts WHERE grid_code = ANY(g) ORDER BY grid_code FOR UPDATE;
  UPDATE basedata_counts AS c SET
    {", ".join(f"{name} = c.{name} + CASE WHEN kind = '{name}' THEN s.total ELSE 0 END" for name in KINDS.values())},
    overdue = c.overdue + s.late
  FROM (
    SELECT u.grid, sum(u.n) AS total,
           sum(CASE WHEN u.day IS NULL OR u.day < a.as_of THEN u.n ELSE 0 END) AS late
    FROM unnest(g, d, k) AS u(grid, day, n) JOIN basedata_counts AS a ON a.grid_code = u.grid
    GROUP BY u.grid
  ) AS s
  WHERE c.grid_code = s.grid;
  INSERT INTO basedata_due (grid_code, day, n)
    SELECT grid, day, sum(n) FROM unnest(g, d, k) AS u(grid, day, n) WHERE day IS NOT NULL GROUP BY grid, day
    ON CONFLICT (grid_code, day) DO UPDATE SET n = basedata_due.n + excluded.n;
  IF EXISTS (SELECT 1 FROM unnest(k) AS n WHERE n < 0) THEN  -- days emptied: dropped
    DELETE FROM basedata_due AS b USING unnest(g, d, k) AS u(grid, day, n)
      WHERE b.grid_code = u.grid AND b.day = u.day AND u.n < 0 AND b.n = 0;
  END IF;
END
$$;
"""


def _pg_changes(rows: str, sign: str, present: bool) -> str:
    where = " WHERE left_on IS NULL" if present else ""
    return f"SELECT grid_code, next_check_at AS day, {sign}1 AS n FROM {rows}{where}"


def _postgres(present: dict[str, bool]) -> None:
    op.execute(PG_APPLY)
    for table, column in KINDS.items():
        added, removed = (
            _pg_changes("new_rows", "", present[table]),
            _pg_changes("old_rows", "-", present[table]),
        )
        op.execute(f"""
CREATE FUNCTION basedata_counts_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE g text[]; d text[]; k int[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(grid_code), array_agg(day), array_agg(n) INTO g, d, k FROM (
      SELECT grid_code, day, sum(n)::int AS n FROM ({added}) AS c GROUP BY grid_code, day) AS s;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(grid_code), array_agg(day), array_agg(n) INTO g, d, k FROM (
      SELECT grid_code, day, sum(n)::int AS n FROM ({removed}) AS c GROUP BY grid_code, day) AS s;
  ELSE
    SELECT array_agg(grid_code), array_agg(day), array_agg(n) INTO g, d, k FROM (
      SELECT grid_code, day, sum(n)::int AS n FROM ({added} UNION ALL {removed}) AS c
      GROUP BY grid_code, day HAVING sum(n) <> 0) AS s;
  END IF;
  IF g IS NOT NULL THEN
    PERFORM basedata_counts_apply('{column}', g, d, k);
  END IF;
  RETURN NULL;
END
$$;""")
        # One trigger per event: PostgreSQL takes transition tables only on single-event triggers.
        for event, refs in (("insert", "NEW TABLE AS new_rows"), ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                            ("delete", "OLD TABLE AS old_rows")):  # fmt: skip
            op.execute(
                f"CREATE TRIGGER {table}_counts_{event} AFTER {event.upper()} ON {table} REFERENCING {refs} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION basedata_counts_{table}()"
            )


def _sqlite_steps(column: str, row: str, sign: str, present: bool) -> str:
    """The statements that add (sign +) or remove (sign -) one row's share of the counts."""
    guard = f" AND {row}.left_on IS NULL" if present else ""
    late = f"({row}.next_check_at IS NULL OR {row}.next_check_at < as_of)"
    zeros = ", ".join("0" for _ in KINDS)
    # Not INSERT OR IGNORE: an upsert's own conflict policy would override it in a trigger.
    return f"""
  INSERT INTO basedata_counts (grid_code, {", ".join(KINDS.values())}, overdue, as_of)
    SELECT {row}.grid_code, {zeros}, 0, {SQLITE_TODAY}
    WHERE NOT EXISTS (SELECT 1 FROM basedata_counts WHERE grid_code = {row}.grid_code){guard};
  UPDATE basedata_counts SET {column} = {column} {sign} 1, overdue = overdue {sign} {late}
    WHERE grid_code = {row}.grid_code{guard};
  INSERT INTO basedata_due (grid_code, day, n)
    SELECT {row}.grid_code, {row}.next_check_at, 0 WHERE {row}.next_check_at IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM basedata_due WHERE grid_code = {row}.grid_code AND day = {row}.next_check_at){guard};
  UPDATE basedata_due SET n = n {sign} 1 WHERE grid_code = {row}.grid_code AND day = {row}.next_check_at{guard};"""


def _sqlite(present: dict[str, bool]) -> None:
    for table, column in KINDS.items():
        add_new, drop_old = (
            _sqlite_steps(column, "NEW", "+", present[table]),
            _sqlite_steps(column, "OLD", "-", present[table]),
        )
        moved = "OLD.grid_code IS NOT NEW.grid_code OR OLD.next_check_at IS NOT NEW.next_check_at"
        if present[table]:
            moved += " OR OLD.left_on IS NOT NEW.left_on"
        op.execute(f"CREATE TRIGGER {table}_counts_insert AFTER INSERT ON {table} BEGIN{add_new}\nEND")
        op.execute(
            f"CREATE TRIGGER {table}_counts_update AFTER UPDATE ON {table} WHEN {moved} BEGIN{drop_old}{add_new}\nEND"
        )
        op.execute(f"CREATE TRIGGER {table}_counts_delete AFTER DELETE ON {table} BEGIN{drop_old}\nEND")
