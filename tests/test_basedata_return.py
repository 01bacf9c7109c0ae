"""Undoing a 迁出 marked in error (api/basedata_leave.py, POST /api/basedata/people/{id}/return):
the roles that may mark it, in their own area; `left_on` cleared and the person back in the
lists and counts; audited (`basedata.return`, never the name); 409 for a person not marked
moved out, 404 once the retention sweep has deleted the record, 403 for a role without base data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from basedata.protect import FieldCipher, FieldKey
from basedata.retention import RetentionPolicy
from basedata.sample import SampleSpec, generate
from command_center.basedata_retention import BaseDataRetention
from command_center.config import parse_config
from command_center.store.basedata_records import base_data_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Any, str, str]]:
    data = tmp_path_factory.mktemp("return")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    worker = small_city.workers[0]
    cipher = FieldCipher(FieldKey.generate(data / "keys" / "basedata.key"))
    area = small_city.areas[worker.grid_code]
    spot = [(worker.grid_code, area.lon, area.lat)]
    base_data_store(rt.store).upsert_mixed(generate(spot, SampleSpec(people=30, seed=5), cipher), by="test")
    with serve_app(rt) as srv:
        yield srv, rt, worker.grid_code, worker.id


def _people(srv: ServerThread, grid: str) -> int:
    counts = httpx.get(f"{srv.url}/api/basedata/counts?area={grid}", headers=srv.headers(), timeout=10)
    assert counts.status_code == 200, counts.text
    return int(counts.json()["totals"]["people"])


def test_a_move_out_marked_in_error_is_undone_audited_and_scoped(server: tuple[ServerThread, Any, str, str]) -> None:
    srv, rt, grid, worker = server
    who = srv.headers(role="worker", worker_id=worker)
    listed = httpx.get(f"{srv.url}/api/basedata/people?area={grid}", headers=who, timeout=10).json()
    person = listed["items"][0]
    path = f"{srv.url}/api/basedata/people/{person['id']}"
    before = _people(srv, grid)

    not_out = httpx.post(f"{path}/return", headers=who, timeout=10)
    assert not_out.status_code == 409, not_out.text  # not moved out: nothing to undo
    assert httpx.delete(path, headers=who, timeout=10).status_code == 200
    assert _people(srv, grid) == before - 1

    stranger = next(w.id for w in rt.city.city.workers if w.grid_code[:6] != grid[:6])
    elsewhere = httpx.post(f"{path}/return", headers=srv.headers(role="worker", worker_id=stranger), timeout=10)
    assert elsewhere.status_code == 404  # another area's person reads as missing
    assert httpx.post(f"{path}/return", headers=srv.headers(role="emergency"), timeout=10).status_code == 403
    assert base_data_store(rt.store).get("person", person["id"]).left_on is not None  # type: ignore[union-attr]

    back = httpx.post(f"{path}/return", headers=who, timeout=10)
    assert back.status_code == 200, back.text
    assert back.json()["left_on"] is None and back.json()["id_number"].startswith("*")
    assert back.json()["version"] == person["version"] + 2
    assert _people(srv, grid) == before  # back in the counts at once
    ids = [p["id"] for p in httpx.get(f"{srv.url}/api/basedata/people?area={grid}&limit=1000", headers=who,
                                         timeout=10).json()["items"]]  # fmt: skip
    assert person["id"] in ids
    audited = [r for r in rt.store.iter_audit() if r["action"] == "basedata.return"]
    assert [r["target"] for r in audited] == [person["id"]] and person["name"] not in (audited[0]["detail"] or "")
    assert httpx.post(f"{path}/return", headers=who, timeout=10).status_code == 409  # once is enough

    # moved out again and deleted by the sweep: nothing left to bring back
    assert httpx.delete(path, headers=who, timeout=10).status_code == 200
    later = rt.dispatcher.today() + timedelta(days=2)
    sweep = BaseDataRetention(rt.store, lambda: RetentionPolicy(moved_out_days=1, care_closed_days=0),
                              today=lambda: later)  # fmt: skip
    assert asyncio.run(sweep.sweep_once()).people == 1
    gone = httpx.post(f"{path}/return", headers=who, timeout=10)
    assert gone.status_code == 404, gone.text
    assert len([r for r in rt.store.iter_audit() if r["action"] == "basedata.return"]) == 1
