"""Grid maps from GIS files (Shapefile, GeoPackage in a projected CRS), grids generated
inside real district outlines, and `command-center import check` over a city's files."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import shapely
from shapely import Polygon

from command_center.cli import main
from command_center.importing.gis import read_grid_map, warped_source
from dispatch.city import LEVELS, City, city_to_geojson, validate_map
from dispatch.city.inside import generate_inside, read_outlines

DISTRICTS = Path(__file__).resolve().parents[2] / "shared" / "geo" / "guangzhou_districts.geojson"
GK_114E = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E: metres, as a grid office's files are


def write_map(
    path: Path, areas: list[dict[str, Any]], crs: str | None = GK_114E, fields: tuple[str, ...] = ()
) -> None:
    """Areas (code, name, level, parent, polygon in WGS84) as a GIS file in `crs`; the
    projection is GDAL's own, through a WGS84 GeoPackage beside the target."""
    names = fields or ("code", "name", "level", "parent")
    keys = ("code", "name", "level", "parent")[: len(names)]
    values = [np.array([a[k] or "" for a in areas], dtype=object) for k in keys]
    wkb = shapely.to_wkb(np.array([a["polygon"] for a in areas], dtype=object))
    driver = "GPKG" if path.suffix == ".gpkg" else "ESRI Shapefile"
    if crs is None or crs == "EPSG:4326":
        pyogrio.raw.write(path, wkb, values, list(names), driver=driver, geometry_type="Polygon", crs=crs)
        return
    wgs84 = path.with_name(path.stem + "-wgs84.gpkg")
    pyogrio.raw.write(
        wgs84,
        wkb,
        values,
        list(names),
        layer="areas",
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:4326",
    )
    meta, _, projected, data = pyogrio.raw.read(warped_source(wgs84, "areas", crs))
    pyogrio.raw.write(
        path, projected, data, list(names), driver=driver, geometry_type="Polygon", crs=meta["crs"]
    )


def city_areas(city: City, levels: tuple[str, ...] = LEVELS) -> list[dict[str, Any]]:
    return [
        {"code": a.code, "name": a.name, "level": a.level, "parent": a.parent, "polygon": a.polygon}
        for a in sorted(city.areas.values(), key=lambda a: a.code)
        if a.level in levels
    ]


def square(lon: float, lat: float, size: float = 0.002) -> Polygon:
    return shapely.box(lon, lat, lon + size, lat + size)


def assert_same_areas(city: City, read: dict[str, Any], levels: tuple[str, ...] = LEVELS) -> None:
    frame = city.frame
    expected = {a.code: a for a in city.areas.values() if a.level in levels}
    assert set(read) == set(expected)
    for code, area in read.items():
        want = frame.project(expected[code].polygon).area
        assert frame.project(area.polygon).area == pytest.approx(want, rel=1e-6), code


def test_geopackage_in_a_projected_crs_is_reprojected_to_lon_lat(small_city: City, tmp_path: Path) -> None:
    path = tmp_path / "grids.gpkg"
    write_map(path, city_areas(small_city))
    info = pyogrio.read_info(path)
    assert info["crs"] == GK_114E
    minx, _, maxx, _ = info["total_bounds"]
    assert 300_000 < minx < maxx < 700_000  # metres east (false easting 500 km), not degrees
    # The projection is the real one: the central meridian maps to 500 km east exactly.
    probe = [{"code": "1", "name": "", "level": "", "parent": "", "polygon": square(114.0, 23.0)}]
    write_map(tmp_path / "probe.gpkg", probe)
    corners = shapely.get_coordinates(shapely.from_wkb(pyogrio.raw.read(tmp_path / "probe.gpkg")[2]))
    assert corners[:, 0].min() == pytest.approx(500_000.0, abs=1e-3)  # the west edge is on 114°E

    started = time.perf_counter()
    grid_map = read_grid_map(path)
    elapsed = time.perf_counter() - started
    assert grid_map.ok, grid_map.problems[:5]
    assert grid_map.report is not None
    assert_same_areas(small_city, grid_map.report.areas)
    assert grid_map.grid_codes == {g.code for g in small_city.grids}
    print(f"\n{len(small_city.areas):,} areas from a GeoPackage in {GK_114E}: {elapsed:.2f} s")
    rebuilt = grid_map.city()
    assert len(rebuilt.grids) == len(small_city.grids)


def test_shapefile_with_chinese_fields_and_no_parent_field(small_city: City, tmp_path: Path) -> None:
    path = tmp_path / "网格.shp"
    grids = city_areas(small_city, ("grid",))
    for area in grids:
        area["level"] = "网格"  # as a grid office writes it
    write_map(path, grids, fields=("编码", "名称", "层级"))
    assert pyogrio.read_info(path)["crs"] == GK_114E
    grid_map = read_grid_map(path)
    assert grid_map.ok, grid_map.problems[:5]
    assert grid_map.report is not None
    assert_same_areas(small_city, grid_map.report.areas, ("grid",))
    # Parents came from the codes (DB11): each is its community.
    assert all(a.parent == small_city.areas[code].parent for code, a in grid_map.report.areas.items())


def test_bad_features_are_reported_with_feature_number_and_field(tmp_path: Path) -> None:
    code, parent = "440106001001{:03d}", "440106001001000"
    areas = [
        {
            "code": code.format(1),
            "name": "一",
            "level": "grid",
            "parent": parent,
            "polygon": square(113.30, 23.10),
        },
        # overlaps the first by half
        {
            "code": code.format(2),
            "name": "二",
            "level": "grid",
            "parent": parent,
            "polygon": square(113.301, 23.10),
        },
        {"code": "12345", "name": "三", "level": "grid", "parent": parent, "polygon": square(113.31, 23.10)},
        {
            "code": code.format(1),
            "name": "四",
            "level": "grid",
            "parent": parent,
            "polygon": square(113.32, 23.10),
        },
        {
            "code": code.format(5),
            "name": "五",
            "level": "street",
            "parent": parent,
            "polygon": square(113.33, 23.10),
        },
    ]
    path = tmp_path / "grids.gpkg"
    write_map(path, areas, fields=("编码", "名称", "level", "parent"))
    grid_map = read_grid_map(path)
    assert not grid_map.ok
    found = {(p.row, p.column) for p in grid_map.problems}
    # GeoPackage FIDs start at 1: the n-th feature written is FID n.
    assert (2, "geom") in found  # overlap
    assert (3, "编码") in found  # not a 15-digit code
    assert (4, "编码") in found  # duplicate code
    assert (5, "level") in found  # a grid code called a street
    assert all(p.file == "grids.gpkg" for p in grid_map.problems)
    overlap = next(p for p in grid_map.problems if p.row == 2)
    assert "overlaps feature 1" in overlap.message
    assert str(overlap).startswith("grids.gpkg:2:geom: ")


def test_missing_field_and_unreadable_files_give_one_problem_each(tmp_path: Path) -> None:
    areas = [{"code": "440106001001001", "polygon": square(113.3, 23.1)}]
    no_name = tmp_path / "no_name.gpkg"
    write_map(no_name, areas, fields=("code",))
    problems = read_grid_map(no_name).problems
    assert [(p.row, p.column) for p in problems] == [(None, "name")]

    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(np.random.default_rng(1).bytes(4096))
    problems = read_grid_map(broken).problems
    assert len(problems) == 1 and problems[0].row is None and "not a readable gpkg" in problems[0].message

    missing = read_grid_map(tmp_path / "absent.shp").problems
    assert len(missing) == 1 and missing[0].file.endswith("absent.shp")
    assert read_grid_map(tmp_path / "grids.kml").problems[0].message.startswith("not a grid map")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_a_file_without_crs_is_read_only_when_plainly_lon_lat(tmp_path: Path) -> None:
    areas = [
        {
            "code": "440106001001001",
            "name": "一",
            "level": "grid",
            "parent": "440106001001000",
            "polygon": square(113.3, 23.1),
        }
    ]
    lon_lat = tmp_path / "lonlat.shp"
    write_map(lon_lat, areas, crs=None)
    assert pyogrio.read_info(lon_lat)["crs"] is None
    assert read_grid_map(lon_lat).ok

    metres = tmp_path / "metres.shp"
    write_map(metres, areas)
    metres.with_suffix(".prj").unlink()  # the usual way a Shapefile loses its CRS
    problems = read_grid_map(metres).problems
    assert len(problems) == 1 and "no coordinate reference system" in problems[0].message


def test_shapefile_in_gbk_without_cpg_reads_with_the_encoding_given(tmp_path: Path) -> None:
    path = tmp_path / "gbk.shp"
    values = [
        np.array([v], dtype=object) for v in ("440106001001001", "石牌第1网格", "grid", "440106001001000")
    ]
    wkb = shapely.to_wkb(np.array([square(113.3, 23.1)], dtype=object))
    fields = ["code", "name", "level", "parent"]
    pyogrio.raw.write(
        path,
        wkb,
        values,
        fields,
        driver="ESRI Shapefile",
        geometry_type="Polygon",
        crs="EPSG:4326",
        encoding="GBK",
    )
    path.with_suffix(".cpg").unlink(missing_ok=True)
    with path.with_suffix(".dbf").open("r+b") as dbf:  # an old file: no language driver id either
        dbf.seek(29)
        dbf.write(b"\0")
    problems = read_grid_map(path).problems
    assert len(problems) == 1 and "--encoding GBK" in problems[0].message
    grid_map = read_grid_map(path, encoding="GBK")
    assert grid_map.ok and grid_map.report is not None, grid_map.problems
    assert grid_map.report.areas["440106001001001"].name == "石牌第1网格"


@pytest.mark.skipif(not DISTRICTS.exists(), reason="shared district outlines not present")
def test_grids_generated_inside_the_guangzhou_districts() -> None:
    outlines = read_outlines(DISTRICTS)
    assert len(outlines) == 11 and outlines[0].code == "440103"
    started = time.perf_counter()
    city = generate_inside(outlines, seed=7)  # Guangzhou-sized: about 20,000 grids
    elapsed = time.perf_counter() - started
    report = validate_map(city_to_geojson(city, levels=LEVELS))
    assert report.errors == []
    print(f"\n{len(city.grids):,} grids inside 11 district outlines in {elapsed:.1f} s")
    assert {d.code[:6] for d in city.districts} == {o.code for o in outlines}
    assert 19_000 < len(city.grids) < 21_000 and len(city.workers) == 0
    assert all(len(code) == 15 for code in city.areas) and city.root is not None

    frame = city.frame
    for outline in outlines:
        district = frame.project(outline.polygon)
        grids = [g for g in city.grids if g.code.startswith(outline.code)]
        assert grids, outline.code
        shapes = frame.project(np.array([g.polygon for g in grids], dtype=object))
        outside = shapely.area(shapely.difference(shapes, district))
        assert float(outside.max()) < 1.0, outline.name  # m²: float noise only


@pytest.mark.skipif(not DISTRICTS.exists(), reason="shared district outlines not present")
def test_grids_inside_outlines_are_deterministic_from_the_seed() -> None:
    outlines = read_outlines(DISTRICTS)[:2]
    first, again = (generate_inside(outlines, seed=3, streets=6) for _ in range(2))
    other = generate_inside(outlines, seed=4, streets=6)
    assert list(first.areas) == list(again.areas)
    assert all(first.areas[c].polygon.equals_exact(again.areas[c].polygon, 0) for c in first.areas)
    assert any(
        not first.areas[c].polygon.equals(other.areas[c].polygon) for c in first.areas if c in other.areas
    )


ROSTER_HEADER = ["工号", "姓名", "手机", "网格编码", "专兼职", "班次"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_import_check_cli(small_city: City, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grids = tmp_path / "grids.gpkg"
    write_map(grids, city_areas(small_city))
    codes = [g.code for g in small_city.grids]
    roster = tmp_path / "roster.csv"
    rows = [
        [f"w{i:05d}", f"网格员{i}", f"139{i:08d}", f"{codes[i]};{codes[i + 1]}", "专职", "白班"]
        for i in range(50)
    ]
    write_csv(roster, ROSTER_HEADER, rows)
    cameras = tmp_path / "cameras.csv"
    spots = [(g.code, g.lon, g.lat) for g in small_city.grids[:20]]
    write_csv(
        cameras,
        ["id", "name", "url", "kind", "lon", "lat", "heading", "grid_code"],
        [[f"cam{i}", f"摄像头{i}", f"rtsp://10.0.0.{i}/live", "rtsp", f"{lon:.6f}", f"{lat:.6f}", "90", code]
         for i, (code, lon, lat) in enumerate(spots)],
    )  # fmt: skip
    args = ["import", "check", "--grids", str(grids), "--roster", str(roster), "--cameras", str(cameras)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "all files ok" in out and "50 workers" in out and "20 cameras" in out

    rows[2][3] = "440106999999999"  # line 4: header, then rows from line 2
    rows[5][0] = rows[4][0]  # duplicate worker id, lines 6 and 7
    write_csv(roster, ROSTER_HEADER, rows)
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "roster.csv:4:网格编码: " in out and "440106999999999" in out
    assert "roster.csv:7:工号: " in out
    assert "roster.csv: 2 problems" in out and "nothing was imported" in out


def test_import_check_against_a_configured_city(
    small_city: City, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a grid map of its own, the roster is checked against the city a configuration runs."""
    city_map = tmp_path / "city.geojson"
    city_map.write_text(json.dumps(city_to_geojson(small_city, levels=LEVELS)), encoding="utf-8")
    config = tmp_path / "city.yaml"
    config.write_text(
        f"server: {{data_dir: {tmp_path / 'var'}}}\ncity: {{geojson: {city_map}}}\n", encoding="utf-8"
    )
    roster = tmp_path / "roster.csv"
    grid = small_city.grids[0].code
    write_csv(
        roster,
        ROSTER_HEADER,
        [
            ["w1", "甲", "13900000001", grid, "兼职", "夜班"],
            ["w2", "乙", "020-12345678", "440106001001999", "专职", "全天"],
        ],
    )
    assert main(["import", "check", "--roster", str(roster), "--city-from", str(config)]) == 1
    out = capsys.readouterr().out
    assert "roster.csv:3:网格编码: unknown grid code 440106001001999" in out
    assert "roster.csv:2" not in out
