"""Exports of the base data (api/basedata_export.py) against a real server, and their paging
over a real store: issue 19's "every reveal and export audited; exports watermarked with the
user".

An XLSX names the user, "内部资料" and the time in every printed page's header, the export id
in the footer, on a first sheet 导出信息 and in its properties; a CSV in its first line. ID
numbers are masked (no clear one anywhere in the file) and the masks carry the export's mark,
which the trace finds again from one pasted line. Each export is audited with its row count
before anything is sent (a store that cannot write the row: 503, no file); an officer's
reveal export is refused; past the configured limit is 400. The records are read a page at
a time: memory stays flat as the export grows (both databases).
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from basedata.identity import check_id_number
from basedata.model import Person
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate
from basedata.watermark import MARKED, PLAIN, fingerprint, read_marks
from command_center.api.basedata_export_files import Context, Marking, csv_chunks, rows
from command_center.api.basedata_views import MASKS
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store import create_store
from command_center.store.basedata_pages import grid_counts, pages
from command_center.store.basedata_records import base_data_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

PEOPLE = 240
LIMIT = 200  # config basedata.export.max_rows: the whole area (240 people) is over it, one grid is not
MASKED_ID = re.compile(f"^[{re.escape(PLAIN)}{MARKED}]{{14}}[0-9]{{3}}[0-9X]$")
ANY_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")
OFFICER = {"role": "officer", "user": "export-officer"}
DISTRICT = {"role": "officer", "user": "export-district", "jurisdiction": "440104"}


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    grids: list[str]  # two grids of 440103, one of 440104
    clear: dict[str, str]  # person id → clear ID number

    def get(self, path: str, **who: str | None) -> httpx.Response:
        return httpx.get(self.srv.url + path, headers=self.srv.headers(**who), timeout=30)

    def audits(self, action: str) -> list[dict[str, Any]]:
        return [r for r in self.rt.store.iter_audit() if r["action"] == action]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("export")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}",
                           "basedata": {"export": {"max_rows": LIMIT}}})  # fmt: skip
    rt = build_runtime(config, city=small_city)
    first = [g.code for g in small_city.grids if g.code.startswith("440103")][:2]
    far = next(g.code for g in small_city.grids if g.code.startswith("440104"))
    grids = [*first, far]
    cipher = FieldCipher(FieldKey.generate(data / "keys" / "basedata.key"))
    spots = [(g, small_city.areas[g].lon, small_city.areas[g].lat) for g in grids]
    records = list(generate(spots, SampleSpec(people=PEOPLE, seed=11), cipher))
    clear = {r.id: cipher.open("id_number", r.id_number) for _, r in records if isinstance(r, Person)}
    base_data_store(rt.store).upsert_mixed(iter(records), by="test")
    with serve_app(rt) as srv:
        yield World(srv, rt, grids, clear)


def _people_in(world: World, grid: str) -> int:
    listed = world.get(f"/api/basedata/people?area={grid}&limit=1")
    assert listed.status_code == 200, listed.text
    return int(listed.json()["total"])


def _workbook(answer: httpx.Response) -> openpyxl.Workbook:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    assert (
        "attachment" in answer.headers["content-disposition"]
        and answer.headers["cache-control"] == "no-store"
    )
    return openpyxl.load_workbook(io.BytesIO(answer.content))


def test_an_officers_xlsx_is_watermarked_masked_and_audited_with_its_rows(world: World) -> None:
    grid = world.grids[0]
    answer = world.get(f"/api/basedata-export/people?area={grid}&format=xlsx", **OFFICER)
    book = _workbook(answer)
    export_id = answer.headers["x-export-id"]
    assert re.fullmatch(r"EX[0-9]{14}-[0-9a-f]{8}", export_id)
    assert book.sheetnames[0] == "导出信息" and book.sheetnames[1] == "人员"
    info = {row[0]: row[1] for row in book["导出信息"].iter_rows(values_only=True)}
    assert info["导出人"] == "export-officer" and info["导出编号"] == export_id and info["角色"] == "值班员"
    assert info["记录数"] == _people_in(world, grid) and info["含完整证件号码和电话"] == "否"
    for sheet in book.worksheets:  # every printed page: who, internal, when; the export id below
        assert sheet.oddHeader.left.text == "export-officer" and sheet.oddHeader.center.text == "内部资料"
        assert re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+0800", sheet.oddHeader.right.text or "")
        assert sheet.oddFooter.left.text == export_id
    assert book.properties.creator == "export-officer" and export_id in (book.properties.description or "")
    data = list(book["人员"].iter_rows(values_only=True))
    heads, body = list(data[0]), data[1:]
    assert len(body) == _people_in(world, grid) and {"网格", "姓名", "身份证号", "电话"} <= set(heads)
    ids = [row[heads.index("身份证号")] for row in body]
    assert all(MASKED_ID.match(str(v)) for v in ids), ids[:3]
    assert {row[heads.index("网格")] for row in body} == {world.rt.city.city.areas[grid].name}
    text = "\n".join(str(v) for row in data for v in row)
    assert not ANY_ID_NUMBER.search(text) and not set(world.clear.values()) & set(text.split())
    # the masks carry this export's mark (and not another's)
    assert {bits for bits, count in read_marks(text) if count == 14} == {fingerprint(export_id)}
    audited = [r for r in world.audits("basedata.export") if r["target"] == export_id]
    assert len(audited) == 1 and audited[0]["actor"] == "export-officer"
    assert f"rows {len(body)}" in audited[0]["detail"] and "masked" in audited[0]["detail"]


def test_a_csv_names_who_exported_it_first_and_pasted_rows_trace_back_to_it(world: World) -> None:
    answer = world.get(f"/api/basedata-export/people?area={world.grids[1]}&format=csv", **OFFICER)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    export_id = answer.headers["x-export-id"]
    text = answer.content.decode("utf-8-sig")
    first, rest = text.split("\r\n", 1)
    assert (
        first.startswith("# 导出人 export-officer") and "导出时间" in first and f"编号 {export_id}" in first
    )
    table = list(csv.reader(io.StringIO(rest)))
    assert len(table) - 1 == _people_in(world, world.grids[1])
    assert not ANY_ID_NUMBER.search(text)
    pasted = rest.splitlines()[5]  # one row, copied out of the file
    found = httpx.post(world.srv.url + "/api/basedata-export/trace", json={"text": pasted},
                       headers=world.srv.headers(), timeout=30)  # fmt: skip
    assert found.status_code == 200, found.text
    assert export_id in [e["export_id"] for e in found.json()["exports"]]
    assert found.json()["exports"][0]["actor"] == "export-officer"
    unmarked = httpx.post(world.srv.url + "/api/basedata-export/trace", json={"text": "张三 男"},
                          headers=world.srv.headers(), timeout=30)  # fmt: skip
    assert unmarked.status_code == 422
    officer = httpx.post(world.srv.url + "/api/basedata-export/trace", json={"text": pasted},
                         headers=world.srv.headers(**OFFICER), timeout=30)  # fmt: skip
    assert officer.status_code == 403


def test_an_officer_cannot_export_clear_values_and_an_admin_must_give_a_reason(world: World) -> None:
    before = len(world.audits("basedata.export"))
    refused = world.get(f"/api/basedata-export/people?area={world.grids[0]}&reveal=1&reason=核实", **OFFICER)
    assert refused.status_code == 403 and "reveal_roles" in refused.text
    no_reason = world.get(f"/api/basedata-export/people?area={world.grids[0]}&reveal=1")
    assert no_reason.status_code == 400 and "reason" in no_reason.text
    assert (
        world.get(f"/api/basedata-export/buildings?area={world.grids[0]}&reveal=1&reason=x").status_code
        == 400
    )
    assert len(world.audits("basedata.export")) == before  # refused: nothing exported, nothing audited
    answer = world.get(
        f"/api/basedata-export/people?area={world.grids[0]}&format=csv&reveal=1&reason=入户核查"
    )
    assert answer.status_code == 200, answer.text
    lines = answer.content.decode("utf-8-sig").split("\r\n", 1)[1]
    table = list(csv.DictReader(io.StringIO(lines)))
    shown = [row["身份证号"] for row in table]
    assert all(check_id_number(v).number == v for v in shown) and set(shown) <= set(world.clear.values())
    row = next(r for r in world.audits("basedata.export") if r["target"] == answer.headers["x-export-id"])
    assert f"rows {len(table)}" in row["detail"] and "入户核查" in row["detail"] and row["actor"] == "admin"
    assert not [v for v in shown if v in row["detail"]]


def test_past_the_limit_is_400_and_outside_the_area_is_403(world: World) -> None:
    before = len(world.audits("basedata.export"))
    over = world.get("/api/basedata-export/people?format=csv", **OFFICER)  # the whole city: 240 people
    assert over.status_code == 400, over.text
    assert str(PEOPLE) in over.json()["detail"] and f"at most {LIMIT}" in over.json()["detail"]
    assert world.get("/api/basedata-export/people?area=440103", **DISTRICT).status_code == 403
    assert world.get("/api/basedata-export/people", role="worker", worker_id="W1").status_code == 403
    assert world.get("/api/basedata-export/people?format=pdf").status_code == 400
    assert world.get("/api/basedata-export/cars").status_code == 404
    assert len(world.audits("basedata.export")) == before
    mine = world.get("/api/basedata-export/buildings?format=csv", **DISTRICT)  # their district only
    assert mine.status_code == 200
    assert {r[1] for r in list(csv.reader(io.StringIO(mine.text.split("\r\n", 1)[1])))[1:]} == {
        world.grids[2]
    }


def test_an_export_that_cannot_be_audited_sends_nothing(world: World, tmp_path: Path) -> None:
    """A real failure of the audit write: a trigger in the real database refuses the row."""
    path = world.rt.config.store.removeprefix("sqlite:///")
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
    )
    db.commit()
    try:
        answer = world.get(f"/api/basedata-export/people?area={world.grids[0]}&format=csv", **OFFICER)
    finally:
        db.execute("DROP TRIGGER no_audit")
        db.commit()
        db.close()
    assert answer.status_code == 503 and "audited" in answer.text
    assert "身份证号" not in answer.text and "x-export-id" not in answer.headers


# paging: the records read a page at a time from the real store, memory flat as the export grows
def _seeded(url: str, people: int, cipher: FieldCipher) -> Any:
    store = create_store(url)
    grids = [("440106001001001", 113.32, 23.13), ("440106001001002", 113.33, 23.14)]
    base_data_store(store).upsert_mixed(generate(grids, SampleSpec(people=people, seed=2), cipher), by="test")
    return store


def _csv_peak(store: Any, size: int) -> tuple[int, int, int]:
    """(bytes of CSV, pages read, peak traced memory) for every person of the store."""
    records = base_data_store(store)
    grids = grid_counts(records, "person", [""])
    total = sum(n for _, n in grids)
    marking = Marking("u", "值班员", datetime.now(UTC), "EX1", "人员", total, False, "zh")
    ctx = Context("zh", {}, lambda name, sealed: None if sealed is None else MASKS[name](sealed.tail))
    seen = {"pages": 0, "largest": 0}

    def counted() -> Iterator[list[Any]]:
        for page in pages(records, "person", [g for g, _ in grids], total, size=size):
            seen["pages"] += 1
            seen["largest"] = max(seen["largest"], len(page))
            yield list(rows("person", page, ctx))

    tracemalloc.start()
    sent = sum(len(chunk) for chunk in csv_chunks(["h"], counted(), marking))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seen["largest"] <= size
    return sent, seen["pages"], peak


def test_an_export_reads_the_store_a_page_at_a_time_in_flat_memory(
    empty_store_url: str, tmp_path: Path
) -> None:
    cipher = FieldCipher(FieldKey.generate(tmp_path / "k"))
    small = _seeded(empty_store_url, 600, cipher)
    try:
        _csv_peak(small, 100)  # once to warm up: statements compiled and cached, modules loaded
        sent_small, pages_small, peak_small = _csv_peak(small, 100)
        base_data_store(small).upsert_mixed(
            generate([("440106001001003", 113.34, 23.15)], SampleSpec(people=1800, seed=4), cipher), by="test"
        )
        sent_big, pages_big, peak_big = _csv_peak(small, 100)
    finally:
        small.close()
    assert pages_small >= 6 and pages_big >= 24  # 100 a page: never the whole table in one read
    assert sent_big > 3.5 * sent_small  # four times the people, four times the file…
    assert peak_big < 1.5 * peak_small, (peak_small, peak_big)  # …in the same memory
