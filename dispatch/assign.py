"""Who gets a case: an on-duty worker of the grid, least loaded, with fallbacks upward."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from dispatch.city import City, Worker

LoadOf = Callable[[Iterable[str]], dict[str, int]]


def candidate_tiers(city: City, grid_code: str) -> Iterator[list[Worker]]:
    """The grid's own workers first, then the community's other grids (the community
    station), then the street's. Lazy: walking a street's grids cost more than the
    rest of an intake, and the grid's own tier almost always has someone on duty."""
    yield list(city.workers_by_grid.get(grid_code, ()))
    area = city.areas.get(grid_code)
    parent = area.parent if area else None
    for _ in range(2):  # community, then street
        if parent is None or parent not in city.areas:
            break
        grids = _grids_under(city, parent)
        yield [w for g in grids if g != grid_code for w in city.workers_by_grid.get(g, ())]
        parent = city.areas[parent].parent


def _grids_under(city: City, code: str) -> list[str]:
    out: list[str] = []
    stack = [code]
    while stack:
        current = stack.pop()
        children = city.children(current)
        if not children and city.areas[current].level == "grid":
            out.append(current)
        stack.extend(child.code for child in children)
    return out


def pick_worker(city: City, grid_code: str, at_local: datetime, load_of: LoadOf) -> Worker | None:
    for tier in candidate_tiers(city, grid_code):
        on_duty = [w for w in tier if w.on_duty(at_local)]
        if not on_duty:
            continue
        if len(on_duty) == 1:  # the grid's one worker on duty (most intakes): no load to compare
            return on_duty[0]
        load = load_of(w.id for w in on_duty)
        return min(on_duty, key=lambda w: (load.get(w.id, 0), w.kind != "full_time", w.id))
    return None
