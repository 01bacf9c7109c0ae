"""Registry changes reach every process over the store: versions bumped by a change, polled
by each node; and the import endpoint's refusals before any importer runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from command_center.config import parse_config
from command_center.registry.changes import Follower
from command_center.store import SQLiteStore, Store
from dispatch.city import City
from tests.helpers import ServerThread, auth_headers, serve_app


@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two processes' stores over one database file."""
    first, second = SQLiteStore(tmp_path / "cc.db"), SQLiteStore(tmp_path / "cc.db")
    yield first, second
    first.close()
    second.close()


def test_a_change_on_one_node_is_applied_on_the_other_at_its_next_poll(two_stores: tuple[Store, Store]) -> None:
    here, there = Follower(two_stores[0]), Follower(two_stores[1])
    applied: dict[str, list[str]] = {"here": [], "there": []}

    def recorder(node: str, part: str):  # type: ignore[no-untyped-def]
        async def apply() -> None:
            applied[node].append(part)

        return apply

    for node, follower in (("here", here), ("there", there)):
        follower.on("roster", recorder(node, "roster"))
        follower.on("cameras", recorder(node, "cameras"))
        follower.note_loaded()

    async def scenario() -> None:
        await here.changed("roster")
        assert applied == {"here": ["roster"], "there": []}  # the writer at once, the other not yet
        await there.poll()
        assert applied["there"] == ["roster"]
        await there.poll()  # nothing new: nothing applied again
        await here.poll()  # its own change is not applied twice
        assert applied == {"here": ["roster"], "there": ["roster"]}
        two_stores[1].bump_registry("cameras")  # e.g. `command-center import cameras` in a third process
        await here.poll()
        await there.poll()
        assert applied == {"here": ["roster", "cameras"], "there": ["roster", "cameras"]}

    asyncio.run(scenario())


def test_a_failing_applier_does_not_stop_the_others_and_unknown_parts_are_refused(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cc.db")
    follower = Follower(store)
    done: list[str] = []

    async def broken() -> None:
        raise RuntimeError("cannot apply")

    async def fine() -> None:
        done.append("fine")

    follower.on("matters", broken)
    follower.on("matters", fine)
    follower.note_loaded()
    asyncio.run(follower.changed("matters"))
    assert done == ["fine"] and store.registry_versions() == {"matters": 1}
    with pytest.raises(ValueError, match="unknown registry part"):
        follower.on("weather", fine)
    store.close()


def test_a_node_started_after_a_change_starts_from_it_and_does_not_reapply(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cc.db")
    store.bump_registry("calendar")
    late = Follower(store)
    calls: list[int] = []

    async def apply() -> None:
        calls.append(1)

    late.on("calendar", apply)
    late.note_loaded()  # it loads the calendar as it is now
    asyncio.run(late.poll())
    assert calls == []
    store.close()


@pytest.fixture
def server(tmp_path: Path, small_city: City) -> Iterator[ServerThread]:
    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}"})
    with serve_app(config, small_city) as running:
        yield running


def test_the_import_endpoint_refuses_what_no_importer_should_see(server: ServerThread) -> None:
    rt = server.app.state
    admin = auth_headers(rt)
    district = small_district(rt)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.post("/api/import/weather?filename=a.csv", content=b"x", headers=admin)
        assert answer.status_code == 404 and "roster" in answer.json()["detail"]
        answer = client.post("/api/import/roster?filename=roster.exe", content=b"x", headers=admin)
        assert answer.status_code == 400 and answer.json()["error"] == "bad filename"
        answer = client.post("/api/import/roster?filename=roster.csv", content=b"", headers=admin)
        assert answer.status_code == 400 and answer.json()["error"] == "empty file"
        officer = auth_headers(rt, role="officer")
        assert client.post("/api/import/roster?filename=r.csv", content=b"x", headers=officer).status_code == 403
        district_admin = auth_headers(rt, user="dadmin", jurisdiction=district)
        answer = client.post("/api/import/grids?filename=g.geojson", content=b"{}", headers=district_admin)
        assert answer.status_code == 403 and "city-wide" in answer.json()["detail"]
        assert client.post("/api/import/roster?filename=r.csv", content=b"x").status_code == 401


def small_district(state: object) -> str:
    city = state.city.city  # type: ignore[attr-defined]
    return str(city.districts[0].code[:6])
