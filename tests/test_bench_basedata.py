"""`command-center bench basedata` on a tiny district: the same rows go both ways (import
files in the clear, table files sealed), the databases end up holding them, and the
output holds the count and map percentiles, the city's extrapolated figures and a ratio."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from basedata.identity import check_id_number
from basedata.sample import SampleSpec
from bench.basedata import _write_files
from command_center import cli
from tests.helpers import PG_ADMIN

GRIDS = [("440111001001001", 113.27, 23.20), ("440111001001002", 113.28, 23.21)]


def _postgres_or_skip() -> None:
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN}: {exc}")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_import_files_hold_clear_values_and_the_table_files_the_sealed_ones(tmp_path: Path) -> None:
    written = _write_files(tmp_path, GRIDS, SampleSpec(people=300, seed=3))
    assert written["person"] == 300 and written["building"] == written["address"] > 0
    plain, table = _rows(tmp_path / "person.csv"), _rows(tmp_path / "person.table.csv")
    assert [p["id"] for p in plain] == [t["id"] for t in table]  # the same people, in the same order
    for clear, sealed in zip(plain, table, strict=True):
        number = check_id_number(clear["id_number"]).number  # a valid ID number, in the clear
        assert sealed["id_number_cipher"].startswith("v1:") and number not in sealed["id_number_cipher"]
        assert sealed["id_number_tail"] == number[-4:]
        assert (sealed["phone_tail"] == r"\N") == (clear["phone"] == "")  # NULL in the table file, empty cell
        assert sealed["source"] == "import" and clear["grid_code"] == sealed["grid_code"]
    buildings = _rows(tmp_path / "building.table.csv")
    assert all(b["name"] == "" for b in buildings)  # an empty name stays a string, not NULL (NOT NULL column)


def test_bench_basedata_imports_both_ways_then_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _postgres_or_skip()
    args = ["--people", "3000", "--grids", "30", "--repeat", "3", "--districts", "1"]
    assert cli.main(["bench", "basedata", *args, "--cache-dir", str(tmp_path), "--store", PG_ADMIN]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("ratio: ") and float(lines[-1].split()[1]) > 0
    figures = dict(line.split(": ", 1) for line in lines[:-1])
    assert figures["person_rows"] == "3000" and int(figures["household_rows"]) > 1000
    assert float(figures["ours_s"]) > 0 and float(figures["copy_s"]) > 0
    assert figures["counts_grid_grids"] == "1" and figures["counts_district_grids"] == "30"
    for scope in ("grid", "street", "district"):
        assert 0 < float(figures[f"counts_{scope}_p50_ms"]) <= float(figures[f"counts_{scope}_p95_ms"])
    assert figures["counts_exact"] == "True"  # the kept counts are the grouped ones, at the bench's scale too
    assert float(figures["counts_district_grouped_p95_ms"]) > 0
    assert float(figures["counts_district_next_day_p95_ms"]) > 0
    assert float(figures["copy_with_triggers_s"]) > 0 and float(figures["ratio_with_triggers"]) > 0
    assert int(figures["peak_rss_mb"]) > 0 and float(figures["db_mb"]) > 0
    for zoom in (16, 14):
        assert int(figures[f"map_z{zoom}_buildings"]) > 0
        assert 0 < float(figures[f"map_z{zoom}_p50_ms"]) <= float(figures[f"map_z{zoom}_p95_ms"])
    assert figures["city_people"] == "18800000" and float(figures["city_import_min_est"]) > 0
    assert int(figures["city_rows_est"]) > int(figures["person_rows"]) * 6000
