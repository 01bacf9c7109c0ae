"""The cross-analysis's kept sums (store/basedata_sums.py, migration 0032) on SQLite and
PostgreSQL: after the bulk import (on PostgreSQL its fast path, the sums' insert trigger off
and the table summed once after), a re-import merging changed rows, form edits (a person
moved to another household or grid, a household made rental, a building no longer rental),
a 迁出, its undoing and the retention sweep's deletes, the analysis read from the kept sums
equals the same analysis grouped over the records, per grid and per district, for this year
and another (who is 60 or more moves with the year asked)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from basedata.identity import id_check_char
from command_center.config import Config
from command_center.importing.basedata import KEY_ENV, import_files
from command_center.registry.imports import ImportContext, ImportOptions
from command_center.store import Store, create_store
from command_center.store.basedata_analysis import AreaFigures, by_area, grouped_by_area
from command_center.store.basedata_purge import moved_out
from command_center.store.basedata_records import BaseDataRecords, base_data_store
from dispatch.city import City
from tests.test_basedata_counts import _import
from tests.test_basedata_import import write_csv

TODAY = date.today()
SPAN = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
YEARS = (TODAY, date(TODAY.year - 12, 3, 1))  # this year, and one when fewer were 60


@pytest.fixture
def store(empty_store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "basedata.key"))
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def _same(records: BaseDataRecords) -> dict[str, AreaFigures]:
    """The kept analysis, asserted equal to the grouped one at two levels and two years."""
    for level in ("grid", "district"):
        for on in YEARS:
            assert by_area(records, level, "", on, *SPAN) == grouped_by_area(records, level, "", on, *SPAN), (level, on)
    return {r.code: r for r in by_area(records, "grid", "", TODAY, *SPAN)}


def _id_number(n: int, born: date) -> str:
    body = f"440106{born:%Y%m%d}{n % 1000:03d}"
    return body + id_check_char(body)


def _people(tmp_path: Path, count: int, shift: int = 0) -> Path:
    """People in the households of test_basedata_counts._import (B<n>-101): the first 30
    households two each, the rest one; born 1930 to 2009 (their ID numbers say so)."""
    rows = []
    for n in range(count):
        born = date(1930 + (n * 7 + shift) % 80, 1 + n % 12, 1 + n % 28)
        rows.append([f"P{n}", f"B{n % 60}-101", "张三", _id_number(n, born)])
    return write_csv(tmp_path / "p.csv", ["人员编号", "户编号", "姓名", "公民身份号码"], rows)


def test_the_kept_sums_equal_the_grouping_through_every_kind_of_write(
    store: Store, small_city: City, tmp_path: Path
) -> None:
    records = base_data_store(store)
    grid_a, grid_b = small_city.grids[0].code, small_city.grids[1].code
    _import(store, small_city, tmp_path, 60)  # addresses, buildings (15 rental), households (15 rental)
    result = import_files([_people(tmp_path, 90)], ImportContext(store, small_city, Config()), ImportOptions())
    assert result.applied, result.problems  # on PostgreSQL the people table is loaded by the fast path
    first = _same(records)
    assert sum(r.residents for r in first.values()) == 90 and sum(r.rental_buildings for r in first.values()) == 15
    assert sum(r.elderly_alone for r in first.values()) > 0  # some of the 30 living alone are 60 or more

    again = import_files([_people(tmp_path, 100, shift=3)], ImportContext(store, small_city, Config()), ImportOptions())
    assert again.applied, again.problems  # 90 merged with new birth dates, 10 new: the triggers' path
    _same(records)

    def person(key: str, kind: str = "person") -> int:
        found = records.get(kind, key)
        assert found is not None
        return found.version

    records.update("person", "P0", {"household_id": "B59-101"}, person("P0"), by="worker")  # B0 left alone, B59 not
    records.update("person", "P1", {"grid_code": grid_b}, person("P1"), by="worker")  # counted in another grid
    records.update("person", "P2", {"birth_date": date(1940, 5, 5)}, person("P2"), by="worker")
    records.update("household", "B1-101", {"kind": "rental"}, person("B1-101", "household"), by="worker")
    records.update("building", "B0", {"rental": False}, person("B0", "building"), by="worker")
    _same(records)

    for key in ("P3", "P33", "P45"):  # 迁出: P3's housemate P63 now lives alone
        records.update("person", key, {"left_on": TODAY}, person(key), by="worker")
    moved = _same(records)
    records.update("person", "P33", {"left_on": None}, person("P33"), by="worker")  # a 迁出 undone
    _same(records)
    assert moved_out(records.store, TODAY + timedelta(days=1)).people == 2  # the sweep deletes P3 and P45
    after = _same(records)
    assert sum(r.residents for r in after.values()) == sum(r.residents for r in moved.values()) + 1
    assert grid_a in after
