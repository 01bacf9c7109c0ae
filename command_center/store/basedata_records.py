"""The grid's base data in the store (tables: store/basedata_schema.py; records:
basedata/model.py), written once for SQLite and PostgreSQL.

`BaseDataRecords(store)` runs its statements through the store's own connections
(StoreAccess), like SuggestionRecords, so neither store class knows of it.

- `upsert` / `upsert_all` / `upsert_mixed`: records in, in chunks of CHUNK rows (SQLite:
  executemany of INSERT … ON CONFLICT DO UPDATE; PostgreSQL: COPY into a temporary table,
  then one INSERT … SELECT … ON CONFLICT DO UPDATE), all inside ONE transaction: an
  import is applied whole or not at all. A record already stored is
  overwritten and its version bumped (an offline form holding the old version then
  conflicts instead of silently undoing the import).
- `update`: one record's fields changed by a worker or an officer, compare-and-set on
  the version they read; `VersionConflict` carries the record as it stands now.
- `counts_by_grid`: the per-grid counts the map and the wall show, kept per grid by the
  database itself in the writers' transactions (store/basedata_counts.py, migration 0022).

A grid prefix is read as a range of codes (`>= '440106'` and `< '440107'`), not LIKE:
PostgreSQL uses a btree index for LIKE 'x%' only under the C collation.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from basedata.model import Address, Building, Household, Organisation, Person, Record
from command_center.store.access import StoreAccess
from command_center.store.basedata_schema import KEYS, SEALED, TABLES
from command_center.store.basedata_sql import COUNT_NAMES, grid_range, present, upsert_changes  # noqa: F401  (re-exported: the modules beside this one import them from here)
from command_center.store.queries import compile_sql, const

CHUNK = 1000  # rows a statement (SQLite: executemany; PostgreSQL: COPY, then one INSERT … SELECT)
FEW = 16  # up to this many rows PostgreSQL gets executemany: a COPY costs round trips of its own
LOOKUP_CHUNK = 500  # keys per existence query (SQLite: one placeholder each)
MODELS: dict[str, type[Record]] = {
    "address": Address,
    "building": Building,
    "household": Household,
    "person": Person,
    "organisation": Organisation,
}
STAMPS = ("created_at", "updated_at", "updated_by")


class VersionConflict(Exception):
    """The record moved on since the caller read it: `current` is how it stands now."""

    def __init__(self, current: Record) -> None:
        super().__init__(f"version {current.version} is stored; the change was made to an older one")
        self.current = current


class RecordNotFound(KeyError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} {key!r}")
        self.kind, self.key = kind, key


@dataclass(frozen=True, slots=True)
class Parent:
    """What a child record needs of its parent: the grid it inherits, and whether it is
    rental housing (a rental building or household: the monthly re-check)."""

    grid_code: str
    rental: bool


def _kind(kind: str) -> str:
    if kind not in MODELS:
        raise ValueError(f"unknown base-data kind {kind!r}; one of {', '.join(MODELS)}")
    return kind


def _columns(kind: str) -> tuple[str, ...]:
    return tuple(c.name for c in TABLES[kind].columns)


def to_row(kind: str, record: Record, at: str, by: str) -> dict[str, Any]:
    """A record as its table's row (dates as ISO text, each Sealed as three columns)."""
    row = record.model_dump(mode="json")
    for name in SEALED.get(kind, ()):
        sealed = row.pop(name)
        for part in ("cipher", "index", "tail"):
            row[f"{name}_{part}"] = None if sealed is None else sealed[part]
    row["created_at"] = row["updated_at"] = at
    row["updated_by"] = by
    return row


def _fields(kind: str, values: Iterable[Any]) -> dict[str, Any]:
    """A row's values as the model's fields (the sealed ones gathered again)."""
    row = dict(zip(_columns(kind), values, strict=True))
    for stamp in STAMPS:
        del row[stamp]
    for name in SEALED.get(kind, ()):
        parts = {part: row.pop(f"{name}_{part}") for part in ("cipher", "index", "tail")}
        row[name] = None if parts["cipher"] is None else parts
    return row


def from_row(kind: str, values: Iterable[Any]) -> Record:
    return MODELS[kind].model_validate(_fields(kind, values))


def _chunks(items: Iterable[Any], size: int) -> Iterator[builtins.list[Any]]:
    it = iter(items)
    while chunk := builtins.list(islice(it, size)):
        yield chunk


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _due(table: sa.Table) -> sa.ColumnElement[bool]:
    """Never checked (NULL) or due before the day asked: basedata.cycles.due."""
    return sa.or_(table.c.next_check_at.is_(None), table.c.next_check_at < sa.bindparam("due"))


def _in_grids(table: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.grid_code >= sa.bindparam("lo"), table.c.grid_code < sa.bindparam("hi"))


def _rental(kind: str, table: sa.Table) -> Any:
    if kind == "building":
        return sa.case((table.c.rental, const(1)), else_=const(0))
    if kind == "household":
        return sa.case((table.c.kind == const("rental"), const(1)), else_=const(0))
    return const(0)


@cache
def _kind_sql(dialect: str, kind: str) -> dict[str, str]:
    table = TABLES[kind]
    key = table.c[KEYS[kind]]
    data = [c for c in table.columns if c.name not in (KEYS[kind], "created_at")]
    insert = _insert(dialect, table).values({c.name: sa.bindparam(c.name) for c in table.columns})
    changed = upsert_changes(table, insert.excluded, data)
    one = sa.select(*table.columns).where(key == sa.bindparam("key"))
    listed = sa.select(*table.columns).where(_in_grids(table), present(table))
    page: list[sa.BindParameter[Any]] = [sa.bindparam("limit"), sa.bindparam("offset")]
    if dialect == "postgresql":
        among = key == sa.any_(sa.bindparam("keys"))
    else:
        among = key.in_([sa.bindparam(f"k{i}") for i in range(LOOKUP_CHUNK)])
    # PostgreSQL's bulk path: rows COPYed into a temporary twin of the table, then moved in
    # by one INSERT … SELECT with the same ON CONFLICT (3 times executemany's pace).
    stage = sa.table(f"stage_{table.name}", *(sa.column(c.name) for c in table.columns))
    merge = _insert(dialect, table).from_select(_columns(kind), sa.select(*stage.c))
    statements: dict[str, Any] = {
        "upsert": insert.on_conflict_do_update(index_elements=[key], set_=changed),
        "merge": merge.on_conflict_do_update(
            index_elements=[key], set_=upsert_changes(table, merge.excluded, data)
        ),
        "get": one,
        "get_for_update": one.with_for_update() if dialect == "postgresql" else one,
        "update": sa.update(table)
        .where(key == sa.bindparam("key"), table.c.version == sa.bindparam("expected"))
        .values({c.name: sa.bindparam(f"new_{c.name}") for c in data}),
        "list": listed.order_by(key).limit(page[0]).offset(page[1]),
        "list_due": listed.where(_due(table))
        .order_by(sa.func.coalesce(table.c.next_check_at, const("")), key)
        .limit(page[0]).offset(page[1]),
        "existing": sa.select(key, table.c.grid_code, _rental(kind, table)).where(among),
    }  # fmt: skip
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


@cache
def _shared_sql(dialect: str) -> dict[str, str]:
    people = TABLES["person"]
    organisations = TABLES["organisation"]
    statements: dict[str, Any] = {
        "by_index": sa.select(*people.columns)
        .where(people.c.id_number_index == sa.bindparam("index"))
        .order_by(people.c.id),
        "any_sealed": sa.select(const(1)).where(
            sa.or_(
                sa.exists(sa.select(people.c.id)),
                sa.exists(
                    sa.select(organisations.c.id).where(organisations.c.contact_phone_cipher.is_not(None))
                ),
            )
        ),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


class BaseDataRecords:
    """Addresses, buildings, households, people and organisations of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.dialect = store.dialect

    def _sql(self, kind: str) -> dict[str, str]:
        return _kind_sql(self.dialect, _kind(kind))

    def _write(self, db: Any, kind: str, rows: builtins.list[dict[str, Any]]) -> None:
        """One chunk of rows upserted on the transaction's connection."""
        if self.dialect == "sqlite":
            db.executemany(self._sql(kind)["upsert"], rows)
            return
        if len(rows) <= FEW:
            with db.cursor() as cur:  # psycopg: pipelined, one wait for the chunk
                cur.executemany(self._sql(kind)["upsert"], rows)
            return
        # A key twice in one INSERT … SELECT is an error on PostgreSQL; one after the other
        # (as executemany and SQLite do) the last wins: so here too.
        key, names = KEYS[kind], _columns(kind)
        last = {row[key]: row for row in rows}
        stage = f"stage_{TABLES[kind].name}"  # a name from the schema, not from input
        db.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {TABLES[kind].name}) ON COMMIT DROP")
        with db.cursor() as cur, cur.copy(f"COPY {stage} ({', '.join(names)}) FROM STDIN") as copy:
            for row in last.values():
                copy.write_row([row[name] for name in names])
        db.execute(self._sql(kind)["merge"])
        db.execute(f"TRUNCATE {stage}")

    # writing
    def upsert(self, kind: str, records: Iterable[Record], by: str) -> int:
        """Add or overwrite records of one kind, all or none; how many were written."""
        return self.upsert_all([(kind, records)], by).get(kind, 0)

    def upsert_all(self, parts: Iterable[tuple[str, Iterable[Record]]], by: str) -> dict[str, int]:
        """Several kinds' records in ONE transaction (an import of several files): a failure
        anywhere, the records' own iterator raising included, leaves the store unchanged."""
        at = datetime.now(UTC).isoformat()
        written: dict[str, int] = {}
        with self.store._writing() as db:
            for kind, records in parts:
                _kind(kind)
                for chunk in _chunks(records, CHUNK):
                    self._write(db, kind, [to_row(kind, r, at, by) for r in chunk])
                    written[kind] = written.get(kind, 0) + len(chunk)
        return written

    def upsert_mixed(self, items: Iterable[tuple[str, Record]], by: str) -> dict[str, int]:
        """A stream of (kind, record) (e.g. basedata.sample's), buffered per kind and written
        a chunk at a time, in ONE transaction: a district's millions never held at once."""
        at = datetime.now(UTC).isoformat()
        written: dict[str, int] = {}
        buffers: dict[str, builtins.list[dict[str, Any]]] = {}
        with self.store._writing() as db:
            for kind, record in items:
                buffer = buffers.setdefault(_kind(kind), [])
                buffer.append(to_row(kind, record, at, by))
                if len(buffer) >= CHUNK:
                    self._write(db, kind, buffer)
                    written[kind] = written.get(kind, 0) + len(buffer)
                    buffer.clear()
            for kind, buffer in buffers.items():
                if buffer:
                    self._write(db, kind, buffer)
                    written[kind] = written.get(kind, 0) + len(buffer)
        return written

    def update(
        self, kind: str, key: str, changes: Mapping[str, Any], expected_version: int, by: str
    ) -> Record:
        """Change a record's fields (model names; a Sealed as Sealed or its dict) if it is
        still at `expected_version`: the record after, its version bumped. RecordNotFound,
        VersionConflict, or pydantic's ValidationError (a ValueError) for a bad value."""
        sql = self._sql(kind)
        key_field = KEYS[kind]
        if changes.get(key_field, key) != key or "version" in changes:
            raise ValueError(f"the {key_field} and the version of a {kind} are not changed by an update")
        with self.store._writing() as db:
            raw = db.execute(sql["get_for_update"], {"key": key}).fetchone()
            if raw is None:
                raise RecordNotFound(kind, key)
            current = from_row(kind, raw)
            if current.version != expected_version:
                raise VersionConflict(current)
            merged = current.model_dump() | dict(changes) | {"version": current.version + 1}
            new = MODELS[kind].model_validate(merged)
            row = to_row(kind, new, datetime.now(UTC).isoformat(), by)
            params = {
                f"new_{name}": value for name, value in row.items() if name not in (key_field, "created_at")
            }
            db.execute(sql["update"], params | {"key": key, "expected": expected_version})
        return new

    # reading
    def get(self, kind: str, key: str) -> Record | None:
        with self.store._reading() as db:
            raw = db.execute(self._sql(kind)["get"], {"key": key}).fetchone()
        return None if raw is None else from_row(kind, raw)

    def existing(self, kind: str, keys: Iterable[str]) -> dict[str, Parent]:
        """Which of these keys are stored, each with its grid and whether it is rental
        housing: an importer's reference check, LOOKUP_CHUNK keys a query."""
        sql = self._sql(kind)["existing"]
        found: dict[str, Parent] = {}
        with self.store._reading() as db:
            for chunk in _chunks(dict.fromkeys(keys), LOOKUP_CHUNK):
                if self.dialect == "postgresql":
                    params: dict[str, Any] = {"keys": chunk}
                else:
                    padded = chunk + [None] * (LOOKUP_CHUNK - len(chunk))
                    params = {f"k{i}": k for i, k in enumerate(padded)}
                for found_key, grid_code, rental in db.execute(sql, params).fetchall():
                    found[found_key] = Parent(grid_code, bool(rental))
        return found

    def find_person_by_index(self, index_hex: str) -> builtins.list[Person]:
        """The people whose ID number has this keyed index (basedata.protect's FieldCipher.index)."""
        with self.store._reading() as db:
            rows = db.execute(_shared_sql(self.dialect)["by_index"], {"index": index_hex}).fetchall()
        return [Person.model_validate(_fields("person", r)) for r in rows]

    def has_sealed(self) -> bool:
        """Whether any sealed value is stored: a key file must not be made anew then."""
        with self.store._reading() as db:
            return db.execute(_shared_sql(self.dialect)["any_sealed"], {}).fetchone() is not None

    def counts_by_grid(
        self, grid_prefix: str = "", today: date | None = None
    ) -> builtins.list[dict[str, Any]]:
        """[{grid_code, addresses, buildings, households, people, organisations, overdue}]
        for every grid under the prefix holding any record, by grid code; overdue: records
        of any kind due before `today` (default: today) or never checked."""
        from command_center.store.basedata_counts import counts_by_grid  # (it imports this module)

        return counts_by_grid(self, grid_prefix, today)  # kept per grid by the database (0022)

    def list(
        self,
        kind: str,
        grid_prefix: str = "",
        limit: int = 100,
        offset: int = 0,
        due_before: date | None = None,
    ) -> builtins.list[Record]:
        """A page of a kind's records under a grid prefix, by key; with `due_before`, only
        those due for re-checking before that day (or never checked), the most overdue first."""
        params: dict[str, Any] = grid_range(grid_prefix) | {"limit": limit, "offset": offset}
        name = "list"
        if due_before is not None:
            name, params["due"] = "list_due", due_before.isoformat()
        with self.store._reading() as db:
            rows = db.execute(self._sql(kind)[name], params).fetchall()
        return [from_row(kind, r) for r in rows]


def base_data_store(store: object) -> BaseDataRecords:
    """The base-data records of a store (either backend)."""
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no base data")
    return BaseDataRecords(store)
