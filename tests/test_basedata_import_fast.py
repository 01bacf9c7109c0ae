"""The bulk base-data import (importing/basedata_fast.py) against the model path
(importing/basedata_models.py, `import_files(..., model_path=True)`): the same files give
the same rows, counts and problems on both databases, a re-import included (the bulk
path's merge of stored keys); and its memory grows with the keys it must remember, not
with the rows it reads."""

from __future__ import annotations

import hashlib
import hmac
import random
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from basedata.identity import IdNumbers, check_id_number, credit_check_char, id_check_char
from basedata.model import Sealed
from basedata.protect import FieldCipher, FieldKey, FieldKind
from basedata.sample import SampleSpec
from bench.basedata import _write_files
from command_center.config import Config
from command_center.importing.basedata import KEY_ENV, ORDER, import_files
from command_center.importing.basedata_stream import csv_rows
from command_center.importing.tables import Unreadable, _raw_rows
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult
from command_center.store import Store, create_store
from command_center.store.basedata_counts import direct
from command_center.store.basedata_records import base_data_store
from command_center.store.basedata_schema import SEALED, TABLES
from dispatch.city import City
from tests.helpers import postgres_database
from tests.test_basedata_import import write_csv, write_xlsx

TODAY = date(2026, 3, 1)
ID1 = "44010619800101001" + id_check_char("44010619800101001")
ID2 = "11010519491231002X"
ID3 = "44010620000229002" + id_check_char("44010620000229002")
ID4 = "43010219900315003" + id_check_char("43010219900315003")
CREDIT = "91440106MA59C0XY1" + credit_check_char("91440106MA59C0XY1")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass
class Twin:
    """Two empty stores of one database kind, one per path, sealing under one key."""

    model: Store
    fast: Store
    city: City
    key: Path
    dir: Path

    def run(self, store: Store, files: list[Path], fast: bool, **options: Any) -> ImportResult:
        context = ImportContext(store, self.city, Config())
        return import_files(files, context, ImportOptions(**options), today=TODAY, model_path=not fast)


@pytest.fixture(params=["sqlite", "postgresql"])
def twin(
    request: pytest.FixtureRequest, tmp_path: Path, small_city: City, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Twin]:
    key = tmp_path / "keys" / "basedata.key"
    monkeypatch.setenv(KEY_ENV, str(key))
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / 'model.db'}", f"sqlite:///{tmp_path / 'fast.db'}"]
        stores = [create_store(url) for url in urls]
        yield Twin(stores[0], stores[1], small_city, key, tmp_path)
        for store in stores:
            store.close()
        return
    with postgres_database("cc_twin") as model_url, postgres_database("cc_twin") as fast_url:
        stores = [create_store(model_url), create_store(fast_url)]
        yield Twin(stores[0], stores[1], small_city, key, tmp_path)
        for store in stores:
            store.close()


def _files(twin: Twin) -> list[Path]:
    """Every kind, each cell in the shapes files use: headers in Chinese and English, full-width
    and spaced ID numbers, +86 and land-line phones, four ways to write a date, empty cells
    taking defaults, grids inherited from parents, an XLSX with a title row, rental housing."""
    d, a, b = twin.dir, twin.city.grids[0].code, twin.city.grids[1].code
    people = [
        ["H1", "张三", ID1, "+86 138-1234-5678", "来穗", "2020-05-06", "2026/1/10", "男", ""],
        ["", "李四", ID2.lower(), "", "户籍", "", "20260110", "", "1949-12-31"],
        [
            "",
            "王五",
            " ".join((ID3[:6], ID3[6:14], ID3[14:])),
            "(020)87654321",
            "",
            "",
            "2026年1月10日",
            "",
            "",
        ],
        ["P-own", "赵六", ID4.translate(FULL_WIDTH), "13912345678", "租住", "2025年12月1日", "", "男", ""],
    ]
    households = [
        [f"B{n}", str(100 + n), kind, verified]
        for n, (kind, verified) in enumerate(
            [("出租", "2026-01-10"), ("自住", ""), ("", "2025/12/31"), ("经营", "20251201")], start=1
        )
    ]
    return [
        write_csv(d / "addresses.csv", ["code", "text", "lon", "lat", "grid_code", "verified_at"], [
            [f"A{n}", f"天河路{n}号", f"113.3{n}", f"23.1{n}", grid, ""] for n, grid in enumerate([a, a, b, b], start=1)
        ]),
        write_csv(d / "buildings.csv", ["建筑物编码", "标准地址编码", "建筑物名称", "层数", "用途", "出租屋", "经度", "纬度"], [
            ["B1", "A1", "一栋", "9", "住宅", "是", "113.31", "23.11"], ["B2", "A2", "", "12", "", "否", "113.32", "23.12"],
            ["B3", "A3", "三栋", "3", "商住", "", "113.33", "23.13"], ["B4", "A4", "", "1", "商铺", "yes", "113.34", "23.14"],
        ]),
        write_xlsx(d / "households.xlsx", ["建筑物编码", "户室号", "房屋类型", "核实日期"], households),
        write_csv(d / "people.csv", ["人员编号", "户编号", "姓名", "公民身份号码", "手机号", "人员类型", "来穗日期", "核实日期", "性别",
                                     "出生日期"],
                  [[pid, f"B{n}-{100 + n}", *rest] for n, (pid, *rest) in enumerate(people, start=1)]),
        write_csv(d / "organisations.csv", ["单位编号", "单位名称", "统一社会信用代码", "单位类型", "标准地址编码", "联系电话", "网格编码"], [
            ["", "一家店", CREDIT.lower(), "商铺", "A1", "020-87654321", ""], ["O2", "一所学校", "", "学校", "A3", "", b],
        ]),
    ]  # fmt: skip


def _indexes(store: Store) -> list[tuple[str, ...]]:
    """The five tables' indexes and enabled triggers, as the database describes them."""
    names = [table.name for table in TABLES.values()]
    with store._reading() as db:  # type: ignore[attr-defined]
        if store.dialect == "sqlite":  # type: ignore[attr-defined]
            found = db.execute("SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')")
        else:
            found = db.execute(
                "SELECT indexname, indexdef, '' FROM pg_indexes WHERE tablename = ANY(%(names)s) UNION ALL "
                "SELECT tgname, tgenabled::text, '' FROM pg_trigger WHERE NOT tgisinternal",
                {"names": names},
            )
        return sorted(tuple(str(v) for v in row) for row in found.fetchall())


def _rows(store: Store, cipher: FieldCipher) -> dict[str, list[dict[str, Any]]]:
    """Every row of the five tables by key; each sealed value opened (its nonce is random),
    its index and tail kept; the write times left out."""
    found: dict[str, list[dict[str, Any]]] = {}
    with store._reading() as db:  # type: ignore[attr-defined]
        for kind, table in TABLES.items():
            names = [c.name for c in table.columns]
            listed = db.execute(f"SELECT {', '.join(names)} FROM {table.name}").fetchall()
            rows = [dict(zip(names, r, strict=True)) for r in listed]
            for row in rows:
                del row["created_at"], row["updated_at"]
                for field in SEALED.get(kind, ()):
                    if row[f"{field}_cipher"] is not None:
                        sealed_kind: FieldKind = "id_number" if field == "id_number" else "phone"
                        part = {
                            "cipher": row[f"{field}_cipher"],
                            "index": row[f"{field}_index"],
                            "tail": row[f"{field}_tail"],
                        }
                        row[f"{field}_cipher"] = cipher.open(sealed_kind, Sealed(**part))
            found[kind] = sorted(rows, key=lambda r: str(next(iter(r.values()))))
    return found


def test_the_same_files_give_the_same_rows_both_ways_and_again_on_a_re_import(twin: Twin) -> None:
    files = _files(twin)
    first = [twin.run(twin.model, files, fast=False), twin.run(twin.fast, files, fast=True)]
    assert [r.problems for r in first] == [[], []] and all(r.applied for r in first)
    assert first[0].counts == first[1].counts
    assert [first[1].counts[k] for k in ORDER] == [4, 4, 4, 4, 2]
    cipher = FieldCipher(FieldKey.load(twin.key))
    model, fast = _rows(twin.model, cipher), _rows(twin.fast, cipher)
    assert fast == model
    assert _indexes(twin.fast) == _indexes(twin.model)  # a first load's indexes, set aside, all built again
    counted = [base_data_store(store).counts_by_grid("", TODAY) for store in (twin.model, twin.fast)]
    assert counted[0] == counted[1] == direct(base_data_store(twin.fast), "", TODAY) and counted[1]
    people = {p["name"]: p for p in fast["person"]}
    assert (
        people["王五"]["id_number_cipher"] == ID3 and people["赵六"]["id_number_cipher"] == ID4
    )  # spaced, full-width
    assert (
        people["张三"]["phone_cipher"] == "13812345678" and people["王五"]["phone_cipher"] == "020-87654321"
    )
    assert people["李四"]["id"].startswith("P") and people["赵六"]["id"] == "P-own"
    assert people["张三"]["next_check_at"] == "2026-02-09"  # lives in a rental household: 30 days
    assert {b["code"]: b["grid_code"] for b in fast["building"]}["B3"] == twin.city.grids[1].code  # from A3

    again = [
        twin.run(twin.model, files, fast=False),
        twin.run(twin.fast, files, fast=True),
    ]  # stored: updated
    assert again[0].counts == again[1].counts and again[1].counts["person_updated"] == 4
    model, fast = _rows(twin.model, cipher), _rows(twin.fast, cipher)
    assert fast == model and {p["version"] for p in fast["person"]} == {2}


def _bad_files(twin: Twin) -> list[Path]:
    d, a = twin.dir, twin.city.grids[0].code
    return [
        write_csv(d / "addresses.csv", ["标准地址编码", "标准地址", "经度", "纬度", "网格编码"], [
            ["A1", "天河路1号", "113.33", "23.13", a], ["A2", "天河路2号", "113.33", "200", a],
            ["A3", "天河路3号", "113.33", "23.13", "440199999999999"],
        ]),
        write_csv(d / "buildings.csv", ["建筑物编码", "标准地址编码", "层数", "经度", "纬度"], [
            ["B1", "A1", "9", "113.33", "23.13"], ["B2", "A404", "9", "113.33", "23.13"], ["B1", "A1", "7", "113.3", "23.1"],
            ["B3", "A2", "5", "113.33", "23.13"], ["B4", "A1", "x", "113.33", "23.13"],
        ]),
        write_csv(d / "households.csv", ["建筑物编码", "户室号", "房屋类型"], [
            ["B1", "101", "出租"], ["B3", "102", ""], ["B1", "101", ""], ["B1", "103", "豪宅"],
        ]),
        write_csv(d / "households2.csv", ["户室号", "建筑物编码"], [["101", "B1"], ["104", "B1"]]),
        write_csv(d / "people.csv", ["户编号", "姓名", "公民身份号码", "手机号", "性别", "来穗日期"], [
            ["B1-101", "张三", ID1, "", "", ""], ["B1-101", "李四", ID1, "12345", "", ""],
            ["B1-101", "王五", ID3[:17] + "0", "", "", ""], ["B3-102", "赵六", ID2, "", "女", "2030-01-01"],
            ["B1-104", "钱七", ID4, "", "男", ""], ["B1-999", "孙八", ID4.lower(), "", "", ""],
        ]),
    ]  # fmt: skip


@pytest.mark.parametrize("skip_bad", [False, True])
def test_bad_rows_get_the_same_problems_both_ways(twin: Twin, skip_bad: bool) -> None:
    files = _bad_files(twin)
    model = twin.run(twin.model, files, fast=False, skip_bad=skip_bad)
    fast = twin.run(twin.fast, files, fast=True, skip_bad=skip_bad)
    assert [str(p) for p in fast.problems] == [str(p) for p in model.problems]
    assert len(fast.problems) >= 12 and (fast.applied, fast.counts) == (model.applied, model.counts)
    messages = {(p.file, p.row, p.column): p.message for p in fast.problems}
    assert messages["buildings.csv", 4, "建筑物编码"] == "duplicate building code B1 (also on row 2)"
    assert (
        messages["households2.csv", 2, "户室号"]
        == "duplicate household id B1-101 (also on households.csv row 2)"
    )
    assert messages["people.csv", 3, "公民身份号码"] == "duplicate ID number (also on row 2)"
    assert (
        messages["people.csv", 7, "公民身份号码"] == "duplicate ID number (also on row 6)"
    )  # x or X: one number
    assert fast.applied is skip_bad
    cipher = FieldCipher(FieldKey.load(twin.key)) if twin.key.exists() else None
    if cipher is not None:
        assert _rows(twin.fast, cipher) == _rows(twin.model, cipher)


def test_an_unreadable_file_half_way_is_one_problem_and_nothing_is_written(twin: Twin) -> None:
    d, a = twin.dir, twin.city.grids[0].code
    good = write_csv(
        d / "addresses.csv",
        ["code", "text", "lon", "lat", "grid_code"],
        [["A1", "x路1号", "113.3", "23.1", a]],
    )
    broken = d / "buildings.csv"
    rows = "".join(f"B{n},A1,9,113.3,23.1\n" for n in range(2, 20_000))
    broken.write_bytes(b"code,address_code,floors,lon,lat\n" + rows.encode() + b"B\xff,A1,9,113.3,23.1\n")
    result = twin.run(twin.fast, [good, broken], fast=True, skip_bad=True)
    assert [str(p) for p in result.problems] == [
        "buildings.csv:20000: not UTF-8 text (in Excel: Save As 'CSV UTF-8')"
    ]
    assert not result.applied
    with twin.fast._reading() as db:  # type: ignore[attr-defined]
        assert db.execute("SELECT count(*) FROM addresses").fetchone()[0] == 0  # rolled back


def _peak_kib(store: Store, city: City, files: list[Path]) -> float:
    tracemalloc.start()
    try:
        result = import_files(
            files, ImportContext(store, city, Config()), ImportOptions(dry_run=True), today=TODAY
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.problems == [] and result.counts["person"] > 0
    return peak / 1024


@pytest.mark.slow
def test_memory_grows_with_the_keys_kept_not_with_the_rows_read(
    tmp_path: Path, small_city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "basedata.key"))
    grids = [(g.code, g.lon, g.lat) for g in small_city.grids[:20]]
    today = date.today()
    peaks = {}
    store = create_store(f"sqlite:///{tmp_path / 'cc.db'}")
    try:
        for people in (10_000, 50_000):
            folder = tmp_path / str(people)
            folder.mkdir()
            spec = SampleSpec(people=people, seed=3, households_per_building=2.6, as_of=min(TODAY, today))
            _write_files(folder, grids, spec)
            peaks[people] = _peak_kib(store, small_city, [folder / f"{kind}.csv" for kind in ORDER])
    finally:
        store.close()
    per_person = (peaks[50_000] - peaks[10_000]) * 1024 / 40_000
    # The model path held every record: ~5.8 KB a person. Here: the keys and ID numbers seen,
    # the parents' grids: a few hundred bytes; a chunk of rows is the same at any size.
    assert per_person < 700, (peaks, per_person)
    assert peaks[10_000] < 40 * 1024, peaks
    assert check_id_number(ID1).number == ID1  # (the numbers above are valid)


def test_the_bulk_id_check_passes_exactly_the_numbers_the_full_check_passes() -> None:
    rng = random.Random(11)
    today = date(2026, 3, 1)
    bulk = IdNumbers(today)
    tried = accepted = 0
    for _ in range(20_000):
        area = rng.choice(["440106", "110105", "010101", "990101", "830000"])
        born = f"{rng.randint(1890, 2027)}{rng.randint(0, 13):02d}{rng.randint(0, 31):02d}"
        body = area + born + f"{rng.randint(0, 999):03d}"
        check = id_check_char(body) if rng.random() < 0.7 else rng.choice("0123456789Xx")
        text = body + (check.lower() if rng.random() < 0.2 else check)
        tried += 1
        try:
            facts = check_id_number(text, today=today)
        except ValueError:
            with pytest.raises(ValueError):
                bulk.check(text)
            continue
        accepted += 1
        assert bulk.check(text) == (
            facts.number,
            facts.birth_date.isoformat(),
            facts.sex,
            int(facts.number[:17]),
        )
    assert 1000 < accepted < tried - 1000  # both ways well exercised


def test_the_bulk_sealer_seals_as_the_cipher_does() -> None:
    key = FieldKey(bytes(range(32)))
    cipher, bulk = FieldCipher(key), FieldCipher(key).bulk()
    for kind, value in (("id_number", ID1), ("phone", "13812345678"), ("phone", "020-87654321")):
        sealed = Sealed(**dict(zip(("cipher", "index", "tail"), bulk.seal(kind, value), strict=True)))  # type: ignore[arg-type]
        assert cipher.open(kind, sealed) == value  # type: ignore[arg-type]
        assert sealed.index == hmac.digest(key.mac_key, f"{kind}:{value}".encode(), hashlib.sha256).hex()
        assert sealed == cipher.seal(kind, value).model_copy(update={"cipher": sealed.cipher})  # type: ignore[arg-type]
    nonces = {bulk.seal("phone", "13812345678")[0][3:19] for _ in range(3000)}  # past a pool of 1,024
    assert len(nonces) == 3000


def test_the_streamed_csv_reads_as_the_whole_file_reader(tmp_path: Path) -> None:
    """basedata_stream.csv_rows against tables.py's reader: the same rows, numbers and cells
    (quoted values across lines, stripped spaces, blank lines, a BOM, CRLF), or the same error."""
    rng = random.Random(3)
    pieces = ["a", "b c", " x ", "\u3000y", "", "z\t", "天河", '"1,2"', '"q""q"', '"multi\nline"', "\r"]
    for n in range(200):
        lines = [
            ",".join(rng.choice(pieces) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(0, 8))
        ]
        end = rng.choice(["\n", "\r\n"])
        path = tmp_path / f"f{n}.csv"
        path.write_bytes(
            (b"\xef\xbb\xbf" if n % 3 == 0 else b"") + (end.join(lines) + end * (n % 2)).encode()
        )

        def read(rows: Any, file: Path = path) -> Any:
            try:
                return list(rows(file))
            except Unreadable as exc:
                return exc.message, exc.row

        assert read(csv_rows) == read(_raw_rows), path.read_bytes()
