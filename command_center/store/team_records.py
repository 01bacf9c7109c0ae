"""Emergency teams and the admins' response plans in the store, written once for both
databases (the tables: store/schema.py; what they mean: command_center/emergency/teams.py).

A team is a row and its members; a write replaces what it names in one transaction, so
a reader never sees a team half changed. Seeding (`seed_teams`) is idempotent across
nodes: a seeded team's id is its street's, inserted only when missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.access import StoreAccess
from command_center.store.queries import compile_sql, const
from command_center.store.schema import emergency_plans as plans
from command_center.store.schema import emergency_team_members as members
from command_center.store.schema import emergency_teams as teams

Row = dict[str, Any]
SEEDED_BY = "system"  # updated_by of a team as seeded: a roster import may re-seed it
TEAM_FIELDS = ("id", "name", "street_code", "updated_at", "updated_by")
ROLES = ("leader", "member")


@dataclass(frozen=True, slots=True)
class TeamSeed:
    """A street's team as the roster makes it: its leader first among `workers`."""

    id: str
    name: str
    street_code: str
    workers: tuple[str, ...]


class TeamStore(Protocol):
    """What the rest of the code may call (see `team_store`)."""

    def list_teams(self) -> list[Row]:
        """Every team, by street then name, each with `members` [{worker_id, role}] (leader first)."""
        ...

    def get_team(self, team_id: str) -> Row | None: ...

    def save_team(self, team: Row, member_rows: Sequence[tuple[str, str]] | None) -> None:
        """Insert or update the team row; with `member_rows` ((worker_id, role), ...) its
        members become exactly those."""
        ...

    def delete_team(self, team_id: str) -> bool: ...

    def put_team_member(self, team_id: str, worker_id: str, role: str, at: str, by: str) -> None:
        """Add or change one member; a new leader makes the old one a member."""
        ...

    def delete_team_member(self, team_id: str, worker_id: str, at: str, by: str) -> bool: ...

    def seed_teams(self, seeds: Sequence[TeamSeed], at: str, reseed: bool = False) -> int:
        """Teams for the streets that have none; with `reseed` also the members of teams
        still as seeded (never an edited one). How many teams were written."""
        ...

    def plan_rows(self) -> dict[str, Row]:
        """The stored plans: emergency class → {doc (Plan JSON), updated_by, updated_at}."""
        ...

    def put_plan_doc(self, cls: str, doc: str, by: str, at: str) -> None: ...


def team_store(store: object) -> TeamStore:
    """The store as a TeamStore: both stores mix TeamRecords in (sqlite.py, postgres/store.py)."""
    if not isinstance(store, TeamRecords):
        raise TypeError(f"{type(store).__name__} keeps no emergency teams")
    return cast(TeamStore, store)


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@cache
def _sql(dialect: str) -> dict[str, str]:
    p = sa.bindparam
    team_values = _insert(dialect, teams).values({c: p(c) for c in TEAM_FIELDS})
    upsert_team = team_values.on_conflict_do_update(
        index_elements=[teams.c.id],
        set_={c: getattr(team_values.excluded, c) for c in ("name", "street_code", "updated_at", "updated_by")},
    )
    member_values = _insert(dialect, members).values(team_id=p("team_id"), worker_id=p("worker_id"), role=p("role"))
    upsert_member = member_values.on_conflict_do_update(
        index_elements=[members.c.team_id, members.c.worker_id], set_={"role": member_values.excluded.role}
    )
    plan_values = _insert(dialect, plans).values(
        emergency_class=p("cls"), doc=p("doc"), updated_by=p("by"), updated_at=p("at")
    )
    upsert_plan = plan_values.on_conflict_do_update(
        index_elements=[plans.c.emergency_class],
        set_={"doc": plan_values.excluded.doc, "updated_by": plan_values.excluded.updated_by,
              "updated_at": plan_values.excluded.updated_at},
    )  # fmt: skip
    team_is = teams.c.id == p("team_id")
    of_team = members.c.team_id == p("team_id")
    statements = {
        "teams": sa.select(*[teams.c[f] for f in TEAM_FIELDS]).order_by(teams.c.street_code, teams.c.name, teams.c.id),
        "team": sa.select(*[teams.c[f] for f in TEAM_FIELDS]).where(team_is),
        "members": sa.select(members.c.team_id, members.c.worker_id, members.c.role).order_by(
            members.c.team_id, members.c.role, members.c.worker_id
        ),  # "leader" sorts before "member"
        "members_of": sa.select(members.c.team_id, members.c.worker_id, members.c.role)
        .where(of_team)
        .order_by(members.c.role, members.c.worker_id),
        "upsert_team": upsert_team,
        "insert_team": team_values.on_conflict_do_nothing(index_elements=[teams.c.id]),
        "touch_team": sa.update(teams).where(team_is).values(updated_at=p("at"), updated_by=p("by")),
        "delete_team": sa.delete(teams).where(team_is),
        "clear_members": sa.delete(members).where(of_team),
        "upsert_member": upsert_member,
        "demote_leaders": sa.update(members)
        .where(of_team, members.c.role == const("leader"), members.c.worker_id != p("worker_id"))
        .values(role=const("member")),
        "delete_member": sa.delete(members).where(of_team, members.c.worker_id == p("worker_id")),
        "plans": sa.select(plans.c.emergency_class, plans.c.doc, plans.c.updated_by, plans.c.updated_at),
        "upsert_plan": upsert_plan,
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


class TeamRecords(StoreAccess):
    def _team_sql(self) -> dict[str, str]:
        return _sql(self.dialect)

    def list_teams(self) -> list[Row]:
        sql = self._team_sql()
        with self._reading() as db:
            found = [dict(zip(TEAM_FIELDS, r, strict=True)) for r in db.execute(sql["teams"]).fetchall()]
            rows = db.execute(sql["members"]).fetchall()
        by_team: dict[str, list[Row]] = {}
        for team_id, worker_id, role in rows:
            by_team.setdefault(team_id, []).append({"worker_id": worker_id, "role": role})
        for team in found:
            team["members"] = by_team.get(team["id"], [])
        return found

    def get_team(self, team_id: str) -> Row | None:
        sql = self._team_sql()
        with self._reading() as db:
            row = db.execute(sql["team"], {"team_id": team_id}).fetchone()
            if row is None:
                return None
            rows = db.execute(sql["members_of"], {"team_id": team_id}).fetchall()
        team = dict(zip(TEAM_FIELDS, row, strict=True))
        team["members"] = [{"worker_id": w, "role": role} for _, w, role in rows]
        return team

    def save_team(self, team: Row, member_rows: Sequence[tuple[str, str]] | None) -> None:
        sql = self._team_sql()
        with self._writing() as db:
            db.execute(sql["upsert_team"], {f: team[f] for f in TEAM_FIELDS})
            if member_rows is not None:
                self._replace_members(db, team["id"], member_rows)

    def delete_team(self, team_id: str) -> bool:
        sql = self._team_sql()
        with self._writing() as db:
            db.execute(sql["clear_members"], {"team_id": team_id})
            return db.execute(sql["delete_team"], {"team_id": team_id}).rowcount > 0

    def put_team_member(self, team_id: str, worker_id: str, role: str, at: str, by: str) -> None:
        sql = self._team_sql()
        with self._writing() as db:
            if role == "leader":
                db.execute(sql["demote_leaders"], {"team_id": team_id, "worker_id": worker_id})
            db.execute(sql["upsert_member"], {"team_id": team_id, "worker_id": worker_id, "role": role})
            db.execute(sql["touch_team"], {"team_id": team_id, "at": at, "by": by})

    def delete_team_member(self, team_id: str, worker_id: str, at: str, by: str) -> bool:
        sql = self._team_sql()
        with self._writing() as db:
            gone = db.execute(sql["delete_member"], {"team_id": team_id, "worker_id": worker_id}).rowcount > 0
            if gone:
                db.execute(sql["touch_team"], {"team_id": team_id, "at": at, "by": by})
            return gone

    def seed_teams(self, seeds: Sequence[TeamSeed], at: str, reseed: bool = False) -> int:
        sql = self._team_sql()
        written = 0
        with self._writing() as db:
            stored = {r[0]: dict(zip(TEAM_FIELDS, r, strict=True)) for r in db.execute(sql["teams"]).fetchall()}
            streets = {t["street_code"] for t in stored.values()}
            for seed in seeds:
                have = stored.get(seed.id)
                if have is None and seed.street_code in streets:
                    continue  # the street has a team of an admin's making: theirs stands
                if have is not None and not (reseed and have["updated_by"] == SEEDED_BY):
                    continue
                row = {"id": seed.id, "name": seed.name, "street_code": seed.street_code,
                       "updated_at": at, "updated_by": SEEDED_BY}  # fmt: skip
                # Insert-if-missing: two nodes seeding at once both succeed, with one team.
                db.execute(sql["insert_team" if have is None else "upsert_team"], row)
                roles = [(w, "leader" if i == 0 else "member") for i, w in enumerate(seed.workers)]
                self._replace_members(db, seed.id, roles)
                written += 1
        return written

    def _replace_members(self, db: Any, team_id: str, member_rows: Sequence[tuple[str, str]]) -> None:
        sql = self._team_sql()
        db.execute(sql["clear_members"], {"team_id": team_id})
        for worker_id, role in member_rows:
            db.execute(sql["upsert_member"], {"team_id": team_id, "worker_id": worker_id, "role": role})

    def plan_rows(self) -> dict[str, Row]:
        with self._reading() as db:
            found = db.execute(self._team_sql()["plans"]).fetchall()
        return {cls: {"doc": doc, "updated_by": by, "updated_at": at} for cls, doc, by, at in found}

    def put_plan_doc(self, cls: str, doc: str, by: str, at: str) -> None:
        with self._writing_one() as db:
            db.execute(self._team_sql()["upsert_plan"], {"cls": cls, "doc": doc, "by": by, "at": at})
