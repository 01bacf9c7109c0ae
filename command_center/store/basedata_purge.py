"""The deletions of base data's retention rules (basedata/retention.py), in SQL: nothing is
loaded into Python, only the numbers deleted come back (command_center/basedata_retention.py
audits them, never a name).

`moved_out`: the people marked moved out (迁出) before a day, with their care memberships and
the visits of those, in ONE transaction (a membership never outlives its person, nor a visit
its membership). `closed_care`: the visits of care memberships closed (inactive) before a
time, the membership itself kept (the ledger's history: who was cared for, from when).
Both written once for SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import sqlalchemy as sa

from command_center.store.access import StoreAccess
from command_center.store.basedata_schema import people
from command_center.store.care_schema import care_memberships, care_visits
from command_center.store.queries import compile_sql


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows one sweep deleted, by what."""

    people: int = 0
    memberships: int = 0
    visits: int = 0  # of the people who left
    closed_visits: int = 0  # of memberships closed long enough

    @property
    def total(self) -> int:
        return self.people + self.memberships + self.visits + self.closed_visits


@cache
def _sql(dialect: str) -> dict[str, str]:
    gone = sa.select(people.c.id).where(people.c.left_on < sa.bindparam("left_before"))
    leaving = sa.select(care_memberships.c.id).where(care_memberships.c.person_id.in_(gone))
    closed = sa.select(care_memberships.c.id).where(
        care_memberships.c.active.is_(sa.false()),
        care_memberships.c.updated_at < sa.bindparam("closed_before"),
    )
    statements = {
        "visits": sa.delete(care_visits).where(care_visits.c.membership_id.in_(leaving)),
        "memberships": sa.delete(care_memberships).where(care_memberships.c.person_id.in_(gone)),
        "people": sa.delete(people).where(people.c.left_on < sa.bindparam("left_before")),
        "closed_visits": sa.delete(care_visits).where(care_visits.c.membership_id.in_(closed)),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def moved_out(store: StoreAccess, before: date) -> Purged:
    """People who left before `before`, their memberships and visits: deleted together."""
    sql = _sql(store.dialect)
    params = {"left_before": before.isoformat()}
    with store._writing() as db:
        visits = db.execute(sql["visits"], params).rowcount
        memberships = db.execute(sql["memberships"], params).rowcount
        gone = db.execute(sql["people"], params).rowcount
    return Purged(people=gone, memberships=memberships, visits=visits)


def closed_care(store: StoreAccess, before: str) -> int:
    """The visits of memberships closed (last changed) before `before` (ISO time, UTC)."""
    with store._writing() as db:
        return int(db.execute(_sql(store.dialect)["closed_visits"], {"closed_before": before}).rowcount)
