"""The city's current map: areas, grid index and workers; swapping in a re-drawn or
imported map, and re-reading the roster when it changes.

Where the map comes from (`load_map`): the latest map in the store (city_maps: imported
with `command-center import grids` or re-drawn), so every node loads the same one; else a
re-drawn map saved under data_dir; else the configured GeoJSON; else the generated city.
Who works where (`load_city`): the store's roster when it has any current assignment
(one Worker per (worker, grid), inactive workers left out, leave as `away`), else the
map's own workers (the generated sample, or a saved file's).

A re-drawn map (PUT /api/grids) replaces the city for new cases; the dispatcher
follows it. A registry change ("grids", "roster") runs `reload` on every node. Readers
take `.city` or `.index` once per answer, so a swap landing meanwhile never mixes two
maps in one answer.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson

from command_center.auth.scoping import AreaLocator
from command_center.config import Config
from command_center.store import Store
from command_center.store.roster_records import RosterState
from dispatch.city import (
    City,
    GridIndex,
    Worker,
    build_city,
    load_geojson,
    load_or_generate,
    load_saved_city,
    save_city,
    validate_map,
)
from dispatch.city.codes import LEVELS
from dispatch.city.geojson import city_to_geojson
from dispatch.city.persist import PRECISION
from dispatch.dispatcher import Dispatcher

log = logging.getLogger(__name__)
SAVED_MAP = "city/map.geojson"  # under data_dir: a re-drawn map, preferred over the configured one


def load_map(config: Config, store: Store | None = None) -> tuple[City, int | None]:
    """The map (with its own workers, if any) and the store's map number it came from."""
    if store is not None:
        latest = store.latest_city_map()
        if latest is not None:
            return city_from_doc(latest[1]), latest[0]
    saved = load_saved_city(config.server.data_dir / SAVED_MAP)
    if saved is not None:
        log.info("using the re-drawn map saved at %s", config.server.data_dir / SAVED_MAP)
        return saved, None
    if config.city.geojson is not None:
        return load_geojson(config.city.geojson), None
    gen = config.city.generator
    assert gen is not None
    return load_or_generate(gen.seed, gen.districts, cache_dir=config.server.data_dir / "cache"), None


def load_city(config: Config, store: Store | None = None) -> City:
    """The map (`load_map`) with the store's roster on it when the store has one."""
    city, _ = load_map(config, store)
    return with_roster(city, store) if store is not None else city


def city_from_doc(doc: str) -> City:
    """A map stored as GeoJSON text (validated again: a hand-edited row fails loudly)."""
    report = validate_map(orjson.loads(doc))  # 4× the standard library's speed on a city's map
    if not report.ok:
        raise ValueError("the stored grid map is invalid: " + "; ".join(str(p) for p in report.errors[:10]))
    return build_city(report)


def map_doc(city: City) -> str:
    """A city's areas of every level as stored in city_maps (no workers: they are the roster's)."""
    doc = city_to_geojson(city, levels=LEVELS, precision=PRECISION)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def with_roster(city: City, store: Store) -> City:
    """`city` with the store's current roster as its workers, or as it is when the store has none."""
    state = store.roster_state(leave_after=datetime.now(UTC).isoformat())
    return City(city.areas, roster_workers(state)) if state.assigned else city


def roster_workers(state: RosterState) -> list[Worker]:
    """One dispatch Worker per current (worker, grid) of the active workers."""
    out: list[Worker] = []
    for worker_id, grids in state.grids.items():
        row = state.workers.get(worker_id)
        if row is None or not row["active"]:
            continue
        away = tuple(
            (_instant(leave["starts"]), _instant(leave["ends"])) for leave in state.leave.get(worker_id, ())
        )
        for grid in grids:
            out.append(
                Worker(
                    id=worker_id, name=row["name"], grid_code=grid["grid_code"], kind=row["kind"],
                    shift=grid["shift"], phone=row["phone"], code=row["code"], level=row["level"], away=away,
                )
            )  # fmt: skip
    return out


def _instant(text: str) -> datetime:
    found = datetime.fromisoformat(text)
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


class CityMap:
    def __init__(self, city: City, data_dir: Path, store: Store | None = None) -> None:
        self.saved_path = data_dir / SAVED_MAP
        self.store = store
        # The store's map this one is (None: not from the store): a reload swaps the map
        # only when a newer one was stored; the roster it re-reads every time.
        self.map_seq = store.city_map_seq() if store is not None else None
        self.dispatcher: Dispatcher | None = None  # set by `follow`: new cases go on the current map
        self._set(city, GridIndex(city))
        # Positions → grid codes, for scoping; reads the index at each call, so it follows a swap.
        self.area_of = AreaLocator(lambda: self.index)
        self._reloading = threading.Lock()

    def _set(self, city: City, index: GridIndex) -> None:
        by_worker: dict[str, list[Worker]] = {}
        for worker in city.workers:
            by_worker.setdefault(worker.id, []).append(worker)
        self.city, self.index, self._by_worker = city, index, by_worker
        # id → the worker's first grid's Worker (one per person; grids_of gives them all)
        self.workers: dict[str, Worker] = {w: found[0] for w, found in by_worker.items()}
        if self.dispatcher is not None:
            self.dispatcher.city, self.dispatcher.index = city, index

    def grids_of(self, worker_id: str) -> list[Worker]:
        """The worker's Worker on each grid they serve now (empty for an unknown id)."""
        return list(self._by_worker.get(worker_id, ()))

    def follow(self, dispatcher: Dispatcher) -> None:
        """The dispatcher places new cases on this map, re-drawn or not."""
        self.dispatcher = dispatcher
        dispatcher.city, dispatcher.index = self.city, self.index

    def replace_city(self, city: City, persist: bool = True, by: str = "admin") -> GridIndex:
        """Swap in a re-drawn map for new cases (blocking: call it on a worker thread).

        The index is built and the map saved (under data_dir, and in the store, for every
        node) before anything is swapped, so lookups go on against the old map meanwhile
        and a failed save changes nothing. Open cases keep the grid code stored on them;
        only new intakes see the new map.
        """
        index = GridIndex(city)
        if persist:
            save_city(city, self.saved_path)
            if self.store is not None:
                self.map_seq = self.store.save_city_map(map_doc(city), by, "re-drawn")
        self._set(city, index)
        return index

    async def reload(self) -> None:
        """Re-read the map (when a newer one was stored) and the roster from the store, and
        swap them in: the registry's applier for "grids" and "roster" (registry/changes.py)."""
        if self.store is not None:
            await asyncio.to_thread(self._reload, self.store)

    def _reload(self, store: Store) -> None:
        with self._reloading:  # a poll and a local change may both ask: one at a time
            seq = store.city_map_seq()
            base, new_map = self.city, False
            if seq is not None and seq != self.map_seq:
                latest = store.latest_city_map()
                if latest is not None:
                    base, seq, new_map = city_from_doc(latest[1]), latest[0], True
            state = store.roster_state(leave_after=datetime.now(UTC).isoformat())
            # No roster in the store: the people of the map in use stay (a map moves lines, not people).
            city = City(base.areas, roster_workers(state) if state.assigned else list(self.city.workers))
            if new_map:
                index = GridIndex(city)
            else:  # same areas: the index's trees stand, only the city it answers with changes
                index = copy.copy(self.index)
                index.city = city
            self._set(city, index)
            self.map_seq = seq
            log.info(
                "city reloaded from the store: %d areas, %d workers on grids",
                len(city.areas),
                len(city.workers),
            )
