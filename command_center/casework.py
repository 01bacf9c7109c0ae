"""bus → dispatch: incidents become cases, case actions, supervision, and the case view
that every announcement carries.

Incidents that queued up meanwhile become cases in one group commit (one fsync for
all); each case is announced only after that commit, so nothing announced can be
lost. Under light load a batch is a single incident: no added wait.

A batch whose commit fails (disk full, a lost database) is not acknowledged: it is
tried again in place with growing waits, and if it still fails it goes back to the bus
unacknowledged (bus.release: the in-process bus queues it again after a pause, Redis
keeps it pending for the reclaim, here or on another node). Every failure is logged with
the incident ids and counted (faults.py). The intake is idempotent by incident id, so a
retry never makes a second case.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from command_center import faults, i18n
from command_center.bus import Bus, batches, release
from command_center.events import Event
from command_center.iot_incidents import iot_intake
from command_center.store import CaseQuery, Store
from dispatch.cases import Case
from dispatch.city import City, Worker
from dispatch.dispatcher import Dispatcher, IntakeResult
from dispatch.intake import Intake

if TYPE_CHECKING:
    from command_center.jobs import Jobs

log = logging.getLogger(__name__)
INTAKE_BATCH = 64  # most incidents per group commit: a batch holds the store for ~50 ms
INTAKE_TRIES = 6  # in place (~6 s of waits) before a failing batch goes back to the bus


class CaseWork:
    def __init__(self, store: Store, dispatcher: Dispatcher, bus: Bus, counters: dict[str, int]) -> None:
        self.store = store
        self.dispatcher = dispatcher  # its city and index follow a re-drawn map
        self.bus = bus
        self.counters = counters
        self._workers: tuple[City, dict[str, Worker]] | None = None

    # incidents → cases
    async def take_in(self, subscription: Any) -> None:
        while True:
            try:
                async for events in batches(subscription, INTAKE_BATCH):
                    await self._take_batch(subscription, events)
                return  # the subscription was closed
            except Exception:  # reading failed (not an outage, which the bus rides out): read on
                self.counters["bus_errors"] += 1
                log.exception("dispatcher: reading incidents from the bus failed; reading again in 1 s")
                await asyncio.sleep(1.0)

    async def _take_batch(self, subscription: Any, events: list[Event]) -> None:
        taken = [e for e in events if e.type == "incident.created"]
        if not taken:
            return
        done = await self._intake_retrying([e.data for e in taken])
        if done is None:
            await release(subscription, taken)  # not acknowledged: handed out again later
            return
        for result, updated, again in done:
            counter = "incidents_redelivered" if again else "cases_created" if result.created else "cases_merged"
            self.counters[counter] += 1
            try:
                await self.publish_case(result.case, created=result.created)
                if updated is not None:
                    await self.bus.publish(Event("incidents", "incident.updated", updated))
            except Exception:  # the case is stored: only its announcement is missing (the wall reloads)
                self.counters["bus_errors"] += 1
                log.exception("announcing case %s of incidents %s failed", result.case.id, result.case.incident_ids)

    async def _intake_retrying(self, docs: list[dict[str, Any]]) -> list[Any] | None:
        """intake_batch until it commits, at most INTAKE_TRIES tries; None if it never did."""
        ids = [d.get("id") for d in docs]
        delay = faults.FIRST_DELAY_S
        for attempt in range(1, INTAKE_TRIES + 1):
            try:
                return await asyncio.to_thread(self.intake_batch, docs)
            except Exception as exc:
                if faults.is_store_error(exc):
                    self.counters["store_errors"] += 1
                log.error(
                    "dispatching incidents %s failed (try %d of %d): %s", ids, attempt, INTAKE_TRIES, exc,
                    exc_info=exc if attempt == 1 else None,
                )  # fmt: skip
            if attempt < INTAKE_TRIES:
                await asyncio.sleep(delay)
                delay = min(delay * 2, faults.MAX_DELAY_S)
        log.error("dispatching incidents %s still fails: handed back to the bus unacknowledged, to come again", ids)
        return None

    def intake_batch(self, docs: list[dict[str, Any]]) -> list[tuple[IntakeResult, dict[str, Any] | None, bool]]:
        """On a worker thread: each incident's case and its link back, in one transaction.

        A durable bus delivers at least once: an incident whose case is already stored (the
        process died after the commit, before the ack) is not taken in again; its case is
        announced once more instead, since that announcement may be what was lost."""
        out: list[tuple[IntakeResult, dict[str, Any] | None, bool]] = []
        intakes = [_intake_of(doc) for doc in docs]  # once: the prefetch and the loop share them
        with getattr(self.store, "batch", contextlib.nullcontext)():
            # The batch's dedupe reads, named up front: one round trip on PostgreSQL, not one per intake.
            self.dispatcher.prefetch_duplicates([i for i in intakes if isinstance(i, Intake)])
            for doc, intake in zip(docs, intakes, strict=True):
                stored = self.store.get_incident(doc["id"]) if doc.get("id") else None
                known = self.store.get_case(stored["case_id"]) if stored and stored.get("case_id") else None
                if known is not None:
                    out.append((IntakeResult(known, created=False), None, True))
                    continue
                if stored is None and doc.get("id"):
                    self._store_missing(doc)
                try:
                    if isinstance(intake, Exception):
                        raise intake  # a malformed incident: it fails alone, below
                    result = self.dispatcher.intake(intake)
                except Exception as exc:  # a bad incident must not sink the rest of its batch...
                    if faults.is_store_error(exc):
                        raise  # ...but a failing store sinks it all, to be tried again
                    log.exception("dispatching incident %s", doc.get("id"))
                    continue
                updated = None
                try:  # the case stands either way: announce it even if the link back fails
                    updated = self.store.update_incident(doc["id"], case_id=result.case.id)
                except Exception as exc:
                    if faults.is_store_error(exc):
                        raise
                    log.exception("linking incident %s to case %s", doc.get("id"), result.case.id)
                out.append((result, updated, False))
        return out

    def _store_missing(self, doc: dict[str, Any]) -> None:
        """The row of an incident whose own write failed (record_incident), stored with its case."""
        try:
            self.store.add_incident(doc)
        except Exception as exc:
            if faults.is_store_error(exc):
                raise  # the whole batch is tried again
            log.exception("incident %s: its row cannot be stored; its case is made without it", doc.get("id"))

    # actions and announcements
    async def act(self, case_id: str, action: str, actor: str, note: str = "", **changes: Any) -> Case:
        before, case = await asyncio.to_thread(self.dispatcher.step, case_id, action, actor, note, **changes)
        previous = before.assignee if before.assignee != case.assignee else None
        await self.publish_case(case, created=False, previous_assignee=previous)
        return case

    async def publish_case(self, case: Case, created: bool, previous_assignee: str | None = None) -> None:
        """Announce a case; `previous_assignee`, when it moved away from someone, so that their
        terminal drops it (hub_feed.task_posts)."""
        view = self.case_view(case)
        if previous_assignee:
            view["previous_assignee"] = previous_assignee
        await self.bus.publish(Event("cases", "case.created" if created else "case.updated", view))

    def case_view(self, case: Case) -> dict[str, Any]:
        view = case.to_dict()
        try:
            view["matter_name"] = self.dispatcher.matter_of(case).name  # its district's name for it
        except (KeyError, ValueError):
            view["matter_name"] = case.matter_code
        area = self.dispatcher.city.areas.get(case.grid_code)
        view["grid_name"] = area.name if area else None
        worker = self._worker(case.assignee) if case.assignee else None
        view["assignee_name"] = worker.name if worker else None
        # The dispatcher's clock, not the wall's: tests and replays inject it.
        view["overdue"] = case.is_open and self.dispatcher.clock() > case.deadline
        return view

    def _worker(self, worker_id: str) -> Worker | None:
        city = self.dispatcher.city
        if self._workers is None or self._workers[0] is not city:
            self._workers = (city, {w.id: w for w in city.workers})
        return self._workers[1].get(worker_id)

    # supervision (督办)
    def register(self, jobs: Jobs, every_s: float) -> None:
        """The sweep runs on one node of several: on each, it would announce every warning once per node."""
        jobs.add("supervision", lambda: self.supervise(every_s), singleton=True)

    async def supervise(self, every_s: float) -> None:
        """Warn once the configured share of an open case's time limit is used (dispatch.warn_at), escalate the overdue."""
        while True:
            try:
                await self.supervise_once()
            except Exception:  # the next sweep tries again; nothing is lost in between
                log.exception("supervision sweep failed")
            every_s = self.dispatcher.config.supervise_every_s  # the console may change it (registry/work_calendar.py)
            await asyncio.sleep(every_s)

    async def supervise_once(self) -> int:
        cases, _ = await asyncio.to_thread(self.store.list_cases, CaseQuery(open_only=True, limit=100_000))
        results = await asyncio.to_thread(self.dispatcher.supervise, cases)
        for result in results:
            view = self.case_view(result.case)
            await self.bus.publish(Event("cases", "case.updated", view))
            note = {"case": view, "kind": result.kind, "target": result.target}
            await self.bus.publish(Event("cases", f"case.{result.kind}", note))
        return len(results)


def _intake_of(doc: dict[str, Any]) -> Intake | Exception:
    """The doc's intake, or why it makes none (raised in the loop, where it fails alone)."""
    try:
        # a device's alarm (iot_incidents.py) or a camera's
        return iot_intake(doc) if doc.get("source") == "iot" else video_intake(doc)
    except Exception as exc:
        return exc


def video_intake(doc: dict[str, Any]) -> Intake:
    """A vision incident, as the dispatcher takes it in."""
    return Intake(
        source="video",
        lon=doc["location"]["lon"],
        lat=doc["location"]["lat"],
        ts=datetime.fromisoformat(doc["ts"]),
        ref_id=doc["id"],
        rule=doc["rule"],
        label=doc["label"],
        matter_code=doc.get("matter_code"),
        description=describe(doc),
        snapshot_url=doc["snapshot_url"],
    )


def describe(doc: dict[str, Any]) -> str:
    """A video case's description in words people read: 违章停车：车辆（体育西路口）. Incidents
    stored before they carried names get them from the catalogue; a camera without a name is
    left out rather than shown by its id."""
    rule = doc.get("rule_name") or i18n.name("rule", doc.get("rule"))
    label = doc.get("label_name") or i18n.name("label", doc.get("label"))
    text = f"{rule}：{label}" if rule and label else rule or label or ""
    camera = doc.get("camera_name")
    return f"{text}（{camera}）" if camera else text
