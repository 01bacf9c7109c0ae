"""Retention and deletion of base data by rule (basedata/retention.py,
command_center/basedata_retention.py, api/basedata_leave.py): issue 19's "retention and
deletion by rule".

On both databases, with a frozen clock: a person marked moved out (迁出) on day D with a
30-day rule is kept through D+30 and deleted on D+31 with their care membership and its
visits, while the person who stayed and their visits remain; the visits of a membership
closed long enough go, the membership stays; each sweep that deletes writes one audit row
with the counts and no name. Through the API: DELETE marks a person moved out (audited,
scoped, idempotent); lists, counts and exports leave them out; a form cannot set the date.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from basedata.care import CarePolicy, Visit, new_membership
from basedata.model import Person, Sealed
from basedata.protect import FieldCipher, FieldKey
from basedata.retention import RetentionPolicy, cutoffs
from basedata.sample import SampleSpec, generate
from command_center.basedata_retention import BaseDataRetention
from command_center.config import parse_config
from command_center.store import Store, create_store
from command_center.store.basedata_records import base_data_store
from command_center.store.care_records import care_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

GRID = "440106001001001"
LEFT_ON = date(2026, 3, 1)
RULE = RetentionPolicy(moved_out_days=30, care_closed_days=60)


@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def _person(n: int, name: str) -> Person:
    sealed = Sealed(cipher=f"v1:c{n}", index=f"{n:064x}", tail=f"{n:04d}")
    return Person(id=f"P{n}", grid_code=GRID, household_id="B1-101", name=name, id_number=sealed, sex="F",
                  birth_date=date(1940, 1, 2))  # fmt: skip


def _cared(store: Store, person: str, active: bool = True) -> str:
    """A membership for `person` with two visits; closed (inactive) when asked."""
    care = care_store(store)
    membership = new_membership(f"M-{person}", person, "elderly_alone", GRID, date(2026, 1, 1), CarePolicy())
    care.add(membership, by="test")
    for n in (1, 2):
        care.record_visit(Visit(id=f"V-{person}-{n}", membership_id=membership.id, person_id=person,
                                worker_id="W1", at=datetime(2026, 1, 10 + n, tzinfo=UTC), note="身体尚可"))  # fmt: skip
    if not active:
        current = care.get(membership.id)
        assert current is not None
        care.update(membership.id, {"active": False}, current.version, by="test")
    return membership.id


def _visits(store: Store, membership: str) -> int:
    return len(care_store(store).visits(membership))


def test_cutoffs_keep_through_the_last_day_and_zero_keeps_forever() -> None:
    assert (
        cutoffs(date(2026, 3, 31), RULE).left_before == LEFT_ON
    )  # left 3-1: kept on 3-31 (left before 3-1 go)
    assert cutoffs(date(2026, 4, 1), RULE).left_before == LEFT_ON + timedelta(days=1)  # …and gone on 4-1
    assert cutoffs(date(2026, 4, 1), RULE).closed_before == "2026-01-31T00:00:00+00:00"
    forever = cutoffs(date(2030, 1, 1), RetentionPolicy(moved_out_days=0, care_closed_days=0))
    assert forever.left_before is None and forever.closed_before is None


def test_a_moved_out_person_is_kept_for_the_rule_then_deleted_with_their_care(store: Store) -> None:
    records = base_data_store(store)
    records.upsert("person", [_person(1, "李秀英"), _person(2, "王桂兰")], by="test")
    gone, stays = _cared(store, "P1"), _cared(store, "P2")
    records.update("person", "P1", {"left_on": LEFT_ON}, 1, by="test")
    clock = [LEFT_ON + timedelta(days=30)]
    sweep = BaseDataRetention(store, lambda: RULE, today=lambda: clock[0])
    kept = asyncio.run(sweep.sweep_once())
    assert kept.total == 0 and records.get("person", "P1") is not None and _visits(store, gone) == 2
    assert not [
        r for r in store.iter_audit() if r["action"] == "basedata.retention"
    ]  # nothing deleted, no row

    clock[0] += timedelta(days=1)
    purged = asyncio.run(sweep.sweep_once())
    assert (purged.people, purged.memberships, purged.visits) == (1, 1, 2)
    assert (
        records.get("person", "P1") is None
        and care_store(store).get(gone) is None
        and _visits(store, gone) == 0
    )
    assert records.get("person", "P2") is not None and _visits(store, stays) == 2  # who stayed keeps it all
    rows = [r for r in store.iter_audit() if r["action"] == "basedata.retention"]
    assert len(rows) == 1 and rows[0]["actor"] == "system" and rows[0]["target"] == clock[0].isoformat()
    assert "people 1" in rows[0]["detail"] and "their visits 2" in rows[0]["detail"]
    assert "李秀英" not in rows[0]["detail"] and "P1" not in rows[0]["detail"]
    assert asyncio.run(sweep.sweep_once()).total == 0  # the next sweep finds nothing left


def test_a_closed_memberships_visits_go_after_the_rule_and_the_membership_stays(store: Store) -> None:
    base_data_store(store).upsert("person", [_person(3, "陈伟")], by="test")
    closed = _cared(store, "P3", active=False)
    today = datetime.now(UTC).date()  # the membership was closed now (its updated_at)
    clock = [today + timedelta(days=60)]
    sweep = BaseDataRetention(store, lambda: RULE, today=lambda: clock[0])
    assert asyncio.run(sweep.sweep_once()).closed_visits == 0 and _visits(store, closed) == 2
    clock[0] += timedelta(days=1)
    assert asyncio.run(sweep.sweep_once()).closed_visits == 2
    assert _visits(store, closed) == 0 and care_store(store).get(closed) is not None
    row = [r for r in store.iter_audit() if r["action"] == "basedata.retention"][-1]
    assert "visits of closed memberships 2" in row["detail"]


# through the API
@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[tuple[ServerThread, Any, str, str]]:
    data = tmp_path_factory.mktemp("retention")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    worker = small_city.workers[0]
    cipher = FieldCipher(FieldKey.generate(data / "keys" / "basedata.key"))
    spot = [
        (worker.grid_code, small_city.areas[worker.grid_code].lon, small_city.areas[worker.grid_code].lat)
    ]
    base_data_store(rt.store).upsert_mixed(generate(spot, SampleSpec(people=40, seed=9), cipher), by="test")
    with serve_app(rt) as srv:
        yield srv, rt, worker.grid_code, worker.id


def test_moving_a_person_out_hides_them_from_lists_counts_and_exports(
    server: tuple[ServerThread, Any, str, str],
) -> None:
    srv, rt, grid, worker = server
    assert "basedata-retention" in rt.jobs.names  # the sweep runs with the app (one node of several)
    who = srv.headers(role="worker", worker_id=worker)

    def get(path: str, headers: dict[str, str] | None = None) -> Any:
        answer = httpx.get(srv.url + path, headers=headers or srv.headers(), timeout=10)
        assert answer.status_code == 200, answer.text
        return answer

    before = get(f"/api/basedata/people?area={grid}&limit=1000").json()
    person = before["items"][0]
    path = f"/api/basedata/people/{person['id']}"
    other = srv.headers(
        role="worker", worker_id=next(w.id for w in rt.city.city.workers if w.grid_code[:6] != grid[:6])
    )
    assert httpx.delete(srv.url + path, headers=other, timeout=10).status_code == 404  # not their grid
    assert httpx.delete(srv.url + path, headers=srv.headers(role="emergency"), timeout=10).status_code == 403
    patched = httpx.patch(srv.url + path, json={"version": person["version"], "left_on": "2020-01-01"},
                          headers=who, timeout=10)  # fmt: skip
    assert patched.status_code == 422 and patched.json()["detail"]["field"] == "left_on"

    marked = httpx.delete(srv.url + path, headers=who, timeout=10)
    assert marked.status_code == 200, marked.text
    assert (
        marked.json()["left_on"] == rt.dispatcher.today().isoformat()
        and marked.json()["version"] == person["version"] + 1
    )
    assert marked.json()["id_number"].startswith("*")  # masked as ever
    again = httpx.delete(srv.url + path, headers=who, timeout=10)
    assert again.status_code == 200 and again.json()["version"] == marked.json()["version"]
    audited = [r for r in rt.store.iter_audit() if r["action"] == "basedata.leave"]
    assert (
        len(audited) == 1
        and audited[0]["target"] == person["id"]
        and person["name"] not in audited[0]["detail"]
    )

    after = get(f"/api/basedata/people?area={grid}&limit=1000").json()
    assert after["total"] == before["total"] - 1 and person["id"] not in [p["id"] for p in after["items"]]
    counts = get(f"/api/basedata/counts?area={grid}").json()
    assert counts["totals"]["people"] == before["total"] - 1
    assert get(path).json()["left_on"] == rt.dispatcher.today().isoformat()  # still readable by id until deleted
    exported = get(f"/api/basedata-export/people?area={grid}&format=csv").text
    assert person["id"] not in exported and exported.count("\r\n") == 2 + before["total"] - 1
