"""The per-grid counts the database keeps (store/basedata_counts.py, migration 0022's
triggers): exactly the GROUP BY over the records after every kind of write (the bulk
import's COPY and merge, an upsert, a form's update, a move-out, the retention sweep's
delete), for any day asked, before and after a roll; and a roll never waits for a writer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from basedata.model import Address, Building, Household, Person, Sealed
from command_center.config import Config
from command_center.importing.basedata import KEY_ENV, import_files
from command_center.registry.imports import ImportContext, ImportOptions
from command_center.store import Store, create_store
from command_center.store.basedata_counts import direct, roll
from command_center.store.basedata_purge import moved_out
from command_center.store.basedata_records import BaseDataRecords, base_data_store
from dispatch.city import City
from tests.test_basedata_import import write_csv

TODAY = date.today()
DAYS = [TODAY - timedelta(days=400), TODAY - timedelta(days=20), TODAY, TODAY + timedelta(days=45),
        TODAY + timedelta(days=400)]  # fmt: skip


@pytest.fixture
def store(empty_store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "basedata.key"))
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def _exact(records: BaseDataRecords, prefix: str = "") -> list[dict[str, int | str]]:
    """The kept counts, asserted equal to the grouped ones on every day of DAYS."""
    for day in DAYS:
        assert records.counts_by_grid(prefix, day) == direct(records, prefix, day), day
    return records.counts_by_grid(prefix, TODAY)


def _import(store: Store, city: City, tmp_path: Path, buildings: int, shift: int = 0) -> None:
    """A grid's addresses, buildings, households and people by the bulk path, checked `shift`
    days apart so their next checks spread over many days."""
    grid_a, grid_b = city.grids[0].code, city.grids[1].code
    day = [(TODAY - timedelta(days=(n * 7 + shift) % 120)).isoformat() for n in range(buildings)]
    files = [
        write_csv(tmp_path / "a.csv", ["code", "text", "lon", "lat", "grid_code", "verified_at"],
                  [[f"A{n}", f"路{n}号", "113.3", "23.1", grid_a if n % 3 else grid_b, day[n]] for n in range(buildings)]),
        write_csv(tmp_path / "b.csv", ["code", "address_code", "floors", "rental", "lon", "lat", "verified_at"],
                  [[f"B{n}", f"A{n}", "6", "是" if n % 4 == 0 else "否", "113.3", "23.1", day[n]] for n in range(buildings)]),
        write_csv(tmp_path / "h.csv", ["building_code", "room", "kind", "verified_at"],
                  [[f"B{n}", "101", "出租" if n % 4 == 0 else "自住", day[n]] for n in range(buildings)]),
    ]  # fmt: skip
    result = import_files(files, ImportContext(store, city, Config()), ImportOptions())
    assert result.applied, result.problems


def _person(n: int, grid: str, next_check: date | None) -> Person:
    sealed = Sealed(cipher=f"v1:c{n}", index=f"{n:064x}", tail="0000")
    return Person(id=f"P{n}", grid_code=grid, household_id="B0-101", name="张三", id_number=sealed, sex="M",
                  birth_date=date(1980, 1, 1), next_check_at=next_check)  # fmt: skip


def test_the_kept_counts_stay_exact_through_every_kind_of_write(
    store: Store, small_city: City, tmp_path: Path
) -> None:
    records = base_data_store(store)
    grid_a, grid_b, grid_c = (g.code for g in small_city.grids[:3])
    _import(store, small_city, tmp_path, 60)  # 60 rows a file: PostgreSQL's COPY path
    counted = {r["grid_code"]: r for r in _exact(records)}
    assert counted[grid_a]["buildings"] == 40 and counted[grid_b]["households"] == 20
    _import(store, small_city, tmp_path, 80, shift=3)  # 60 stored (merged, re-dated), 20 new
    assert {r["grid_code"]: r["buildings"] for r in _exact(records)} == {grid_a: 53, grid_b: 27}

    people = [
        _person(n, grid_c if n % 2 else grid_a, TODAY + timedelta(days=n - 10) if n % 5 else None)
        for n in range(30)
    ]
    records.upsert("person", people, by="test")  # the model path's own upsert (COPY and merge on PostgreSQL)
    assert {r["grid_code"]: r["people"] for r in _exact(records)}[grid_c] == 15
    records.upsert(
        "address", [Address(code="A900", grid_code=grid_c, text="新路", lon=113.3, lat=23.1)], by="t"
    )
    records.update("person", "P1", {"next_check_at": TODAY - timedelta(days=3)}, 1, by="worker")  # re-dated
    records.update("person", "P2", {"grid_code": grid_c}, 1, by="worker")  # moved to another grid
    records.update("person", "P3", {"left_on": TODAY}, 1, by="worker")  # 迁出: counted no more
    records.update("building", "B7", {"name": "改名"}, 2, by="worker")  # nothing counted changes
    after = {r["grid_code"]: r for r in _exact(records)}
    assert after[grid_c]["people"] == 15 and after[grid_c]["addresses"] == 1
    assert moved_out(records.store, TODAY + timedelta(days=1)).people == 1  # the sweep deletes P3
    _exact(records)
    empty = Household(id="B0-999", grid_code=grid_b, building_code="B0", room="999")
    records.upsert_all(
        [
            ("household", [empty]),
            (
                "building",
                [Building(code="B0", grid_code=grid_b, address_code="A0", floors=1, lon=113.3, lat=23.1)],
            ),
        ],
        by="t",
    )
    _exact(records)


def test_a_roll_counts_for_another_day_and_reads_stay_exact(
    store: Store, small_city: City, tmp_path: Path
) -> None:
    records = base_data_store(store)
    _import(store, small_city, tmp_path, 40)
    later = TODAY + timedelta(days=30)
    before = records.counts_by_grid("", later)
    assert roll(records, "", later) == len(before) > 0  # every grid counted for that day now
    assert records.counts_by_grid("", later) == before == direct(records, "", later)
    _exact(records)  # any other day still right: the due-days in between are summed
    records.counts_by_grid("", TODAY)  # the real today: rolled back to it in passing
    assert roll(records, "", TODAY) == 0
    _exact(records)


def test_a_roll_skips_the_grids_a_writer_holds(store: Store, small_city: City, tmp_path: Path) -> None:
    if store.dialect != "postgresql":  # type: ignore[attr-defined]
        pytest.skip("SQLite has one writer at a time: nothing to skip")
    records = base_data_store(store)
    _import(store, small_city, tmp_path, 30)
    grids = len(records.counts_by_grid("", TODAY))
    held, release = threading.Event(), threading.Event()

    def writer() -> None:  # a worker's form in grid A, its transaction left open a while
        with store._writing() as db:  # type: ignore[attr-defined]
            db.execute(
                "UPDATE addresses SET next_check_at = %(d)s WHERE code = 'A1'", {"d": TODAY.isoformat()}
            )
            held.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(10)
        assert roll(records, "", TODAY + timedelta(days=9)) == grids - 1  # at once, without the held grid
    finally:
        release.set()
        thread.join()
    _exact(records)


def test_a_first_load_into_a_table_someone_reads_goes_row_by_row(
    store: Store, small_city: City, tmp_path: Path
) -> None:
    """An empty table is taken for a first load only if it is free: a reader holding it now
    makes the import write it row by row, its counts kept by the trigger, without failing."""
    if store.dialect != "postgresql":  # type: ignore[attr-defined]
        pytest.skip("SQLite takes every import row by row")
    records = base_data_store(store)
    held, release = threading.Event(), threading.Event()

    def reader() -> None:  # a long read of the buildings, its transaction open
        with store._reading() as db, db.transaction():  # type: ignore[attr-defined]
            db.execute("SELECT count(*) FROM buildings").fetchone()
            held.set()
            release.wait(20)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        _import(store, small_city, tmp_path, 50)  # addresses taken, not the buildings (LOCK_WAIT)
        assert time.monotonic() - started >= 2  # it waited for the buildings, then went on without them
    finally:
        release.set()
        thread.join()
    counted = {r["grid_code"]: r for r in _exact(records)}
    assert sum(int(r["buildings"]) for r in counted.values()) == 50
