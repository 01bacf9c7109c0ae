"""The terminal's collection in the store (api/basedata_collect.py), for SQLite and
PostgreSQL: a new record written with its form's client id in ONE transaction (so a resend
finds what the first send made), and a building's households with their people.

Runs through the store's own connections, like store/basedata_records.py, whose upsert it
reuses for the record itself (the same statement the API used before: imports and forms
write a record the same way).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from basedata.model import Household, Person, Record
from command_center.store.basedata_records import BaseDataRecords, from_row, present, to_row
from command_center.store.basedata_schema import KEYS, households, people
from command_center.store.collect_schema import collect_requests
from command_center.store.queries import compile_sql

# How long a form's client id is remembered: longer than a phone keeps a form offline (the
# terminal's queue is cleared at sign-out; a month underground is already unheard of).
COLLECT_KEEP_DAYS = 90


class ClaimTaken(Exception):
    """Another request with the same client id was written first (on another node): the
    caller looks the client id up again and answers with that record."""


@cache
def _sql(dialect: str) -> dict[str, str]:
    table = collect_requests
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    in_building = households.c.building_code == sa.bindparam("code")
    statements: dict[str, Any] = {
        # DO NOTHING, then rowcount: a second writer of the same id learns it without an error
        # (PostgreSQL waits for the first writer's transaction to end, then does nothing).
        "claim": insert.values({c.name: sa.bindparam(c.name) for c in table.columns}).on_conflict_do_nothing(
            index_elements=[table.c.actor, table.c.client_id]
        ),
        "find": sa.select(table.c.kind, table.c.record_key).where(
            table.c.actor == sa.bindparam("actor"), table.c.client_id == sa.bindparam("client_id")
        ),
        "prune": sa.delete(table).where(table.c.at < sa.bindparam("before")),
        # a building's households (households_building index) and their people (people_household),
        # less those marked moved out (迁出), as the lists do
        "households": sa.select(*households.columns)
        .where(in_building)
        .order_by(households.c.id)
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset")),  # SQLite's LIMIT comes with one: a parameter, not a constant
        "people": sa.select(*people.columns)
        .where(people.c.household_id.in_(sa.select(households.c.id).where(in_building)), present(people))
        .order_by(people.c.household_id, people.c.id)
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset")),
        # and those marked moved out, kept until the retention sweep deletes them: the latest first
        "moved": sa.select(*people.columns)
        .where(people.c.household_id.in_(sa.select(households.c.id).where(in_building)), people.c.left_on.is_not(None))
        .order_by(people.c.left_on.desc(), people.c.id)
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset")),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


class CollectRecords:
    """The collection forms' side of one store's base data."""

    def __init__(self, records: BaseDataRecords) -> None:
        self.records = records
        self.store = records.store
        self.sql = _sql(records.dialect)

    def find(self, actor: str, client_id: str) -> tuple[str, str] | None:
        """(kind, key) of the record this actor's form with this client id made, if any."""
        with self.store._reading() as db:
            row = db.execute(self.sql["find"], {"actor": actor, "client_id": client_id}).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def create(self, kind: str, record: Record, by: str, claim: tuple[str, str] | None) -> None:
        """The new record, and with `claim` (actor, client id) its row, in one transaction;
        ClaimTaken (nothing written) when that client id was written meanwhile."""
        now = datetime.now(UTC)
        with self.store._writing() as db:
            if claim is not None:
                key = str(getattr(record, KEYS[kind]))
                row = {
                    "actor": claim[0],
                    "client_id": claim[1],
                    "kind": kind,
                    "record_key": key,
                    "at": now.isoformat(),
                }
                if db.execute(self.sql["claim"], row).rowcount != 1:
                    raise ClaimTaken(claim[1])
                db.execute(
                    self.sql["prune"], {"before": (now - timedelta(days=COLLECT_KEEP_DAYS)).isoformat()}
                )
            # BaseDataRecords' own chunk writer, on this transaction's connection: the record
            # is written exactly as an import or the API's create wrote it before.
            self.records._write(db, kind, [to_row(kind, record, now.isoformat(), by)])

    def building(
        self, code: str, most_households: int, most_people: int
    ) -> tuple[list[Household], list[Person]]:
        """A building's households by id and their people by household and id, at most as
        many as asked (one more is read of each, so the caller can tell it was cut)."""
        with self.store._reading() as db:
            found = db.execute(
                self.sql["households"], {"code": code, "limit": most_households + 1, "offset": 0}
            ).fetchall()
            residents = db.execute(
                self.sql["people"], {"code": code, "limit": most_people + 1, "offset": 0}
            ).fetchall()
        homes = [from_row("household", r) for r in found]
        persons = [from_row("person", r) for r in residents]
        return [h for h in homes if isinstance(h, Household)], [p for p in persons if isinstance(p, Person)]


    def moved_out(self, code: str, most: int) -> list[Person]:
        """A building's people marked moved out (迁出) and not yet deleted, the latest first."""
        with self.store._reading() as db:
            rows = db.execute(self.sql["moved"], {"code": code, "limit": most, "offset": 0}).fetchall()
        return [p for p in (from_row("person", r) for r in rows) if isinstance(p, Person)]


def collect_store(records: BaseDataRecords) -> CollectRecords:
    return CollectRecords(records)
