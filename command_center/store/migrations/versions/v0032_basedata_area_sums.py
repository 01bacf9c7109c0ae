"""0032 basedata area sums: the cross-analysis's per-grid sums kept by the database itself
(store/basedata_sums.py), like 0022's counts, so that a district's analysis reads a few
rows per grid instead of grouping its two million people.

- `basedata_area_sums`, per grid: rental households (kind 'rental') and rental buildings;
- `basedata_ages`, per grid and birth year: the current people (not moved out) and those of
  them living alone (the only current person of their household). "60 or more" on a day is
  the sum over birth years up to that year − 60: precise to the year (a person turning 60
  later this year counts from 1 January), since a birth year, not a birth date, is kept;
- `basedata_alone`, per household with exactly one current person: that person's grid and
  birth year, i.e. what the household adds to `basedata_ages.alone` now. A write to people
  recomputes the households it touched from the people table and moves the sums by the
  difference, so the result does not depend on the order PostgreSQL fires an upsert's
  INSERT and UPDATE statement triggers in.

Triggers keep them exact in the writer's own transaction: on PostgreSQL statement-level ones
over transition tables (a person trigger locks the households it touches, in key order, so
two writers of one household are serialised and the second sees the first's people); on
SQLite row triggers. Existing rows are summed here once (`REBUILD`, also what the bulk
import runs after loading an empty table with the insert triggers off: the function
basedata_sums_rebuild(table) on PostgreSQL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

YEAR = "CAST(substr({}birth_date, 1, 4) AS INTEGER)"  # ISO text on both databases
# What a table adds to the sums, added to them (the bulk import: the table was empty before).
REBUILD: dict[str, list[str]] = {
    "households": [
        "INSERT INTO basedata_area_sums (grid_code, rental_households, rental_buildings) "
        "SELECT grid_code, count(*), 0 FROM households WHERE kind = 'rental' GROUP BY grid_code "
        "ON CONFLICT (grid_code) DO UPDATE SET "
        "rental_households = basedata_area_sums.rental_households + excluded.rental_households"
    ],
    "buildings": [
        "INSERT INTO basedata_area_sums (grid_code, rental_households, rental_buildings) "
        "SELECT grid_code, 0, count(*) FROM buildings WHERE rental GROUP BY grid_code "
        "ON CONFLICT (grid_code) DO UPDATE SET "
        "rental_buildings = basedata_area_sums.rental_buildings + excluded.rental_buildings"
    ],
    "people": [
        f"INSERT INTO basedata_ages (grid_code, birth_year, people, alone) "
        f"SELECT grid_code, {YEAR.format('')}, count(*), 0 FROM people WHERE left_on IS NULL GROUP BY 1, 2 "
        "ON CONFLICT (grid_code, birth_year) DO UPDATE SET people = basedata_ages.people + excluded.people",
        f"INSERT INTO basedata_alone (household_id, grid_code, birth_year) "
        f"SELECT household_id, min(grid_code), min({YEAR.format('')}) FROM people WHERE left_on IS NULL "
        "GROUP BY household_id HAVING count(*) = 1",
        "INSERT INTO basedata_ages (grid_code, birth_year, people, alone) "
        "SELECT grid_code, birth_year, 0, count(*) FROM basedata_alone WHERE true GROUP BY 1, 2 "
        "ON CONFLICT (grid_code, birth_year) DO UPDATE SET alone = basedata_ages.alone + excluded.alone",
    ],
}


def upgrade() -> None:
    op.create_table(
        "basedata_area_sums",
        sa.Column("grid_code", sa.Text, primary_key=True),
        sa.Column("rental_households", sa.Integer, nullable=False),
        sa.Column("rental_buildings", sa.Integer, nullable=False),
    )
    op.create_table(
        "basedata_ages",
        sa.Column("grid_code", sa.Text, primary_key=True),
        sa.Column("birth_year", sa.Integer, primary_key=True),
        sa.Column("people", sa.Integer, nullable=False),
        sa.Column("alone", sa.Integer, nullable=False),
    )
    op.create_table(
        "basedata_alone",
        sa.Column("household_id", sa.Text, primary_key=True),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("birth_year", sa.Integer, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres()
    else:
        _sqlite()
    for statements in REBUILD.values():
        for statement in statements:
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for table, name in TRIGGER.items():
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_{event}" + (f" ON {table}" if bind.dialect.name == "postgresql" else ""))
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS basedata_sums_rebuild(text)")
        for table in ("people", "households", "buildings"):
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP FUNCTION IF EXISTS basedata_sums_{table}_{event}()")
    for table in ("basedata_alone", "basedata_ages", "basedata_area_sums"):
        op.drop_table(table)


# ---------------------------------------------------------------- PostgreSQL

# The people's trigger is named to fire before 0022's people_counts_* (PostgreSQL fires a
# table's triggers in name order): it locks households first, then the sums and the counts,
# the order a household's own writer takes them in, so the two cannot deadlock.
TRIGGER = {"people": "people_ages", "households": "households_sums", "buildings": "buildings_sums"}
EVENTS = {"insert": "NEW TABLE AS new_rows", "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
          "delete": "OLD TABLE AS old_rows"}  # fmt: skip


def _rows(event: str) -> list[tuple[str, str]]:
    """The transition tables of an event, each with its sign."""
    return [(name, sign) for name, sign in (("new_rows", "1"), ("old_rows", "-1"))
            if (name == "new_rows" and event != "delete") or (name == "old_rows" and event != "insert")]  # fmt: skip


def _pg_rental(table: str, column: str, condition: str, event: str) -> str:
    moved = " UNION ALL ".join(f"SELECT grid_code, {sign} AS n FROM {rows} WHERE {condition}" for rows, sign in _rows(event))
    other = "rental_buildings" if column == "rental_households" else "rental_households"
    return f"""
CREATE FUNCTION basedata_sums_{table}_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO basedata_area_sums AS s (grid_code, {column}, {other})
    SELECT grid_code, sum(n), 0 FROM ({moved}) AS m GROUP BY grid_code HAVING sum(n) <> 0 ORDER BY grid_code
    ON CONFLICT (grid_code) DO UPDATE SET {column} = s.{column} + excluded.{column};
  RETURN NULL;
END
$$;"""


def _pg_people(event: str) -> str:
    rows = _rows(event)
    touched = " UNION ".join(f"SELECT household_id FROM {name}" for name, _ in rows)
    moved = " UNION ALL ".join(
        f"SELECT grid_code, {YEAR.format('')} AS y, {sign} AS n FROM {name} WHERE left_on IS NULL" for name, sign in rows
    )
    ages = "INSERT INTO basedata_ages AS a (grid_code, birth_year, people, alone)"
    return f"""
CREATE FUNCTION basedata_sums_people_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Writers of one household one after the other: the second then reads the first's people.
  PERFORM 1 FROM households WHERE id IN ({touched}) ORDER BY id FOR UPDATE;
  {ages}
    SELECT grid_code, y, sum(n), 0 FROM ({moved}) AS m GROUP BY grid_code, y HAVING sum(n) <> 0 ORDER BY 1, 2
    ON CONFLICT (grid_code, birth_year) DO UPDATE SET people = a.people + excluded.people;
  -- Each household touched: its share of `alone` taken back, then recomputed from the people now.
  WITH gone AS (DELETE FROM basedata_alone WHERE household_id IN ({touched}) RETURNING grid_code, birth_year)
  {ages}
    SELECT grid_code, birth_year, 0, -count(*) FROM gone GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (grid_code, birth_year) DO UPDATE SET alone = a.alone + excluded.alone;
  WITH made AS (
    INSERT INTO basedata_alone (household_id, grid_code, birth_year)
      SELECT household_id, min(grid_code), min({YEAR.format('')}) FROM people
      WHERE household_id IN ({touched}) AND left_on IS NULL GROUP BY household_id HAVING count(*) = 1
      RETURNING grid_code, birth_year)
  {ages}
    SELECT grid_code, birth_year, 0, count(*) FROM made GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (grid_code, birth_year) DO UPDATE SET alone = a.alone + excluded.alone;
  RETURN NULL;
END
$$;"""


def _postgres() -> None:
    for event, refs in EVENTS.items():
        functions = {
            "households": _pg_rental("households", "rental_households", "kind = 'rental'", event),
            "buildings": _pg_rental("buildings", "rental_buildings", "rental", event),
            "people": _pg_people(event),
        }
        for table, function in functions.items():
            op.execute(function)
            op.execute(
                f"CREATE TRIGGER {TRIGGER[table]}_{event} AFTER {event.upper()} ON {table} REFERENCING {refs} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION basedata_sums_{table}_{event}()"
            )
    branches = "\n".join(
        f"  {'IF' if i == 0 else 'ELSIF'} tbl = '{table}' THEN\n" + "".join(f"    {s};\n" for s in statements)
        for i, (table, statements) in enumerate(REBUILD.items())
    )
    op.execute(f"""
CREATE FUNCTION basedata_sums_rebuild(tbl text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
{branches}  END IF;
END
$$;""")


# ---------------------------------------------------------------- SQLite


def _sqlite_rental(table: str, column: str, condition: str) -> None:
    def step(row: str, sign: str) -> str:
        guard = condition.format(row=row)
        return f"""
  INSERT INTO basedata_area_sums (grid_code, rental_households, rental_buildings)
    SELECT {row}.grid_code, 0, 0 WHERE {guard}
    AND NOT EXISTS (SELECT 1 FROM basedata_area_sums WHERE grid_code = {row}.grid_code);
  UPDATE basedata_area_sums SET {column} = {column} {sign} 1 WHERE grid_code = {row}.grid_code AND {guard};"""

    moved = f"OLD.grid_code IS NOT NEW.grid_code OR ({condition.format(row='OLD')}) IS NOT ({condition.format(row='NEW')})"
    op.execute(f"CREATE TRIGGER {table}_sums_insert AFTER INSERT ON {table} BEGIN{step('NEW', '+')}\nEND")
    op.execute(f"CREATE TRIGGER {table}_sums_update AFTER UPDATE ON {table} WHEN {moved} "
               f"BEGIN{step('OLD', '-')}{step('NEW', '+')}\nEND")  # fmt: skip
    op.execute(f"CREATE TRIGGER {table}_sums_delete AFTER DELETE ON {table} BEGIN{step('OLD', '-')}\nEND")


def _sqlite_count(row: str, sign: str) -> str:
    """One person's share of `people` (if current)."""
    year = YEAR.format(f"{row}.")
    return f"""
  INSERT INTO basedata_ages (grid_code, birth_year, people, alone)
    SELECT {row}.grid_code, {year}, 0, 0 WHERE {row}.left_on IS NULL
    AND NOT EXISTS (SELECT 1 FROM basedata_ages WHERE grid_code = {row}.grid_code AND birth_year = {year});
  UPDATE basedata_ages SET people = people {sign} 1
    WHERE grid_code = {row}.grid_code AND birth_year = {year} AND {row}.left_on IS NULL;"""


def _sqlite_alone(household: str) -> str:
    """The household's share of `alone` taken back, then recomputed from its people now."""
    held = f"FROM basedata_alone WHERE household_id = {household}"
    at = f"grid_code = (SELECT grid_code {held}) AND birth_year = (SELECT birth_year {held})"
    return f"""
  UPDATE basedata_ages SET alone = alone - 1 WHERE {at};
  DELETE FROM basedata_alone WHERE household_id = {household};
  INSERT INTO basedata_alone (household_id, grid_code, birth_year)
    SELECT household_id, min(grid_code), min({YEAR.format('')}) FROM people
    WHERE household_id = {household} AND left_on IS NULL GROUP BY household_id HAVING count(*) = 1;
  INSERT INTO basedata_ages (grid_code, birth_year, people, alone)
    SELECT grid_code, birth_year, 0, 0 {held}
    AND NOT EXISTS (SELECT 1 FROM basedata_ages AS x WHERE x.grid_code = basedata_alone.grid_code
                    AND x.birth_year = basedata_alone.birth_year);
  UPDATE basedata_ages SET alone = alone + 1 WHERE {at};"""


def _sqlite() -> None:
    _sqlite_rental("households", "rental_households", "{row}.kind = 'rental'")
    _sqlite_rental("buildings", "rental_buildings", "{row}.rental")
    moved = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in ("id", "grid_code", "household_id", "birth_date", "left_on"))
    op.execute(f"CREATE TRIGGER people_ages_insert AFTER INSERT ON people "
               f"BEGIN{_sqlite_count('NEW', '+')}{_sqlite_alone('NEW.household_id')}\nEND")  # fmt: skip
    op.execute(f"CREATE TRIGGER people_ages_update AFTER UPDATE ON people WHEN {moved} BEGIN"
               f"{_sqlite_count('OLD', '-')}{_sqlite_count('NEW', '+')}"
               f"{_sqlite_alone('OLD.household_id')}{_sqlite_alone('NEW.household_id')}\nEND")  # fmt: skip
    op.execute(f"CREATE TRIGGER people_ages_delete AFTER DELETE ON people "
               f"BEGIN{_sqlite_count('OLD', '-')}{_sqlite_alone('OLD.household_id')}\nEND")  # fmt: skip
