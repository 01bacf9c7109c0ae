"""The building layer's box query (store/basedata_map.py) on an index (migration 0022's
buildings_place, lat, lon, grid_code, code): the right buildings, cut at the limit by code,
and on both databases the plan reads the box from that index, not a district's buildings."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date

import pytest

from basedata.model import Building
from command_center.store import Store, create_store
from command_center.store.basedata_map import BBox, _sql, buildings_in
from command_center.store.basedata_records import base_data_store

GRIDS = [f"440106{n:09d}" for n in range(1, 41)]
BOX = BBox(113.30, 23.10, 113.31, 23.11)
PARAMS = {"lo": "440106", "hi": "440107", "west": BOX.west, "south": BOX.south, "east": BOX.east,
          "north": BOX.north, "limit": 5001, "due": "2026-03-01"}  # fmt: skip


@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def _district(count: int) -> list[Building]:
    """Buildings strewn over a 0.1° square around the box, a few in another district."""
    rng = random.Random(5)
    return [
        Building(code=f"B{n:05d}", grid_code="440107000000001" if n % 97 == 0 else rng.choice(GRIDS),
                 address_code=f"A{n}", floors=3, lon=round(113.25 + rng.random() * 0.1, 6),
                 lat=round(23.05 + rng.random() * 0.1, 6))
        for n in range(count)
    ]  # fmt: skip


def _inside(b: Building, prefix: str = "440106") -> bool:
    return (
        BOX.west <= b.lon <= BOX.east and BOX.south <= b.lat <= BOX.north and b.grid_code.startswith(prefix)
    )


def test_the_box_holds_exactly_the_buildings_inside_it_cut_by_code(store: Store) -> None:
    records = base_data_store(store)
    every = _district(3000)
    records.upsert("building", every, by="test")
    wanted = sorted(b.code for b in every if _inside(b))
    found, more = buildings_in(records, BOX, "440106", today=date(2026, 3, 1))
    assert [b.code for b in found] == wanted and not more and len(wanted) > 10
    cut, more = buildings_in(records, BOX, "440106", limit=5, today=date(2026, 3, 1))
    assert [b.code for b in cut] == wanted[:5] and more


def _plan(store: Store) -> str:
    dialect = store.dialect  # type: ignore[attr-defined]
    explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    with store._reading() as db:  # type: ignore[attr-defined]
        if dialect == "postgresql":
            db.execute("ANALYZE buildings")
        rows = db.execute(explain + _sql(dialect), PARAMS).fetchall()
    return "\n".join(str(row[-1] if dialect == "sqlite" else row[0]) for row in rows)


def test_the_box_is_read_from_the_place_index(store: Store) -> None:
    records = base_data_store(store)
    records.upsert("building", _district(20_000), by="test")
    plan = _plan(store)
    assert "buildings_place" in plan, plan
