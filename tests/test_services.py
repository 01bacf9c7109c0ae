"""The runtime's small services on their own: jobs, the city map, the hub feed's task fan-out."""

from __future__ import annotations

import asyncio
from pathlib import Path

from command_center.bus import create_bus
from command_center.city_map import SAVED_MAP, CityMap
from command_center.events import Event
from command_center.hub_feed import task_posts
from command_center.jobs import Jobs
from dispatch.catalog import load_catalog
from dispatch.city import City, GridIndex
from dispatch.dispatcher import Dispatcher
from tests.helpers import ROOT


def test_jobs_run_from_start_added_later_too_and_stop() -> None:
    async def scenario() -> None:
        ran: list[str] = []

        async def job(name: str) -> None:
            ran.append(name)
            await asyncio.sleep(3600)

        jobs = Jobs(create_bus("memory"))
        jobs.add("early", lambda: job("early"))
        jobs.add("leader", lambda: job("leader"), singleton=True)  # the in-process bus: one node, it runs
        await asyncio.sleep(0)
        assert ran == []  # nothing before the start
        jobs.start()
        jobs.add("late", lambda: job("late"))
        await asyncio.sleep(0.01)
        assert sorted(ran) == ["early", "late", "leader"]
        await jobs.stop()
        assert jobs.names == ["early", "leader", "late"]

    asyncio.run(scenario())


def test_jobs_carry_the_counters_from_zero() -> None:
    jobs = Jobs(create_bus("memory"))
    assert jobs.counters["incidents"] == 0 and jobs.counters["cases_created"] == 0
    assert jobs.started_at > 0


def test_the_city_map_swaps_a_new_map_for_the_dispatcher_too(tmp_path: Path, small_city: City) -> None:
    catalog = load_catalog(ROOT / "configs" / "matters.yaml")
    city_map = CityMap(small_city, tmp_path)

    class Repo:  # the dispatcher is built here only to see the map it holds
        pass

    dispatcher = Dispatcher(small_city, GridIndex(small_city), catalog, Repo())  # type: ignore[arg-type]
    city_map.follow(dispatcher)
    assert dispatcher.index is city_map.index
    index = city_map.replace_city(small_city, persist=False)
    assert city_map.index is index and dispatcher.index is index and dispatcher.city is small_city
    assert not (tmp_path / SAVED_MAP).exists()  # not persisted when told not to
    worker = small_city.workers[0]
    assert city_map.workers[worker.id] is worker
    grid = small_city.grids[3]
    assert city_map.area_of(grid.lon, grid.lat) == grid.code


def test_a_case_with_an_assignee_goes_to_their_task_channel() -> None:
    created = Event("cases", "case.created", {"id": "C1", "assignee": "W1", "timeline": []})
    (post,) = task_posts(created, "440100")
    assert (post.channel, post.type, post.area) == ("tasks:W1", "task.assigned", "440100")
    accepted = Event("cases", "case.updated", {"id": "C1", "assignee": "W1", "timeline": [{"action": "accept"}]})
    assert [p.type for p in task_posts(accepted, None)] == ["task.updated"]
    transferred = Event("cases", "case.updated", {"id": "C1", "assignee": "W2", "timeline": [{"action": "transfer"}]})
    assert [(p.channel, p.type) for p in task_posts(transferred, None)] == [("tasks:W2", "task.assigned")]
    assert task_posts(Event("cases", "case.updated", {"id": "C1", "timeline": []}), None) == []
    assert task_posts(Event("incidents", "incident.created", {"assignee": "W1"}), None) == []


def test_simulated_workers_are_a_job_that_acts_through_casework() -> None:
    from command_center.config import WorkersConfig
    from command_center.simulate import add_simulated_workers

    class CaseWork:  # records what the simulated people do
        def __init__(self) -> None:
            self.acts: list[tuple[str, str, str]] = []

        async def act(self, case_id: str, action: str, actor: str, note: str = "") -> None:
            self.acts.append((case_id, action, actor))

    async def scenario() -> None:
        bus, casework = create_bus("memory"), CaseWork()
        jobs = Jobs(bus)
        add_simulated_workers(jobs, bus, casework, WorkersConfig(simulate=False))  # type: ignore[arg-type]
        assert jobs.names == []
        fast = WorkersConfig(simulate=True, accept_after_s=0, feedback_after_s=0, close_after_s=0)
        add_simulated_workers(jobs, bus, casework, fast)  # type: ignore[arg-type]
        await bus.start()
        jobs.start()
        await asyncio.sleep(0.01)
        await bus.publish(Event("cases", "case.created", {"id": "C1", "assignee": "W1", "state": "dispatched"}))
        for _ in range(100):
            if len(casework.acts) == 4:
                break
            await asyncio.sleep(0.05)
        await jobs.stop()
        await bus.close()
        assert [a for _, a, _ in casework.acts] == ["accept", "start", "feedback", "close"]
        assert casework.acts[0] == ("C1", "accept", "W1")

    asyncio.run(scenario())
