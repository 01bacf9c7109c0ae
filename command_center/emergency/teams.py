"""Emergency teams (应急队) as people: who is in each street's team, who of them is on duty
and where they last were, and to whom a plan task goes.

The seed: each street forms a team from its professional grid workers (专业网格员, the
roster's level `professional`); a street without any takes its full-time workers (专职),
so the sample city, whose roster has no levels, has teams too. At most TEAM_SIZE people,
the first the leader. Teams live in the store (store/team_records.py); admins change them.

Positions come from the members' phones while they hold an open emergency task (POST
/api/workers/{id}/position), kept here in memory for a while and published on the
`emergency` channel, which is how the pages of every node see them move.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from command_center.emergency.service import Assignee, distance_m
from command_center.store.team_records import Row, TeamSeed, TeamStore
from dispatch.city import City, Worker
from dispatch.city.codes import ancestor_at, is_code

TEAM_SIZE = 12
POSITION_TTL_S = 2 * 3600  # a phone's last fix, kept this long (then it is no longer news)
READ_AUDIT_S = 600.0  # one audit row per user per ten minutes of looking at positions


def street_of(code: str | None) -> str | None:
    """The street (街道/镇) an area code lies in; None above street level or for a non-code."""
    if not code or not is_code(code):
        return None
    try:
        return ancestor_at(code, "street")
    except ValueError:
        return None


def team_id_of(street_code: str) -> str:
    """A seeded team's id: its street's, so that seeding twice (or on two nodes) makes one."""
    return f"team-{street_code[:9]}"


def seeds_from_city(city: City) -> list[TeamSeed]:
    """A team for each street that has professional (else full-time) workers."""
    people: dict[str, dict[str, Worker]] = {}
    for worker in city.workers:
        code = street_of(worker.grid_code)
        if code is not None:
            people.setdefault(code, {}).setdefault(worker.id, worker)  # one per person
    seeds = []
    for street in city.streets:
        workers = list(people.get(street.code, {}).values())
        chosen = [w for w in workers if w.level == "professional"] or [w for w in workers if w.kind == "full_time"]
        if not chosen:
            continue
        # The leader: a full-time professional first, then by worker number (stable across runs).
        chosen.sort(key=lambda w: (w.kind != "full_time", w.code or w.id, w.id))
        ids = tuple(w.id for w in chosen[:TEAM_SIZE])
        seeds.append(TeamSeed(team_id_of(street.code), f"{street.name}应急队", street.code, ids))
    return seeds


@dataclass
class Positions:
    """Members' last fixes by worker id: {lon, lat, accuracy, ts}."""

    clock: Callable[[], float] = time.time
    fixes: dict[str, dict[str, Any]] = field(default_factory=dict)
    audited: dict[str, float] = field(default_factory=dict)  # user → when their last read was audited

    def put(self, worker_id: str, lon: float, lat: float, accuracy: float | None) -> dict[str, Any]:
        fix = {"worker_id": worker_id, "lon": lon, "lat": lat, "accuracy": accuracy, "ts": self.clock()}
        self.fixes[worker_id] = fix
        return fix

    def get(self, worker_id: str) -> dict[str, Any] | None:
        fix = self.fixes.get(worker_id)
        if fix is not None and self.clock() - fix["ts"] > POSITION_TTL_S:
            del self.fixes[worker_id]
            return None
        return fix

    def read_audit_due(self, user: str) -> bool:
        """Whether a read of positions by `user` goes to the audit log now: once per user in
        READ_AUDIT_S (the emergency page reloads its teams as they change)."""
        now = self.clock()
        if now - self.audited.get(user, -READ_AUDIT_S) < READ_AUDIT_S:
            return False
        self.audited[user] = now
        return True


class Teams:
    """The teams over the store and the current map: views, seeding, assignment."""

    def __init__(self, store: TeamStore, city: Callable[[], City], workers: Callable[[str], list[Worker]]) -> None:
        self.store = store
        self._city = city  # the current map (a re-drawn one swaps in)
        self._grids_of = workers  # a worker's Worker on each of their grids
        self.positions = Positions()
        self._seeded = False

    def ensure_seeded(self) -> int:
        """Seed from the map's roster when the store has no team at all (once per process)."""
        if self._seeded:
            return 0
        made = 0
        if not self.store.list_teams():
            made = self.store.seed_teams(seeds_from_city(self._city()), _now_iso())
        self._seeded = True
        return made

    def all(self) -> list[Row]:
        self.ensure_seeded()
        return self.store.list_teams()

    def of_worker(self, worker_id: str, teams: Iterable[Row] | None = None) -> list[Row]:
        return [t for t in (teams if teams is not None else self.all()) if any(
            m["worker_id"] == worker_id for m in t["members"])]  # fmt: skip

    def street_team(self, code: str | None, teams: Iterable[Row] | None = None) -> Row | None:
        street = street_of(code)
        return next((t for t in (teams if teams is not None else self.all()) if t["street_code"] == street), None)

    def name(self, worker_id: str) -> str | None:
        found = self._grids_of(worker_id)
        return found[0].name if found else None

    def on_duty(self, worker_id: str, at: datetime) -> bool:
        return any(w.on_duty(at) for w in self._grids_of(worker_id))

    def assignee(self, team: Row, leader_only: bool = False) -> Assignee:
        """A task for a team: all its members receive it (or its leader alone)."""
        ids = [m["worker_id"] for m in team["members"]]
        if leader_only and ids:
            ids = ids[:1]  # leader first (store order)
            return self.worker_assignee(ids[0], team)
        return {"kind": "team", "id": team["id"], "name": team["name"], "team": team["name"], "workers": ids}

    def worker_assignee(self, worker_id: str, team: Row | None = None) -> Assignee:
        if team is None:
            found = self.of_worker(worker_id)
            team = found[0] if found else None
        return {
            "kind": "worker", "id": worker_id, "name": self.name(worker_id) or worker_id,
            "team": team["name"] if team else None, "workers": [worker_id],
        }  # fmt: skip

    def place(self, team: Row) -> dict[str, Any]:
        """The team with where its street is ({team, street_code, center}), for `nearest_first`."""
        street = self._city().areas.get(team["street_code"])
        center = {"lon": street.lon, "lat": street.lat} if street else None
        return {"team": team, "street_code": team["street_code"], "center": center}

    def view(self, team: Row, at: datetime, tasks_of: Callable[[str], list[str]]) -> dict[str, Any]:
        """A team as the emergency page shows it: members by name, on duty, last position, tasks."""
        members = []
        for m in team["members"]:
            grids = self._grids_of(m["worker_id"])
            if not grids:
                continue  # no longer on the roster: kept in the store, not shown
            members.append({
                "worker_id": m["worker_id"], "name": grids[0].name, "role": m["role"], "phone": grids[0].phone,
                "grid_code": grids[0].grid_code, "on_duty": any(w.on_duty(at) for w in grids),
                "position": self.positions.get(m["worker_id"]), "tasks": tasks_of(m["worker_id"]),
            })  # fmt: skip
        street = self._city().areas.get(team["street_code"])
        return {
            "id": team["id"], "name": team["name"], "street_code": team["street_code"],
            "street_name": street.name if street else None,
            "center": {"lon": street.lon, "lat": street.lat} if street else None,
            "members": members, "on_duty": sum(1 for m in members if m["on_duty"]),
            "updated_at": team["updated_at"], "updated_by": team["updated_by"],
        }  # fmt: skip


def nearest_first(views: list[dict[str, Any]], near: tuple[float, float] | None) -> list[dict[str, Any]]:
    """Items with a `center` and a `street_code`, nearest `near` first (then by street code);
    each gets `distance_m`."""
    for v in views:
        c = v.get("center")
        v["distance_m"] = round(distance_m(near[0], near[1], c["lon"], c["lat"])) if near and c else None
    return sorted(views, key=lambda v: (math.inf if v["distance_m"] is None else v["distance_m"], v["street_code"]))


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()
