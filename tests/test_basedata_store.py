"""The base-data records in the store (store/basedata_records.py) on SQLite and PostgreSQL:
upsert in one transaction, per-grid counts by the database, compare-and-set updates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from basedata.model import Address, Building, Household, Organisation, Person, Record, Sealed
from command_center.store import Store, create_store
from command_center.store.basedata_records import (
    CHUNK,
    BaseDataRecords,
    Parent,
    RecordNotFound,
    VersionConflict,
    base_data_store,
    grid_range,
)
from command_center.store.basedata_schema import KEYS

G1, G2, G3 = "440106001001001", "440106001001002", "440106002001001"
G9, G_NEXT = "440106999000001", "440107000000001"  # either side of prefix 4401069's upper bound


@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def _sealed(n: int) -> Sealed:
    return Sealed(cipher=f"v1:c{n}", index=f"{n:064x}", tail=f"{n % 10000:04d}")


def _address(code: str, grid: str, checked: date | None = date(2026, 1, 1)) -> Address:
    return Address(code=code, grid_code=grid, text=f"体育西路{code}号", lon=113.3215, lat=23.1378,
                   verified_at=date(2025, 10, 1), next_check_at=checked)  # fmt: skip


def _building(code: str, grid: str, rental: bool = False) -> Building:
    return Building(code=code, grid_code=grid, address_code="A1", name="", floors=9, rental=rental,
                    lon=113.32, lat=23.13, next_check_at=date(2026, 6, 1))  # fmt: skip


def _person(n: int, grid: str = G1, household: str = "B1-101") -> Person:
    return Person(id=f"P{n}", grid_code=grid, household_id=household, name="张三", id_number=_sealed(n),
                  phone=_sealed(n + 1) if n % 2 else None, sex="M", birth_date=date(1950, 3, 4),
                  kind="migrant", arrival_date=date(2020, 5, 6), next_check_at=date(2026, 2, 1))  # fmt: skip


def _code(record: Record) -> str:
    assert isinstance(record, Address | Building)
    return record.code


def _district() -> list[tuple[str, list[Record]]]:
    return [
        ("address", [_address("A1", G1), _address("A2", G1, None), _address("A3", G2), _address("A9", G9),
                     _address("A10", G_NEXT)]),
        ("building", [_building("B1", G1, rental=True), _building("B2", G3)]),
        ("household", [Household(id="B1-101", grid_code=G1, building_code="B1", room="101", kind="rental"),
                       Household(id="B2-101", grid_code=G3, building_code="B2", room="101")]),
        ("person", [_person(1), _person(2), _person(3, G3, "B2-101")]),
        ("organisation", [Organisation(id="O1", grid_code=G2, name="一家店", address_code="A3",
                                       credit_code="91440101MA59XXXX0X".replace("X", "1"), contact_phone=_sealed(7))]),
    ]  # fmt: skip


def test_upsert_round_trips_every_kind_and_a_second_upsert_bumps_the_version(store: Store) -> None:
    records = base_data_store(store)
    assert records.upsert_all(_district(), by="test") == {
        "address": 5, "building": 2, "household": 2, "person": 3, "organisation": 1,
    }  # fmt: skip
    for kind, items in _district():
        for item in items:
            key = getattr(item, KEYS[kind])
            assert records.get(kind, key) == item, (kind, key)
    assert records.get("person", "nobody") is None
    changed = _person(1).model_copy(update={"name": "李四"})
    assert records.upsert("person", [changed], by="test") == 1
    again = records.get("person", "P1")
    assert again is not None and again.version == 2 and isinstance(again, Person) and again.name == "李四"
    with pytest.raises(ValueError, match="unknown base-data kind"):
        records.get("street", "x")


def test_counts_by_grid_are_grouped_by_the_database_under_a_prefix(store: Store) -> None:
    records = base_data_store(store)
    records.upsert_all(_district(), by="test")
    today = date(2026, 3, 1)
    by_grid = {row["grid_code"]: row for row in records.counts_by_grid("440106", today=today)}
    assert sorted(by_grid) == [G1, G2, G3, G9]  # not 440107…: past the prefix
    # G1: A1 due 2026-01-01 and A2 never checked (overdue), B1 not yet, B1-101 never checked,
    # P1 and P2 due 2026-02-01 (overdue).
    assert by_grid[G1] == {"grid_code": G1, "addresses": 2, "buildings": 1, "households": 1, "people": 2,
                           "organisations": 0, "overdue": 5}  # fmt: skip
    assert by_grid[G2] == {"grid_code": G2, "addresses": 1, "buildings": 0, "households": 0, "people": 0,
                           "organisations": 1, "overdue": 2}  # fmt: skip
    assert [r["grid_code"] for r in records.counts_by_grid("4401069", today=today)] == [G9]
    assert [r["grid_code"] for r in records.counts_by_grid("", today=today)] == [G1, G2, G3, G9, G_NEXT]
    early = {r["grid_code"]: r["overdue"] for r in records.counts_by_grid("440106001", today=date(2025, 1, 1))}
    assert early == {G1: 2, G2: 1}  # only the never-checked ones (A2, B1-101; O1)
    assert grid_range("4401069") == {"lo": "4401069", "hi": "440107"}
    with pytest.raises(ValueError, match="digits"):
        records.counts_by_grid("44%")


def test_lists_pages_and_due_records_and_lookups(store: Store) -> None:
    records = base_data_store(store)
    records.upsert_all(_district(), by="test")
    assert [_code(a) for a in records.list("address", "440106", limit=2)] == ["A1", "A2"]
    assert [_code(a) for a in records.list("address", "440106", limit=2, offset=2)] == ["A3", "A9"]
    due = records.list("address", "440106001", due_before=date(2026, 3, 1))
    assert [_code(a) for a in due] == ["A2", "A1", "A3"]  # never checked first
    found = records.find_person_by_index(f"{1:064x}")
    assert [p.id for p in found] == ["P1"] and found[0].id_number == _sealed(1)
    assert records.existing("building", ["B1", "B2", "B404"]) == {"B1": Parent(G1, True), "B2": Parent(G3, False)}
    assert records.existing("household", ["B1-101", "B2-101"]) == {
        "B1-101": Parent(G1, True), "B2-101": Parent(G3, False),
    }  # fmt: skip
    many = [f"X{i}" for i in range(1200)] + ["A3"]  # past one lookup chunk
    assert records.existing("address", many) == {"A3": Parent(G2, False)}
    assert records.has_sealed()


def test_an_update_is_a_compare_and_set_on_the_version(store: Store) -> None:
    records = base_data_store(store)
    records.upsert("person", [_person(1)], by="import")
    first = records.update("person", "P1", {"name": "王五", "phone": _sealed(99)}, expected_version=1, by="w1")
    assert isinstance(first, Person) and (first.version, first.name, first.phone) == (2, "王五", _sealed(99))
    assert records.get("person", "P1") == first
    with pytest.raises(VersionConflict) as conflict:
        records.update("person", "P1", {"name": "赵六"}, expected_version=1, by="w2")  # a stale form
    assert conflict.value.current == first
    assert records.get("person", "P1") == first  # not overwritten
    with pytest.raises(ValueError):
        records.update("person", "P1", {"sex": "X"}, expected_version=2, by="w1")
    with pytest.raises(ValueError, match="not changed"):
        records.update("person", "P1", {"id": "P2"}, expected_version=2, by="w1")
    with pytest.raises(RecordNotFound):
        records.update("person", "P404", {"name": "x"}, expected_version=1, by="w1")
    assert records.get("person", "P1") == first


def _failing(count: int) -> Iterator[Record]:
    for n in range(count):
        yield _person(n)
    raise RuntimeError("the file broke off")


def test_upserts_are_all_or_nothing(store: Store) -> None:
    records: BaseDataRecords = base_data_store(store)
    with pytest.raises(RuntimeError, match="broke off"):
        records.upsert("person", _failing(CHUNK + 500), by="import")  # one chunk was already sent
    assert records.get("person", "P0") is None and records.counts_by_grid() == []
    with pytest.raises(RuntimeError):
        records.upsert_all([("address", [_address("A1", G1)]), ("person", _failing(3))], by="import")
    assert records.get("address", "A1") is None and not records.has_sealed()
    with pytest.raises(RuntimeError):
        records.upsert_mixed((("person", p) for p in _failing(CHUNK * 2 + 1)), by="sample")
    assert records.counts_by_grid() == []
    mixed = [("address", _address("A1", G1)), *(("person", _person(n)) for n in range(CHUNK + 5))]
    assert records.upsert_mixed(mixed, by="sample") == {"address": 1, "person": CHUNK + 5}
    assert records.counts_by_grid(G1, today=date(2026, 3, 1))[0]["people"] == CHUNK + 5
    twice = [_person(n) for n in range(20)] + [_person(3).model_copy(update={"name": "后来"})]
    assert records.upsert("person", twice, by="x") == 21  # (PostgreSQL: the COPY path)
    later = records.get("person", "P3")
    assert isinstance(later, Person) and later.name == "后来"  # the last one wins, as one after the other
    with pytest.raises(TypeError):
        base_data_store(object())
