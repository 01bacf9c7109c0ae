"""Reading and checking a city's roster and cameras files (CSV and XLSX): every problem by
file, row and column, and no entries from a file with any problem."""

from __future__ import annotations

import csv
import io
import random
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest

from command_center.config import CameraConfig
from command_center.importing import (
    ImportProblems,
    Problem,
    check_cameras,
    check_roster,
    raise_if_any,
    to_workers,
)
from command_center.importing.cameras import KIND_SCHEMES, _column_of
from command_center.importing.roster import parse_phone, split_grid_codes
from dispatch.city import City

ROSTER_WORKERS = 22_400
CAMERAS = 500
HEADER = ["worker_id", "code", "name", "phone", "grid_codes", "kind", "level", "shift"]
HEADER_ZH = ["工号", "编号", "姓名", "手机", "网格编码", "专兼职", "类别", "班次"]
CAMERA_HEADER = ["id", "name", "url", "kind", "lon", "lat", "heading", "grid_code"]
Cells = Sequence[object]


def write_csv(path: Path, header: Cells, rows: Sequence[Cells], bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: Cells, rows: Sequence[Cells], title: str | None = None) -> Path:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("名册")
    if title is not None:
        sheet.append([title])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def places(problems: Sequence[Problem]) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.column) for p in problems]


@pytest.fixture(scope="module")
def grid_codes(small_city: City) -> list[str]:
    return [grid.code for grid in small_city.grids]


def roster_rows(grid_codes: Sequence[str], n: int) -> list[list[object]]:
    """n workers: every 5th serves two grids, kinds/levels/shifts spelled both ways, some landlines."""
    kinds, levels = ["full_time", "兼职", "part_time", "专职"], ["basic", "专业", "professional", "基础"]
    shifts = ["day", "夜班", "all", "白班", "night", "全天"]
    rows: list[list[object]] = []
    for i in range(n):
        grids = [grid_codes[i % len(grid_codes)]]
        if i % 5 == 0:
            grids.append(grid_codes[(i + 1) % len(grid_codes)])
        phone = f"020-8{i:07d}" if i % 10 == 3 else f"13{i % 10}{i:08d}"
        rows.append(
            [f"W{i + 1:07d}", f"GZ{i + 1:05d}", f"网格员{i}", phone, "、".join(grids),
             kinds[i % 4], levels[i % 4], shifts[i % 6]]
        )  # fmt: skip
    return rows


def good_row(grid: str, worker_id: str = "W1", **changes: str) -> list[object]:
    values = dict(
        zip(HEADER, [worker_id, "", "陈伟", "13512345678", grid, "full_time", "basic", "day"], strict=True)
    )
    values.update(changes)
    return list(values.values())


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_large_roster_parses_with_no_problems(
    fmt: str, grid_codes: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = roster_rows(grid_codes, ROSTER_WORKERS)
    if fmt == "csv":
        path = write_csv(tmp_path / "roster.csv", HEADER, rows, bom=True)
    else:  # Chinese headers under a title row, as rosters from a district office come
        path = write_xlsx(tmp_path / "roster.xlsx", HEADER_ZH, rows, title="天河区网格员名册")
    started = time.perf_counter()
    entries, problems = check_roster(path, set(grid_codes))
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n{ROSTER_WORKERS:,} roster rows from {fmt.upper()} checked in {elapsed:.2f} s")

    assert problems == []
    assert len(entries) == ROSTER_WORKERS
    assert len({e.worker_id for e in entries}) == ROSTER_WORKERS
    two_grids = sum(1 for e in entries if len(e.grid_codes) == 2)
    assert two_grids == len(range(0, ROSTER_WORKERS, 5))
    first, landline = entries[0], entries[3]
    assert (first.worker_id, first.code, first.name) == ("W0000001", "GZ00001", "网格员0")
    assert (first.kind, first.level, first.shift, first.row) == (
        "full_time",
        "basic",
        "day",
        3 if fmt == "xlsx" else 2,
    )
    assert (landline.phone, landline.kind, landline.level, landline.shift) == (
        "020-80000003",
        "full_time",
        "basic",
        "day",
    )

    workers = to_workers(entries)
    assert len(workers) == ROSTER_WORKERS + two_grids  # one per (worker, grid) pair
    assert {w.grid_code for w in workers} == set(grid_codes)
    assert [w.grid_code for w in workers if w.id == "W0000001"] == list(first.grid_codes)


def camera_rows(city: City, n: int) -> list[list[object]]:
    """n cameras, each at a point inside a grid, over every network kind and the simulator."""
    urls = {
        "rtsp": "rtsp://10.1.{a}.{b}:554/Streaming/Channels/101",
        "hls": "https://video.example.gov.cn/live/{a}-{b}.m3u8",
        "mjpeg": "http://10.2.{a}.{b}/mjpg/video.mjpg",
        "snapshot": "https://10.3.{a}.{b}/snapshot.jpg",
        "sim": "sim://street?seed={b}",
    }
    rows: list[list[object]] = []
    for i in range(n):
        grid = city.grids[i % len(city.grids)]
        kind = list(urls)[i % len(urls)]
        url = urls[kind].format(a=i // 250, b=i % 250)
        heading = "" if i % 9 == 0 else (i * 37) % 361
        rows.append(
            [f"cam-{i:04d}", f"路口 {i}", url, kind, grid.lon, grid.lat, heading, grid.code if i % 4 else ""]
        )
    return rows


def test_cameras_csv_gives_camera_configs(small_city: City, grid_codes: list[str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cameras.csv", CAMERA_HEADER, camera_rows(small_city, CAMERAS))
    entries, problems = check_cameras(path, set(grid_codes), small_city.bounds)
    assert problems == []
    assert len(entries) == CAMERAS
    assert len({e.id for e in entries}) == CAMERAS
    configs = [CameraConfig.model_validate(e.config) for e in entries]
    assert {c.kind for c in configs} == {"rtsp", "hls", "mjpeg", "snapshot", "sim"}
    first, second = entries[0], entries[1]
    assert (first.heading, first.grid_code, first.row) == (None, None, 2)
    assert (second.heading, second.grid_code) == (37.0, small_city.grids[1].code)
    assert configs[1].location.lon == small_city.grids[1].lon


def test_camera_kinds_are_the_source_kinds_streams_reads() -> None:
    from streams.registry import kinds

    assert set(KIND_SCHEMES) <= set(kinds())


# Bad files: each gives every problem, with its row and column, and no entries.


def test_wrong_column_headers_are_named(grid_codes: list[str], tmp_path: Path) -> None:
    header = [*HEADER[:4], "grid_cods", *HEADER[5:], "remarks"]
    rows = [[*good_row(grid_codes[0], f"W{i}"), "x"] for i in range(3)]
    entries, problems = check_roster(write_csv(tmp_path / "roster.csv", header, rows), set(grid_codes))
    assert entries == []
    assert places(problems) == [(1, "grid_codes"), (1, "grid_cods"), (1, "remarks")]
    assert str(problems[0]) == "roster.csv:1:grid_codes: missing column grid_codes (网格编码/网格编号/网格)"
    assert "did you mean grid_codes?" in problems[1].message
    assert "worker_id, code, name, phone, grid_codes, kind, level, shift" in problems[2].message


def test_unknown_grid_codes_are_each_reported(grid_codes: list[str], tmp_path: Path) -> None:
    known = grid_codes[0]
    unknown, street, short = known[:12] + "999", known[:9] + "000000", "44010600100"
    rows = [
        good_row(known, "W1"),
        good_row(unknown, "W2"),
        good_row(f"{known}; {unknown[:-1]}8", "W3"),
        good_row(f"{street},{short}", "W4"),
        good_row(known, "W5"),
    ]
    entries, problems = check_roster(write_csv(tmp_path / "roster.csv", HEADER, rows), set(grid_codes))
    assert entries == []
    assert places(problems) == [(3, "grid_codes"), (4, "grid_codes"), (5, "grid_codes"), (5, "grid_codes")]
    assert str(problems[0]) == f"roster.csv:3:grid_codes: unknown grid code {unknown}"
    assert problems[1].message == f"unknown grid code {unknown[:-1]}8"
    assert problems[2].message == f"{street} is a street code, not a grid's"
    assert problems[3].message == f"'{short}' is not a 15-digit grid code"


def test_duplicate_worker_ids_name_both_rows(grid_codes: list[str], tmp_path: Path) -> None:
    ids = ["W1", "W2", "W1", "W2", "W2", "W3"]
    rows = [good_row(grid_codes[i], worker_id) for i, worker_id in enumerate(ids)]
    entries, problems = check_roster(write_csv(tmp_path / "roster.csv", HEADER, rows), set(grid_codes))
    assert entries == []
    assert [str(p) for p in problems] == [
        "roster.csv:4:worker_id: duplicate worker id W1 (also on row 2)",
        "roster.csv:5:worker_id: duplicate worker id W2 (also on row 3)",
        "roster.csv:6:worker_id: duplicate worker id W2 (also on row 3)",
    ]


def test_bad_shift_values_list_the_allowed_ones(grid_codes: list[str], tmp_path: Path) -> None:
    rows = [good_row(grid_codes[0], "W1", shift="evening"), good_row(grid_codes[0], "W2", shift="晚班"),
            good_row(grid_codes[0], "W3", shift="夜班")]  # fmt: skip
    path = write_xlsx(tmp_path / "roster.xlsx", HEADER_ZH, rows, title="名册")
    entries, problems = check_roster(path, set(grid_codes))
    assert entries == []
    assert places(problems) == [(3, "班次"), (4, "班次")]  # the title row is row 1, the header row 2
    assert problems[0].message == "bad shift 'evening': use day, night, all (白班, 夜班, 全天)"
    assert problems[1].message.startswith("bad shift '晚班'")


def test_every_problem_in_a_roster_is_reported_at_once(grid_codes: list[str], tmp_path: Path) -> None:
    grid = grid_codes[0]
    rows = [
        good_row(grid, "W1", phone="1351234567"),
        good_row(grid, "W 2", kind="临时", level="高级"),
        good_row(grid, "W3", name="", shift="", grid_codes=""),
        good_row(grid, "W1", phone="20-83388888"),
        ["W5", "", "李明", "13512345678", grid, "part_time", "basic", "all", "extra"],
    ]
    entries, problems = check_roster(write_csv(tmp_path / "r.csv", HEADER, rows), set(grid_codes))
    assert entries == []
    assert places(problems) == [
        (2, "phone"), (3, "kind"), (3, "level"), (3, "worker_id"), (4, "grid_codes"), (4, "name"),
        (4, "shift"), (5, "phone"), (5, "worker_id"), (6, None),
    ]  # fmt: skip
    assert (
        problems[-1].message
        == "9 cells but the header has 8 columns (a value with a comma in it needs quotes)"
    )


def test_bad_coordinates_are_reported_by_column(
    small_city: City, grid_codes: list[str], tmp_path: Path
) -> None:
    good = camera_rows(small_city, 1)[0]
    min_lon, min_lat, max_lon, max_lat = small_city.bounds

    def row(i: int, lon: object, lat: object) -> list[object]:
        return [f"c{i}", *good[1:4], lon, lat, *good[6:]]

    rows = [
        row(1, 200, good[5]),  # lon out of range
        row(2, good[5], good[4]),  # swapped
        row(3, max_lon + 0.5, min_lat - 0.5),  # outside the city, both ways
        row(4, "113.3x", ""),  # not a number; empty
        row(5, good[4], good[5]),  # fine
    ]
    path = write_csv(tmp_path / "cameras.csv", CAMERA_HEADER, rows)
    entries, problems = check_cameras(path, set(grid_codes), small_city.bounds)
    assert entries == []
    assert places(problems) == [(2, "lon"), (3, "lat"), (4, "lat"), (4, "lon"), (5, "lat"), (5, "lon")]
    assert problems[0].message == "lon 200 is out of range -180..180"
    assert problems[1].message.endswith("(lon and lat swapped?)")
    assert problems[3].message.startswith(f"lon {max_lon + 0.5} lies outside the city")
    assert (problems[4].message, problems[5].message) == (
        "empty lat",
        "bad lon '113.3x': a number in degrees",
    )


def test_other_camera_problems(small_city: City, grid_codes: list[str], tmp_path: Path) -> None:
    good = camera_rows(small_city, 1)[0]
    rows = [
        good,
        ["cam 2", "", "rtsp://10.0.0.1/a", "rtsp", *good[4:]],  # bad id
        ["cam-3", "", "http://10.0.0.1/a", "rtsp", *good[4:]],  # scheme does not fit
        ["cam-4", "", "rtsp://10.0.0.1/a", "onvif", *good[4:]],  # unknown kind
        [*good[:6], 400, grid_codes[0][:12] + "999"],  # duplicate id, bad heading, unknown grid
        ["cam-6", "", "sim://nowhere", "sim", *good[4:]],  # fine here; no such scene is the source's to say
    ]
    entries, problems = check_cameras(
        write_csv(tmp_path / "cameras.csv", CAMERA_HEADER, rows), set(grid_codes)
    )
    assert entries == []
    assert places(problems) == [
        (3, "id"),
        (4, "url"),
        (5, "kind"),
        (6, "grid_code"),
        (6, "heading"),
        (6, "id"),
    ]
    assert problems[1].message == "kind rtsp needs rtsp:// or rtsps://, got 'http://10.0.0.1/a'"
    assert problems[5].message == "duplicate camera id cam-0000 (also on row 2)"


def test_camera_config_errors_point_at_their_column() -> None:
    # The safety net behind the checks above: a future CameraConfig rule still lands on a column.
    assert _column_of(()) == "url"  # its whole-model check is the URL's scheme
    assert (_column_of(("location", "lat")), _column_of(("location",))) == ("lat", "lon")
    assert (_column_of(("id",)), _column_of(("fps",))) == ("id", None)


@pytest.mark.parametrize("content", [b"\x8a\x01" + random.Random(16).randbytes(4000), b"PK\x03\x04 broken"])
def test_a_broken_xlsx_is_one_problem(content: bytes, grid_codes: list[str], tmp_path: Path) -> None:
    path = tmp_path / "roster.xlsx"
    path.write_bytes(content)
    entries, problems = check_roster(path, set(grid_codes))
    assert entries == []
    assert len(problems) == 1
    assert (problems[0].file, problems[0].row, problems[0].column) == ("roster.xlsx", None, None)
    assert "not an XLSX workbook" in problems[0].message


def test_a_zip_that_is_no_workbook_is_one_problem(grid_codes: list[str], tmp_path: Path) -> None:
    path = tmp_path / "roster.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    entries, problems = check_roster(path, set(grid_codes))
    assert (entries, places(problems)) == ([], [(None, None)])
    assert problems[0].message.startswith("broken XLSX workbook")


def test_unreadable_files_name_the_file(grid_codes: list[str], tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(",".join(HEADER).encode() + "\nW1,,陈伟".encode("gbk"))
    old = tmp_path / "roster.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    empty = tmp_path / "empty.csv"
    empty.write_text("\n,,,\n")
    found = {
        path.name: check_roster(path, set(grid_codes)) for path in (gbk, old, empty, tmp_path / "none.csv")
    }
    assert {name: (entries, places(problems)) for name, (entries, problems) in found.items()} == {
        "gbk.csv": ([], [(2, None)]),
        "roster.xls": ([], [(None, None)]),
        "empty.csv": ([], [(None, None)]),
        "none.csv": ([], [(None, None)]),
    }
    assert str(found["gbk.csv"][1][0]).startswith("gbk.csv:2: not UTF-8 text")


def test_rows_keep_the_numbers_a_person_sees(grid_codes: list[str], tmp_path: Path) -> None:
    grid = grid_codes[0]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADER)
    writer.writerow(good_row(grid, "W1", name="陈\n伟"))  # a quoted value over lines 2 and 3
    writer.writerow([])
    writer.writerow(good_row(grid, "W2", shift="x"))
    text.write(",,,,,,,\n\n")  # trailing empty rows are ignored
    path = tmp_path / "roster.csv"
    path.write_text(text.getvalue(), encoding="utf-8")
    entries, problems = check_roster(path, set(grid_codes))
    assert (entries, places(problems)) == ([], [(2, "name"), (5, "shift")])


def test_phone_and_grid_code_spellings() -> None:
    assert parse_phone("+86 135-1234-5678") == parse_phone("13512345678") == "13512345678"
    assert parse_phone("(020)83388888") == "020-83388888"
    assert parse_phone("0760-8812345") == "0760-8812345"
    for bad in ("12345678901", "020-1234567", "2083388888", "phone"):
        with pytest.raises(ValueError, match="bad phone"):
            parse_phone(bad)
    assert split_grid_codes("a;b, c、d；e，f a\tg") == ("a", "b", "c", "d", "e", "f", "g")


def test_import_problems_carry_all_of_them() -> None:
    problems = [
        Problem("r.csv", 3, "phone", "bad"),
        Problem("r.csv", None, None, "whole"),
        Problem("r.csv", 2, None, "x"),
    ]
    raise_if_any([])
    with pytest.raises(ImportProblems) as raised:
        raise_if_any(problems)
    assert [str(p) for p in raised.value.problems] == ["r.csv: whole", "r.csv:2: x", "r.csv:3:phone: bad"]
    assert str(raised.value).splitlines()[0] == "3 problems found:"
