"""The registry's roster records in the store: workers, their grids over time, leave,
the accounts an import makes, and the grid map every node loads.

A worker's grids are history (worker_grids): a change closes the rows that end
(valid_to = now) and opens new ones, and leaves the unchanged ones untouched, so each
keeps its real start. A roster import is one `apply_roster` (one transaction): bulk
statements (executemany on SQLite; COPY for many new rows on PostgreSQL, executemany
pipelined for the rest), so a city's 22,000 workers go in within seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Protocol

from command_center.store import roster_queries
from command_center.store.access import StoreAccess

Row = dict[str, Any]
NEW_WORKER_FIELDS = ("id", "code", "name", "phone", "kind", "level")  # then active, photo, updated_*
_NEW_WORKER = itemgetter(*NEW_WORKER_FIELDS)
FEW = 16  # up to this many new rows, PostgreSQL gets INSERTs (COPY costs its own round trips)


@dataclass(slots=True)
class RosterChanges:
    """What one roster change writes, together: workers added or updated, assignments
    closed (by seq) or opened, and accounts made for new workers."""

    at: str  # ISO UTC: when opened assignments start and closed ones end
    source: str  # on opened assignments: "import:roster.csv by admin", "admin:alice"
    actor: str  # updated_by on the workers written
    insert_workers: list[Row] = field(default_factory=list)
    new_workers: list[tuple[str, ...]] = field(default_factory=list)  # more, as NEW_WORKER_FIELDS tuples
    update_workers: list[Row] = field(default_factory=list)
    close: list[int] = field(default_factory=list)
    open: list[tuple[str, str, str]] = field(default_factory=list)  # (worker_id, grid_code, shift)
    users: list[Row] = field(default_factory=list)  # user rows (auth/users.py); taken names are skipped

    def __bool__(self) -> bool:
        return bool(
            self.insert_workers
            or self.new_workers
            or self.update_workers
            or self.close
            or self.open
            or self.users
        )


@dataclass(slots=True)
class RosterState:
    """The roster as stored now: workers by id, their current assignments, their leave
    (ending after the time asked, when asked)."""

    workers: dict[str, Row] = field(default_factory=dict)
    grids: dict[str, list[Row]] = field(default_factory=dict)
    leave: dict[str, list[Row]] = field(default_factory=dict)

    @property
    def assigned(self) -> bool:
        return any(self.grids.values())


@dataclass(frozen=True, slots=True)
class RosterQuery:
    q: str = ""  # in the name, number or id
    grid: str = ""  # a current grid, exactly
    area: str = ""  # a current grid under this code prefix
    scope: str = ""  # the asker's jurisdiction (a prefix): a current grid under it
    active: bool | None = None
    limit: int = 50
    offset: int = 0


class RosterStore(Protocol):
    """What the rest of the code may call (base.Store includes it)."""

    def roster_state(self, leave_after: str | None = None) -> RosterState: ...

    def apply_roster(self, changes: RosterChanges) -> None: ...

    def list_roster(self, query: RosterQuery) -> tuple[list[Row], int]: ...

    def roster_worker(self, worker_id: str) -> Row | None: ...

    def add_leave(self, worker_id: str, starts: str, ends: str, note: str, by: str) -> int: ...

    def delete_leave(self, worker_id: str, seq: int) -> bool: ...

    def roster_history(
        self, worker: str = "", grid: str = "", scope: str = "", limit: int = 100
    ) -> list[Row]: ...

    def worker_codes(self, prefix: str) -> list[str]: ...

    def account_owners(self) -> dict[str, str | None]: ...

    def apply_accounts(self, new: list[Row], updates: list[Row]) -> None: ...

    def save_city_map(self, doc: str, saved_by: str, source: str) -> int: ...

    def latest_city_map(self) -> tuple[int, str] | None: ...

    def city_map_seq(self) -> int | None: ...


def _rows(fields: tuple[str, ...], found: list[Any]) -> Iterator[Row]:
    return (dict(zip(fields, r, strict=True)) for r in found)


def _like(text: str) -> str:
    """A LIKE pattern containing `text` (its own % and _ matched as themselves, near enough)."""
    return "%" + text.replace("%", "").replace("_", "") + "%"


class RosterRecords(StoreAccess):
    """Written once for both stores over StoreAccess (see store/records.py)."""

    def _sql(self) -> dict[str, str]:
        rq = roster_queries
        return rq.fixed(self.dialect)

    def _many(self, db: Any, sql: str, rows: list[Row]) -> None:
        if not rows:
            return
        if self.dialect == "sqlite":
            db.executemany(sql, rows)
            return
        with db.cursor() as cur:  # psycopg: pipelined, one wait for all
            cur.executemany(sql, rows)

    def _bulk_insert(
        self, db: Any, name: str, copy: str, fields: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """New rows as tuples in `fields` order: on SQLite one executemany of a positional
        INSERT (no dict per row to build and look into); on PostgreSQL COPY, or for a few
        rows the named INSERT."""
        if not rows:
            return
        if self.dialect == "sqlite":
            db.executemany(roster_queries.positional(name), rows)
        elif len(rows) <= FEW:
            self._many(db, self._sql()[name], [dict(zip(fields, row, strict=True)) for row in rows])
        else:
            with db.cursor() as cur, cur.copy(copy) as out:
                for row in rows:
                    out.write_row(row)

    # reading
    def roster_state(self, leave_after: str | None = None) -> RosterState:
        rq = roster_queries
        sql = self._sql()
        state = RosterState()
        with self._reading() as db:
            for row in _rows(rq.WORKER_FIELDS, db.execute(sql["all_workers"], {}).fetchall()):
                state.workers[row["id"]] = row
            for row in _rows(rq.GRID_FIELDS, db.execute(sql["current_grids"], {}).fetchall()):
                state.grids.setdefault(row["worker_id"], []).append(row)
            if leave_after is not None:
                for row in _rows(
                    rq.LEAVE_FIELDS, db.execute(sql["leave_after"], {"now": leave_after}).fetchall()
                ):
                    state.leave.setdefault(row["worker_id"], []).append(row)
        return state

    def list_roster(self, query: RosterQuery) -> tuple[list[Row], int]:
        rq = roster_queries
        params: dict[str, Any] = {}
        if query.q:
            params["q"] = _like(query.q)
        if query.grid:
            params["grid"] = query.grid
        if query.area:
            params["area"] = query.area + "%"
        if query.scope:
            params["scope"] = query.scope + "%"
        if query.active is not None:
            params["active"] = int(query.active)
        count, page = rq.roster_page(self.dialect, tuple(params))
        with self._reading() as db:
            total: int = db.execute(count, params).fetchone()[0]
            found = db.execute(page, params | {"limit": query.limit, "offset": query.offset}).fetchall()
            items = list(_rows(rq.WORKER_FIELDS, found))
            self._fill(db, items)
        return items, total

    def roster_worker(self, worker_id: str) -> Row | None:
        rq = roster_queries
        with self._reading() as db:
            found = db.execute(self._sql()["get_worker"], {"id": worker_id}).fetchone()
            if found is None:
                return None
            items = [dict(zip(rq.WORKER_FIELDS, found, strict=True))]
            self._fill(db, items)
        return items[0]

    def _fill(self, db: Any, items: list[Row]) -> None:
        """Each worker's current grids, leave and whether they have an account."""
        rq = roster_queries
        if not items:
            return
        ids = [w["id"] for w in items]
        params = rq.list_params("id", ids, self.dialect)
        by_id = {w["id"]: w | {"grids": [], "leave": []} for w in items}
        for row in _rows(
            rq.GRID_FIELDS, db.execute(rq.of_workers(self.dialect, "grids", len(ids)), params).fetchall()
        ):
            by_id[row["worker_id"]]["grids"].append(row)
        for row in _rows(
            rq.LEAVE_FIELDS, db.execute(rq.of_workers(self.dialect, "leave", len(ids)), params).fetchall()
        ):
            by_id[row["worker_id"]]["leave"].append(row)
        owners = {
            r[0] for r in db.execute(rq.of_workers(self.dialect, "accounts", len(ids)), params).fetchall()
        }
        for i, worker in enumerate(items):
            items[i] = by_id[worker["id"]] | {"has_account": worker["id"] in owners}

    def roster_history(
        self, worker: str = "", grid: str = "", scope: str = "", limit: int = 100
    ) -> list[Row]:
        rq = roster_queries
        params: dict[str, Any] = {}
        if worker:
            params["worker"] = worker
        if grid:
            params["grid"] = grid
        if scope:
            params["scope"] = scope + "%"
        sql = rq.history(self.dialect, tuple(params))
        with self._reading() as db:
            found = db.execute(sql, params | {"limit": limit}).fetchall()
        return list(_rows((*rq.GRID_FIELDS, "name"), found))

    def worker_codes(self, prefix: str) -> list[str]:
        with self._reading() as db:
            return [r[0] for r in db.execute(self._sql()["codes_like"], {"pattern": prefix + "%"}).fetchall()]

    def account_owners(self) -> dict[str, str | None]:
        """Every account's username → its worker id (None for staff)."""
        with self._reading() as db:
            return {r[0]: r[1] for r in db.execute(self._sql()["accounts"], {}).fetchall()}

    # writing
    def apply_roster(self, changes: RosterChanges) -> None:
        rq = roster_queries
        if not changes:
            return
        sql = self._sql()
        at, actor, source = changes.at, changes.actor, changes.source
        stamp = {"updated_at": at, "updated_by": actor}
        # In WORKER_FIELDS order; active and photo default as the columns do (a row of
        # the six fields alone, as an import makes, takes the defaults as they are).
        tail = (1, None, at, actor)
        added = [
            _NEW_WORKER(w) + (tail if len(w) == 6 else (w.get("active", 1), w.get("photo"), at, actor))
            for w in changes.insert_workers
        ]
        added += [w + tail for w in changes.new_workers]
        updated = [w | stamp for w in changes.update_workers]
        opened = [o + (at, source) for o in changes.open]  # in GRID_INSERTED order
        users = rq.user_rows(changes.users)
        with self._writing() as db:
            self._bulk_insert(db, "insert_worker", rq.COPY_WORKERS, rq.WORKER_FIELDS, added)
            self._many(db, sql["update_worker"], updated)
            self._many(db, sql["close_grid"], [{"seq": seq, "at": changes.at} for seq in changes.close])
            self._bulk_insert(db, "insert_grid", rq.COPY_GRIDS, rq.GRID_INSERTED, opened)
            self._many(db, rq.insert_user(self.dialect), users)

    def add_leave(self, worker_id: str, starts: str, ends: str, note: str, by: str) -> int:
        params = {"worker_id": worker_id, "starts": starts, "ends": ends, "note": note, "created_by": by}
        params["created_at"] = datetime.now(UTC).isoformat()
        with self._writing_one() as db:
            seq: int = db.execute(self._sql()["insert_leave"], params).fetchone()[0]
        return seq

    def delete_leave(self, worker_id: str, seq: int) -> bool:
        with self._writing_one() as db:
            return (
                db.execute(self._sql()["delete_leave"], {"id": worker_id, "seq": seq}).fetchone() is not None
            )

    def apply_accounts(self, new: list[Row], updates: list[Row]) -> None:
        """Accounts added and changed (role, jurisdiction, worker_id; each change revokes
        the account's tokens) in one transaction."""
        rq = roster_queries
        rows = rq.user_rows(new)
        with self._writing() as db:
            self._many(db, rq.insert_user(self.dialect), rows)
            self._many(db, rq.fixed(self.dialect)["update_account"], updates)

    # the grid map
    def save_city_map(self, doc: str, saved_by: str, source: str) -> int:
        params = {
            "saved_at": datetime.now(UTC).isoformat(),
            "saved_by": saved_by,
            "source": source,
            "doc": doc,
        }
        with self._writing_one() as db:
            seq: int = db.execute(self._sql()["insert_map"], params).fetchone()[0]
        return seq

    def latest_city_map(self) -> tuple[int, str] | None:
        with self._reading() as db:
            found = db.execute(self._sql()["latest_map"], {}).fetchone()
        return (int(found[0]), found[1]) if found else None

    def city_map_seq(self) -> int | None:
        with self._reading() as db:
            found = db.execute(self._sql()["latest_map_seq"], {}).fetchone()
        return int(found[0]) if found and found[0] is not None else None
