"""The city's current map: areas, grid index and workers, and swapping in a re-drawn map.

A re-drawn map (PUT /api/grids/map) replaces the city for new cases; the dispatcher
follows it. Readers take `.city` or `.index` once per answer, so a swap landing
meanwhile never mixes two maps in one answer.
"""

from __future__ import annotations

import logging
from pathlib import Path

from command_center.auth.scoping import AreaLocator
from command_center.config import Config
from dispatch.city import City, GridIndex, Worker, load_geojson, load_or_generate, load_saved_city, save_city
from dispatch.dispatcher import Dispatcher

log = logging.getLogger(__name__)
SAVED_MAP = "city/map.geojson"  # under data_dir: a re-drawn map, preferred over the configured one


def load_city(config: Config) -> City:
    """The re-drawn map saved earlier, else the configured GeoJSON, else the generated city."""
    saved = load_saved_city(config.server.data_dir / SAVED_MAP)
    if saved is not None:
        log.info("using the re-drawn map saved at %s", config.server.data_dir / SAVED_MAP)
        return saved
    if config.city.geojson is not None:
        return load_geojson(config.city.geojson)
    gen = config.city.generator
    assert gen is not None
    return load_or_generate(gen.seed, gen.districts, cache_dir=config.server.data_dir / "cache")


class CityMap:
    def __init__(self, city: City, data_dir: Path) -> None:
        self.city = city
        self.index = GridIndex(city)
        self.workers: dict[str, Worker] = {w.id: w for w in city.workers}
        self.saved_path = data_dir / SAVED_MAP
        # Positions → grid codes, for scoping; reads the index at each call, so it follows a swap.
        self.area_of = AreaLocator(lambda: self.index)
        self.dispatcher: Dispatcher | None = None  # set by `follow`: new cases go on the current map

    def follow(self, dispatcher: Dispatcher) -> None:
        """The dispatcher places new cases on this map, re-drawn or not."""
        self.dispatcher = dispatcher
        dispatcher.city, dispatcher.index = self.city, self.index

    def replace_city(self, city: City, persist: bool = True) -> GridIndex:
        """Swap in a re-drawn map for new cases (blocking: call it on a worker thread).

        The index is built and the map saved before anything is swapped, so lookups go
        on against the old map meanwhile and a failed save changes nothing. Open cases
        keep the grid code stored on them; only new intakes see the new map.
        """
        index = GridIndex(city)
        if persist:
            save_city(city, self.saved_path)
        self.city, self.index, self.workers = city, index, {w.id: w for w in city.workers}
        if self.dispatcher is not None:
            self.dispatcher.city, self.dispatcher.index = city, index
        return index
