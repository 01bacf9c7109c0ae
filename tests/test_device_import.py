"""Importing IoT devices (importing/devices.py, registry/devices.py; `command-center import
devices FILE`): Chinese or English headers, CSV or XLSX; the grid from the point when not
given; every bad row named by file, row and column and nothing written; --skip-bad applies
the good rows; a district admin's file stays in their district; a second import updates."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from command_center.cli import main
from command_center.config import parse_config
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult, run_import
from command_center.store import Store, create_store
from command_center.store.device_records import device_store
from dispatch.city import City

HEADER_ZH = ["设备编号", "设备名称", "类型", "经度", "纬度", "网格", "地址", "心跳秒", "安装日期", "阈值"]
HEADER_EN = [
    "id",
    "name",
    "kind",
    "lon",
    "lat",
    "grid_code",
    "address",
    "heartbeat_s",
    "installed_at",
    "thresholds",
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = create_store(f"sqlite:///{tmp_path / 'cc.db'}")
    yield opened
    opened.close()


def _run(store: Store, city: City, path: Path, tmp_path: Path, **options: object) -> ImportResult:
    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": "sqlite:///unused.db"})
    return run_import("devices", path, ImportContext(store, city, config), ImportOptions(**options))  # type: ignore[arg-type]


def _rows(city: City) -> list[list[str]]:
    g1, g2 = city.grids[3], city.grids[40]
    return [
        [
            "SMK-001",
            "三楼烟感",
            "烟感",
            str(g1.lon),
            str(g1.lat),
            g1.code,
            "体育西路1号",
            "600",
            "2025-05-01",
            "battery_low.high=0.2",
        ],
        [
            "WL-7",
            "隧道水位",
            "water_level",
            str(g2.lon),
            str(g2.lat),
            "",
            "",
            "",
            "",
            "",
        ],  # grid from the point
    ]


def test_a_good_file_is_imported_with_grids_from_points(
    store: Store, small_city: City, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "设备.csv", HEADER_ZH, _rows(small_city))
    result = _run(store, small_city, path, tmp_path)
    assert result.applied and not result.problems and result.counts == {"added": 2, "updated": 0}
    records = device_store(store)
    smoke, water = records.get("SMK-001"), records.get("WL-7")
    assert smoke is not None and water is not None
    assert (smoke.kind, smoke.heartbeat_s, smoke.thresholds, str(smoke.installed_at)) == (
        "smoke",
        600,
        {"overrides": {"battery_low": {"high": 0.2}}},
        "2025-05-01",
    )
    located = small_city.grids[40]
    assert water.grid_code == located.code and water.heartbeat_s is None and water.state == "offline"
    assert store.registry_versions().get("devices") == 1  # running servers follow the change
    again = _run(store, small_city, path, tmp_path)
    assert again.counts == {"added": 0, "updated": 2} and records.get("SMK-001").version == 2  # type: ignore[union-attr]


def test_english_headers_and_xlsx(store: Store, small_city: City, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["设备清单"])  # a title row above the header
    sheet.append(HEADER_EN)
    for row in _rows(small_city):
        sheet.append(row)
    book.save(tmp_path / "devices.xlsx")
    result = _run(store, small_city, tmp_path / "devices.xlsx", tmp_path)
    assert result.applied and result.counts["added"] == 2, result.problems


def test_every_bad_row_is_named_and_nothing_is_written(
    store: Store, small_city: City, tmp_path: Path
) -> None:
    good = _rows(small_city)
    g = small_city.grids[5]
    bad = [
        ["bad/id", "x", "烟感", str(g.lon), str(g.lat), "", "", "", "", ""],
        ["D2", "x", "雷达", str(g.lon), str(g.lat), "", "", "", "", ""],
        ["D3", "x", "gas", "113.3", "223.1", "", "", "", "", ""],
        ["D4", "x", "gas", str(g.lon), str(g.lat), "440199999999999", "", "", "", ""],
        ["D5", "x", "gas", str(g.lon), str(g.lat), "", "", "5", "2025-13-01", "smoke=high"],
        ["SMK-001", "重复", "gas", str(g.lon), str(g.lat), "", "", "", "", ""],
        ["D7", "x", "door", "0", "0", "", "", "", "", ""],
    ]
    path = write_csv(tmp_path / "devices.csv", HEADER_ZH, good + bad)
    result = _run(store, small_city, path, tmp_path)
    assert not result.applied and device_store(store).count() == 0
    places = {(p.row, p.column) for p in result.problems}
    assert {(4, "设备编号"), (5, "类型"), (6, "纬度"), (7, "网格"), (8, "心跳秒"), (8, "安装日期"), (8, "阈值"),
            (9, "设备编号"), (10, "经度")} <= places, result.problems  # fmt: skip
    assert all(p.file == "devices.csv" for p in result.problems)
    messages = {(p.row, p.column): p.message for p in result.problems}
    assert (
        "unknown device kind '雷达'" in messages[(5, "类型")] and "unknown grid code" in messages[(7, "网格")]
    )
    assert "duplicate device id SMK-001 (also on row 2)" in messages[(9, "设备编号")]
    dry = _run(store, small_city, write_csv(tmp_path / "ok.csv", HEADER_ZH, good), tmp_path, dry_run=True)
    assert not dry.applied and dry.counts == {"added": 2, "updated": 0} and device_store(store).count() == 0
    skipped = _run(store, small_city, path, tmp_path, skip_bad=True)  # the first SMK-001 and WL-7
    assert skipped.applied and skipped.counts == {"added": 2, "updated": 0, "skipped": 7}
    assert device_store(store).get("SMK-001").name == "三楼烟感"  # type: ignore[union-attr]


def test_a_missing_column_refuses_the_file(store: Store, small_city: City, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", ["设备编号", "类型", "经度"], [["D1", "烟感", "113.3"]])
    result = _run(store, small_city, path, tmp_path)
    assert not result.applied and [str(p) for p in result.problems] == [
        "d.csv:1:lat: missing column lat (纬度)"
    ]
    assert not _run(store, small_city, path, tmp_path, skip_bad=True).counts["added"]


def test_a_district_admins_file_stays_in_the_district(store: Store, small_city: City, tmp_path: Path) -> None:
    rows = _rows(small_city)
    district = rows[0][5][:6]
    other = next(g for g in small_city.grids if not g.code.startswith(district))
    rows.append(["FAR-1", "x", "door", str(other.lon), str(other.lat), other.code, "", "", "", ""])
    result = _run(
        store, small_city, write_csv(tmp_path / "d.csv", HEADER_ZH, rows), tmp_path, district=district
    )
    assert not result.applied and [(p.row, p.column) for p in result.problems] == [(4, "网格")]
    assert "outside your district" in result.problems[0].message


def test_the_cli_exits_2_listing_problems_then_imports(tmp_path: Path, small_city: City,
                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    config = tmp_path / "cc.yaml"
    config.write_text(f"server: {{data_dir: {tmp_path / 'var'}}}\nstore: sqlite:///{tmp_path / 'cli.db'}\n"
                      "city: {generator: {seed: 7, districts: 2}}\n", encoding="utf-8")  # fmt: skip
    rows = _rows(small_city)
    bad = write_csv(
        tmp_path / "bad.csv",
        HEADER_ZH,
        [*rows, ["D9", "x", "雷达", rows[0][3], rows[0][4], "", "", "", "", ""]],
    )
    assert main(["import", "devices", str(bad), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv:4:类型: unknown device kind '雷达'" in err and "nothing was changed" in err
    good = write_csv(tmp_path / "good.csv", HEADER_ZH, rows)
    assert main(["import", "devices", str(good), "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"added": 2, "updated": 0}
    cli_store = create_store(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        assert device_store(cli_store).count() == 2
    finally:
        cli_store.close()
