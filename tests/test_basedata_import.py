"""Importing a grid's base data from CSV and XLSX (importing/basedata.py): every bad row
named with file, row and column and nothing written; good files in one go, parents
first, next checks by the cycles; ID numbers and phones never stored in the clear."""

from __future__ import annotations

import csv
import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from basedata.identity import credit_check_char, id_check_char
from basedata.model import Household, Organisation, Person
from basedata.protect import FieldCipher, FieldKey
from command_center.cli import main
from command_center.config import Config
from command_center.importing.basedata import KEY_ENV, import_files, infer_kind
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult
from command_center.store import Store, create_store
from command_center.store.basedata_records import base_data_store
from dispatch.city import City

TODAY = date(2026, 3, 1)
ID1 = "44010619800101001" + id_check_char("44010619800101001")  # a man (001: odd)
ID2 = "11010519491231002X"  # GB 11643's own example: a woman born 1949-12-31
ID3 = "44010620000229002" + id_check_char("44010620000229002")
BAD_CHECK = ID1[:17] + ("0" if ID1[17] != "0" else "1")
PHONE = "13812345678"
CREDIT = "91440106MA59C0XY1" + credit_check_char("91440106MA59C0XY1")


@dataclass
class World:
    store: Store
    context: ImportContext
    dir: Path
    key: Path
    grid_a: str
    grid_b: str
    db: Path


@pytest.fixture
def world(tmp_path: Path, small_city: City, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    key = tmp_path / "keys" / "basedata.key"
    monkeypatch.setenv(KEY_ENV, str(key))
    db = tmp_path / "cc.db"
    store = create_store(f"sqlite:///{db}")
    context = ImportContext(store, small_city, Config())
    yield World(store, context, tmp_path, key, small_city.grids[0].code, small_city.grids[1].code, db)
    store.close()


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["天河区实有房屋登记表"])  # a title row above the header, as sheets have
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _run(world: World, files: list[Path], skip_bad: bool = False) -> ImportResult:
    return import_files(files, world.context, ImportOptions(skip_bad=skip_bad), today=TODAY)


def _good_files(world: World) -> list[Path]:
    d, a, b = world.dir, world.grid_a, world.grid_b
    return [  # people first: the import orders them
        write_csv(d / "people.csv", ["户编号", "姓名", "公民身份号码", "手机号", "人员类型", "来穗日期", "核实日期"], [
            ["B1-101", "张三", ID1, PHONE, "来穗", "2020-05-06", "2026-01-10"],
            ["B2-1203", "李四", ID2.lower(), "", "户籍", "", "2026/1/10"],
        ]),
        write_csv(d / "addresses.csv", ["标准地址编码", "标准地址", "经度", "纬度", "网格编码"], [
            ["A1", "天河路1号", "113.33", "23.13", a], ["A2", "天河路2号", "113.34", "23.14", b],
        ]),
        write_csv(d / "buildings.csv", ["建筑物编码", "标准地址编码", "建筑物名称", "层数", "出租屋", "经度", "纬度"], [
            ["B1", "A1", "一栋", "9", "是", "113.33", "23.13"], ["B2", "A2", "二栋", "12", "否", "113.34", "23.14"],
        ]),
        write_xlsx(d / "households.xlsx", ["建筑物编码", "户室号", "房屋类型", "核实日期"], [
            ["B1", "101", "出租", "2026-01-10"], ["B2", "1203", "自住", ""],
        ]),
        write_csv(d / "organisations.csv", ["单位名称", "统一社会信用代码", "单位类型", "标准地址编码", "联系电话"], [
            ["一家店", CREDIT, "商铺", "A1", "020-87654321"],
        ]),
    ]  # fmt: skip


def test_good_files_import_together_parents_first_with_next_checks(world: World) -> None:
    files = _good_files(world)
    assert [infer_kind(f) for f in files] == ["person", "address", "building", "household", "organisation"]
    result = _run(world, files)
    assert result.problems == [] and result.applied
    assert {k: v for k, v in result.counts.items() if not k.endswith("_updated")} == {
        "address": 2, "building": 2, "household": 2, "person": 2, "organisation": 1,
    }  # fmt: skip
    records = base_data_store(world.store)
    rental = records.get("household", "B1-101")
    assert isinstance(rental, Household) and rental.grid_code == world.grid_a  # from its building, from A1
    assert rental.next_check_at == date(2026, 2, 9)  # rental: 30 days
    owned = records.get("household", "B2-1203")
    assert owned is not None and (owned.verified_at, owned.next_check_at) == (TODAY, date(2026, 5, 30))
    people = records.list("person", world.grid_a)
    assert len(people) == 1 and isinstance(people[0], Person)
    zhang = people[0]
    assert (zhang.name, zhang.sex, zhang.birth_date, zhang.kind) == ("张三", "M", date(1980, 1, 1), "migrant")
    assert zhang.next_check_at == date(2026, 2, 9)  # lives in a rental household: monthly
    li = records.list("person", world.grid_b)[0]
    assert isinstance(li, Person) and li.next_check_at == date(2026, 4, 10) and li.phone is None
    cipher = FieldCipher(FieldKey.load(world.key))
    assert cipher.open("id_number", zhang.id_number) == ID1 and zhang.id_number.tail == ID1[-4:]
    assert zhang.phone is not None and cipher.open("phone", zhang.phone) == PHONE
    assert cipher.open("id_number", li.id_number) == ID2  # x normalised to X
    assert [p.id for p in records.find_person_by_index(cipher.index("id_number", ID1))] == [zhang.id]
    shop = records.list("organisation", world.grid_a)[0]
    assert isinstance(shop, Organisation) and shop.id == CREDIT and shop.kind == "shop"
    assert stat.S_IMODE(world.key.stat().st_mode) == 0o600  # made on first use
    counts = {r["grid_code"]: r for r in records.counts_by_grid(world.grid_a[:6], today=TODAY)}
    assert (counts[world.grid_a]["people"], counts[world.grid_a]["buildings"]) == (1, 1)

    again = _run(world, [files[0]])  # the same people again: updated, not doubled
    assert again.applied and again.counts["person"] == 2 and again.counts["person_updated"] == 2
    stored = records.get("person", zhang.id)
    assert stored is not None and stored.version == 2


def test_id_numbers_and_phones_are_not_in_the_database_file(world: World) -> None:
    assert _run(world, _good_files(world)).applied
    world.store.close()
    stored = b"".join(p.read_bytes() for p in world.dir.glob("cc.db*"))
    assert "张三".encode() in stored  # the file holds the rows: the test can see them
    for secret in (ID1, ID2, ID2.lower(), PHONE, "87654321"):
        assert secret.encode() not in stored, secret
    world.store = create_store(f"sqlite:///{world.db}")  # for the fixture's close


def _problems(result: ImportResult) -> list[tuple[str, int | None, str | None]]:
    return [(p.file, p.row, p.column) for p in result.problems]


def _message(result: ImportResult, file: str, row: int, column: str) -> str:
    return next(p.message for p in result.problems if (p.file, p.row, p.column) == (file, row, column))


def test_bad_csv_rows_are_each_named_and_nothing_is_written(world: World) -> None:
    d, a = world.dir, world.grid_a
    files = [
        write_csv(d / "addresses.csv", ["标准地址编码", "标准地址", "经度", "纬度", "网格编码"], [
            ["A1", "天河路1号", "113.33", "23.13", a],
        ]),
        write_csv(d / "buildings.csv", ["建筑物编码", "标准地址编码", "层数", "经度", "纬度", "网格编码"], [
            ["B1", "A1", "9", "113.33", "23.13", ""],
            ["B2", "A404", "9", "113.33", "23.13", ""],
            ["B1", "A1", "7", "113.33", "23.13", ""],
            ["B3", "A1", "0", "113.33", "95", "440199999999999"],
        ]),
        write_csv(d / "households.csv", ["建筑物编码", "户室号"], [["B1", "101"], ["B9", "102"]]),
        write_csv(d / "people.csv", ["户编号", "姓名", "公民身份号码", "手机号", "性别"], [
            ["B1-101", "张三", BAD_CHECK, "", ""],
            ["B1-101", "李四", ID3, "12345", ""],
            ["B1-101", "王五", ID3, "", "男"],
            ["B1-999", "赵六", ID1, "", ""],
            ["B1-101", "钱七", ID2, PHONE, "女"],
        ]),
    ]  # fmt: skip
    result = _run(world, files)
    assert not result.applied
    assert _problems(result) == [
        ("buildings.csv", 3, "标准地址编码"),
        ("buildings.csv", 4, "建筑物编码"),
        ("buildings.csv", 5, "层数"),
        ("buildings.csv", 5, "纬度"),
        ("buildings.csv", 5, "网格编码"),
        ("households.csv", 3, "建筑物编码"),
        ("people.csv", 2, "公民身份号码"),
        ("people.csv", 3, "手机号"),
        ("people.csv", 4, "公民身份号码"),
        ("people.csv", 4, "性别"),
        ("people.csv", 5, "户编号"),
    ]
    assert _message(result, "buildings.csv", 3, "标准地址编码") == "address A404 not found in the files imported or the store"
    assert _message(result, "buildings.csv", 4, "建筑物编码") == "duplicate building code B1 (also on row 2)"
    assert _message(result, "buildings.csv", 5, "网格编码") == "unknown grid 440199999999999"
    assert "outside 1..200" in _message(result, "buildings.csv", 5, "层数")
    assert _message(result, "households.csv", 3, "建筑物编码").startswith("building B9 not found")
    assert _message(result, "people.csv", 2, "公民身份号码").startswith("bad check digit")
    assert _message(result, "people.csv", 4, "公民身份号码") == "duplicate ID number (also on row 3)"
    assert _message(result, "people.csv", 4, "性别") == "sex M is not the ID number's (F)"
    assert _message(result, "people.csv", 5, "户编号") == "household B1-999 not found in the files imported or the store"
    assert all(ID3 not in p.message and ID1 not in p.message for p in result.problems)
    assert base_data_store(world.store).counts_by_grid() == []  # nothing written, not even the good rows


def test_bad_xlsx_rows_and_columns_are_named_and_nothing_is_written(world: World) -> None:
    path = write_xlsx(world.dir / "people.xlsx", ["户编号", "姓名", "身份证号", "人员类型", "来穗日期", "备注"], [
        ["H1", "张三", ID1, "外星人", "2020-01-01", ""],
        ["H1", "", ID2, "来穗", "2030-01-01", ""],
        ["H1", "王五", "4401061980", "户籍", "2020-02-30", ""],
    ])  # fmt: skip
    result = _run(world, [path])
    assert not result.applied
    assert _problems(result) == [
        ("people.xlsx", 2, "备注"),  # the header, on row 2 below the title
        ("people.xlsx", 3, "人员类型"),
        ("people.xlsx", 3, "户编号"),
        ("people.xlsx", 4, "姓名"),
        ("people.xlsx", 4, "户编号"),
        ("people.xlsx", 4, "来穗日期"),
        ("people.xlsx", 5, "户编号"),
        ("people.xlsx", 5, "来穗日期"),
        ("people.xlsx", 5, "身份证号"),
    ]
    assert _message(result, "people.xlsx", 2, "备注").startswith("unknown column '备注'")
    assert _message(result, "people.xlsx", 3, "人员类型").startswith("unknown kind '外星人'")
    assert _message(result, "people.xlsx", 4, "姓名") == "empty name"
    assert _message(result, "people.xlsx", 4, "来穗日期") == "2030-01-01 is in the future"
    assert _message(result, "people.xlsx", 5, "身份证号") == "ID number must have 18 characters, not 10"
    assert base_data_store(world.store).counts_by_grid() == []


def test_skip_bad_applies_the_good_rows_and_a_child_of_a_bad_row_is_skipped(world: World) -> None:
    d, a = world.dir, world.grid_a
    files = [
        write_csv(d / "addresses.csv", ["code", "text", "lon", "lat", "grid_code"], [["A1", "x路1号", "113.3", "23.1", a]]),
        write_csv(d / "buildings.csv", ["code", "address_code", "floors", "lon", "lat"], [
            ["B1", "A1", "9", "113.3", "23.1"], ["B2", "A1", "-1", "113.3", "23.1"],
        ]),
        write_csv(d / "households.csv", ["building_code", "room", "kind"], [["B1", "1", "rental"], ["B2", "2", ""]]),
    ]  # fmt: skip
    result = _run(world, files, skip_bad=True)
    assert result.applied and result.counts["household"] == 1 and result.counts["skipped"] == 2
    assert _message(result, "households.csv", 3, "building_code") == "building B2 is on a bad row (buildings.csv row 3)"
    records = base_data_store(world.store)
    assert records.get("household", "B1-1") is not None and records.get("building", "B2") is None
    more = write_csv(d / "more.csv", ["building_code", "room"], [["B1", "1"], ["B1", "3"]])
    again = write_csv(d / "again.csv", ["户室号", "建筑物编码"], [["3", "B1"]])
    twice = _run(world, [more, again])
    assert _problems(twice) == [("again.csv", 2, "户室号")] and not twice.applied
    assert twice.problems[0].message == "duplicate household id B1-3 (also on more.csv row 3)"


def test_a_missing_key_file_with_sealed_data_stored_refuses(world: World) -> None:
    files = _good_files(world)
    assert _run(world, files).applied
    world.key.rename(world.key.with_suffix(".lost"))
    result = _run(world, [files[0]])
    assert not result.applied and not world.key.exists()  # never a new key over sealed data
    assert [p.message for p in result.problems] == [
        f"{world.key}: no key file, but the store holds sealed fields: restore the key file"
    ]
    unknown = write_csv(world.dir / "notes.csv", ["备注"], [["x"]])
    refused = _run(world, [unknown])
    assert refused.problems[0].message.startswith("cannot tell what the file holds")


def test_the_cli_imports_files_and_exits_2_listing_problems(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cc.yaml"
    config.write_text(
        f"server: {{data_dir: {tmp_path / 'var'}}}\nstore: sqlite:///{tmp_path / 'cli.db'}\n"
        "city: {generator: {seed: 7, districts: 2}}\n",
        encoding="utf-8",
    )
    files = [str(f) for f in _good_files(world)]
    bad = write_csv(tmp_path / "p.csv", ["household_id", "name", "id_number"], [["B1-101", "x", BAD_CHECK]])
    assert main(["import", "basedata", str(bad), "--kind", "person", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "p.csv:2:id_number: bad check digit" in err and "nothing was changed" in err
    assert main(["import", "basedata", *files, "--config", str(config), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["applied"] and out["counts"]["person"] == 2
    cli_store = create_store(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        assert len(base_data_store(cli_store).list("address")) == 2
    finally:
        cli_store.close()
