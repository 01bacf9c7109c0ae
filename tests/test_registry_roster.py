"""A real city's roster: 22,000+ workers imported (CSV and XLSX) onto grids imported
inside Guangzhou's district outlines, dispatch following it; bad files changing nothing;
re-imports keeping history; leave; district scope on /api/roster; live on a second node;
the same import on PostgreSQL."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from command_center.config import Config, parse_config
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult, run_import
from command_center.runtime import Runtime
from command_center.store import Store, create_store
from dispatch.city import City
from dispatch.intake import Intake
from tests.helpers import SHARED, build_runtime, postgres_database, serve_app, token_for

OUTLINES = SHARED / "geo" / "guangzhou_districts.geojson"
CHEAP_HASH = {"hash_time_cost": 1, "hash_memory_kib": 1024}
WORKERS = 22_400
HEADER = ["工号", "编号", "姓名", "手机", "网格编码", "专兼职", "级别", "班次"]


def roster_rows(grids: list[str], count: int = WORKERS) -> list[list[str]]:
    """Worker i on grid i mod n, all day; every tenth also on the next grid (一员多格)."""
    rows = []
    for i in range(count):
        codes = [grids[i % len(grids)]] + ([grids[(i + 1) % len(grids)]] if i % 10 == 0 else [])
        rows.append(
            [f"G{i:06d}", f"N{i:06d}", f"王{i % 97}", f"138{i:08d}", ";".join(codes), "专职" if i % 3 else "兼职",
             "基础", "全天"]
        )  # fmt: skip
    return rows


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    """A one-sheet workbook of inline strings, written directly: openpyxl takes ~10 s to
    write 22,000 rows, this a fraction of one (openpyxl reads it back, as any Excel file)."""
    import zipfile
    from xml.sax.saxutils import escape

    def cell(text: str) -> str:
        return f'<c t="inlineStr"><is><t>{escape(text)}</t></is></c>'

    body = "".join(f"<row>{''.join(cell(t) for t in row)}</row>" for row in [HEADER, *rows])
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>",
        "_rels/.rels": f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook {ns} xmlns:r="{rel}"><sheets><sheet name="网格员" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f"<worksheet {ns}><sheetData>{body}</sheetData></worksheet>",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts.items():
            book.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + text)
    return path


def apply(kind: str, path: Path, store: Store, city: City, config: Config, **options: Any) -> ImportResult:
    return run_import(kind, path, ImportContext(store, city, config), ImportOptions(**options))


class World:
    def __init__(
        self, folder: Path, config: Config, store: Store, city: City, timings: dict[str, float]
    ) -> None:
        self.folder, self.config, self.store, self.city, self.timings = folder, config, store, city, timings
        self.rows: list[list[str]] = []


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Grids generated inside the 11 outlines, imported; then the roster, in CSV then in XLSX."""
    if not OUTLINES.exists():
        pytest.skip(f"{OUTLINES} is absent")
    from dispatch.city.codes import LEVELS
    from dispatch.city.geojson import city_to_geojson
    from dispatch.city.inside import generate_inside, read_outlines

    folder = tmp_path_factory.mktemp("city")
    config = parse_config(
        {"server": {"data_dir": str(folder)}, "store": f"sqlite:///{folder / 'cc.db'}", "auth": CHEAP_HASH}
    )
    generated = generate_inside(read_outlines(OUTLINES), seed=7, streets=40)
    import json

    (folder / "grids.geojson").write_text(
        json.dumps(city_to_geojson(generated, LEVELS, precision=9)), encoding="utf-8"
    )
    store = create_store(config.store)
    timings: dict[str, float] = {}
    result = apply("grids", folder / "grids.geojson", store, City(generated.areas), config)
    assert result.applied, result.problems[:5]
    from command_center.city_map import load_city

    world = World(folder, config, store, load_city(config, store), timings)
    world.rows = roster_rows([g.code for g in world.city.grids])
    for kind, path in (
        ("csv", write_csv(folder / "roster.csv", world.rows)),
        ("xlsx", write_xlsx(folder / "roster.xlsx", world.rows)),
    ):
        start = time.perf_counter()
        result = apply("roster", path, store, world.city, config, actor="admin")
        world.timings[kind] = time.perf_counter() - start
        assert result.applied, result.problems[:5]
        setattr(world, f"{kind}_result", result)
    yield world
    store.close()


def test_a_22000_worker_roster_in_csv_then_xlsx_on_imported_grids(world: World) -> None:
    csv_result, xlsx_result = world.csv_result, world.xlsx_result  # type: ignore[attr-defined]
    grids = len(world.city.grids)
    assert len(world.city.districts) == 11 and grids > 4000
    assert (
        csv_result.counts["added"] == WORKERS
        and csv_result.counts["assignments_opened"] == WORKERS + WORKERS // 10
    )
    # The same roster again, as XLSX: every worker unchanged, no assignment touched.
    assert xlsx_result.counts["unchanged"] == WORKERS and xlsx_result.counts["added"] == 0
    assert xlsx_result.counts["assignments_opened"] == xlsx_result.counts["assignments_closed"] == 0
    assert world.timings["csv"] < 20, world.timings  # read, checked and applied
    state = world.store.roster_state()
    assert len(state.workers) == WORKERS and sum(map(len, state.grids.values())) == WORKERS + WORKERS // 10


def test_an_incident_in_an_imported_grid_goes_to_its_imported_worker(world: World) -> None:
    rt = build_runtime(world.config)
    assert rt.city.map_seq is not None and len(rt.city.city.grids) == len(world.city.grids)
    assert len(rt.city.workers) == WORKERS
    grid = rt.city.city.grids[123]
    expected = {w.id for w in rt.city.city.workers_by_grid[grid.code]}
    case = rt.dispatcher.intake(
        Intake("worker", grid.lon, grid.lat, datetime.now(UTC), "R1", matter_code="0101")
    ).case
    assert case.grid_code == grid.code and case.assignee in expected
    # One worker, many grids: G000000 serves grids 0 and 1.
    assert {w.grid_code for w in rt.city.grids_of("G000000")} == {g.code for g in rt.city.city.grids[:2]}


def bad_roster_files(world: World) -> dict[str, tuple[Path, list[tuple[int | None, str | None]]]]:
    """name → (file, the (row, column) each problem must name)."""
    grid = world.city.grids[0].code
    good = ["B1", "B1", "李四", "13800000001", grid, "专职", "基础", "全天"]
    folder = world.folder
    broken = folder / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    return {
        "wrong column": (write_csv(folder / "col.csv", [good], ["工号", "姓名", "手机号码x", "网格编码", "专兼职", "班次"]), [(1, "手机号码x"), (1, "phone")]),
        "unknown grid": (write_csv(folder / "grid.csv", [good[:4] + ["440199999999999"] + good[5:]]), [(2, "网格编码")]),
        "duplicate id": (write_csv(folder / "dup.csv", [good, ["B1", "B2", *good[2:]]]), [(3, "工号")]),
        "broken xlsx": (broken, [(None, None)]),
    }  # fmt: skip


def test_bad_roster_files_name_every_problem_and_change_nothing(world: World) -> None:
    before = world.store.roster_state()
    for name, (path, places) in bad_roster_files(world).items():
        result = apply("roster", path, world.store, world.city, world.config)
        assert not result.applied, name
        found = [(p.row, p.column) for p in result.problems]
        for place in places:
            assert place in found, (name, result.problems)
        assert world.store.roster_state() == before, name


def test_reimport_keeps_history_counts_and_skip_bad(world: World, small_city: City, tmp_path: Path) -> None:
    config = parse_config(
        {"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'r.db'}", "auth": CHEAP_HASH}
    )
    store = create_store(config.store)
    a, b, c = (g.code for g in small_city.grids[:3])
    rows = [["M1", "M1", "甲", "13800000001", a, "专职", "基础", "全天"], ["M2", "M2", "乙", "13800000002", c, "兼职", "基础", "白班"],
            ["M3", "M3", "丙", "13800000003", c, "兼职", "基础", "夜班"]]  # fmt: skip
    assert (
        apply("roster", write_csv(tmp_path / "1.csv", rows), store, small_city, config).counts["added"] == 3
    )
    rows[0][4] = b  # M1 moves from grid a to b
    rows[1][2] = "乙二"  # M2 renamed; M3 unchanged
    result = apply("roster", write_csv(tmp_path / "2.csv", rows), store, small_city, config, actor="alice")
    assert result.applied
    assert {k: result.counts[k] for k in ("added", "updated", "unchanged")} == {
        "added": 0,
        "updated": 2,
        "unchanged": 1,
    }
    history = store.roster_history(worker="M1")
    assert [(h["grid_code"], h["valid_to"] is None) for h in history] == [(b, True), (a, False)]
    assert history[0]["source"] == "import:2.csv by alice"
    # --skip-bad: the good rows go in, the bad one is reported and counted.
    bad = ["M5", "M5", "戊", "12345", a, "专职", "基础", "全天"]
    result = apply("roster", write_csv(tmp_path / "3.csv", [rows[2], ["M4", "M4", "丁", "13800000004", a, "专职", "基础", "全天"], bad]),
                   store, small_city, config, skip_bad=True)  # fmt: skip
    assert result.applied and result.counts["added"] == 1 and result.counts["skipped"] == 1
    assert [(p.row, p.column) for p in result.problems] == [(4, "手机")]
    assert set(store.roster_state().workers) == {"M1", "M2", "M3", "M4"}
    store.close()


def test_users_file_every_problem_then_applied(world: World) -> None:
    path = world.folder / "users.csv"
    d1 = world.city.districts[0].code[:6]
    rows = [["chief", "管理员", "", "", ""], ["d1", "admin", d1, "", "password-1"], ["g0", "网格员", "", "G000000", ""],
            ["x1", "boss", "", "", ""], ["x2", "officer", "999999", "", ""], ["x3", "worker", "", "NOPE", ""], ["chief", "officer", "", "", ""]]  # fmt: skip
    write_csv(path, rows, ["用户名", "角色", "辖区", "工号", "密码"])
    result = apply("users", path, world.store, world.city, world.config)
    assert not result.applied and world.store.get_user("chief") is None
    assert {(p.row, p.column) for p in result.problems} == {
        (5, "角色"),
        (6, "辖区"),
        (7, "工号"),
        (8, "用户名"),
    }
    write_csv(path, rows[:3], ["用户名", "角色", "辖区", "工号", "密码"])
    result = apply("users", path, world.store, world.city, world.config)
    assert result.applied and result.counts["added"] == 3 and "password" in result.notes
    assert world.store.get_user("d1")["jurisdiction"] == d1  # type: ignore[index]
    write_csv(path, [["d1", "officer", d1, "", ""]], ["用户名", "角色", "辖区", "工号", "密码"])
    result = apply("users", path, world.store, world.city, world.config)
    row = world.store.get_user("d1")
    assert (
        result.counts["updated"] == 1
        and row is not None
        and row["role"] == "officer"
        and row["token_version"] == 1
    )


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[tuple[Runtime, Any]]:
    rt = build_runtime(world.config)
    with serve_app(rt) as server:
        yield rt, server


def client(rt: Runtime, server: Any, user: str = "admin", jurisdiction: str = "") -> httpx.Client:
    token = token_for(rt, "admin", user=user, jurisdiction=jurisdiction)
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_leave_takes_a_worker_off_duty_and_the_grid_other_worker_gets_the_case(
    world: World, served: tuple[Runtime, Any]
) -> None:
    rt, server = served
    grid = rt.city.city.grids[200]
    team = {w.id for w in rt.city.city.workers_by_grid[grid.code]}
    assert len(team) >= 2
    first = rt.dispatcher.intake(
        Intake("worker", grid.lon, grid.lat, datetime.now(UTC), "L1", matter_code="0101")
    ).case
    now = datetime.now(UTC)
    with client(rt, server) as admin:
        answer = admin.post(f"/api/roster/{first.assignee}/leave", json={
            "starts": (now - timedelta(hours=1)).isoformat(), "ends": (now + timedelta(days=2)).isoformat(), "note": "病假"})  # fmt: skip
        assert answer.status_code == 201, answer.text
        shown = admin.get(f"/api/roster/{first.assignee}").json()
        assert shown["on_leave"] is True and shown["leave"][0]["note"] == "病假"
    second = rt.dispatcher.intake(
        Intake("worker", grid.lon, grid.lat, datetime.now(UTC), "L2", matter_code="0201")
    ).case
    assert second.grid_code == grid.code and second.assignee in team - {first.assignee}


def test_roster_api_create_number_move_and_history(world: World, served: tuple[Runtime, Any]) -> None:
    rt, server = served
    grids = [g.code for g in rt.city.city.grids[300:303]]
    with client(rt, server) as admin:
        made = admin.post("/api/roster", json={"id": "API1", "name": "新人", "phone": "13900000001", "kind": "专职",
                                               "grids": [{"grid_code": grids[0], "shift": "白班"}]})  # fmt: skip
        assert made.status_code == 201, made.text
        assert made.json()["code"] == f"{grids[0][:6]}-0001" and made.json()["grids"][0]["shift"] == "day"
        again = admin.post("/api/roster", json={"id": "API2", "name": "又一人", "phone": "13900000002", "kind": "兼职",
                                                "grids": [{"grid_code": grids[0]}]})  # fmt: skip
        assert again.json()["code"] == f"{grids[0][:6]}-0002"
        assert (
            admin.post(
                "/api/roster", json={"id": "API1", "name": "x", "phone": "13900000001", "kind": "专职"}
            ).status_code
            == 409
        )
        unknown = admin.post("/api/roster", json={"id": "API3", "name": "x", "phone": "13900000001", "kind": "专职",
                                                  "grids": [{"grid_code": "440199999999999"}]})  # fmt: skip
        assert unknown.status_code == 422
        moved = admin.put(
            "/api/roster/API1/grids",
            json={"grids": [{"grid_code": grids[1]}, {"grid_code": grids[2], "shift": "all"}]},
        )
        assert [g["grid_code"] for g in moved.json()["grids"]] == grids[1:]
        history = admin.get("/api/roster/history", params={"worker": "API1"}).json()["items"]
        assert [(h["grid_code"], h["valid_to"] is None) for h in history][-1] == (grids[0], False)
        assert (
            admin.patch("/api/roster/API1", json={"active": False, "name": "新人二"}).json()["active"]
            is False
        )
        listed = admin.get("/api/roster", params={"q": "API", "active": "true"}).json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == "API2"
    assert "API1" not in rt.city.workers and "API2" in rt.city.workers  # inactive: off the dispatch roster


def test_a_district_admin_sees_and_changes_only_their_district(
    world: World, served: tuple[Runtime, Any]
) -> None:
    rt, server = served
    d1, d2 = (d.code[:6] for d in rt.city.city.districts[:2])
    mine = next(g.code for g in rt.city.city.grids if g.code.startswith(d1))
    # A grid inside d2, away from its edge: no worker of it also serves a grid of d1.
    theirs = [g.code for g in rt.city.city.grids if g.code.startswith(d2)][5]
    outsider = rt.city.city.workers_by_grid[theirs][0].id
    with client(rt, server, "dadmin", d1) as dadmin:
        page = dadmin.get("/api/roster", params={"limit": 500}).json()
        assert page["total"] > 0 and all(
            any(g["grid_code"].startswith(d1) for g in w["grids"]) for w in page["items"]
        )
        assert dadmin.get(f"/api/roster/{outsider}").status_code == 404
        assert dadmin.get("/api/roster", params={"grid": theirs}).json()["total"] == 0
        made = dadmin.post("/api/roster", json={"id": "D1X", "name": "x", "phone": "13900000009", "kind": "专职",
                                                "grids": [{"grid_code": theirs}]})  # fmt: skip
        assert made.status_code == 403
        local = rt.city.city.workers_by_grid[mine][0].id
        assert (
            dadmin.put(f"/api/roster/{local}/grids", json={"grids": [{"grid_code": theirs}]}).status_code
            == 403
        )
        assert all(h["grid_code"].startswith(d1) for h in dadmin.get("/api/roster/history").json()["items"])


def test_a_roster_change_reaches_a_second_node_while_it_runs(
    world: World, served: tuple[Runtime, Any]
) -> None:
    rt, server = served
    other = build_runtime(world.config)
    grid = rt.city.city.grids[400].code
    with serve_app(other):  # its registry follower polls the store every second
        with client(rt, server) as admin:
            made = admin.post("/api/roster", json={"id": "LIVE1", "name": "活", "phone": "13900000011", "kind": "专职",
                                                   "grids": [{"grid_code": grid}]})  # fmt: skip
            assert made.status_code == 201
        # The follower polls every second, so two seconds on a quiet machine; the deadline is wider
        # because the suite shares two cores with browsers (it once took 2.6 s there): what this
        # asserts is that the second node follows without a restart, not how fast.
        deadline = time.monotonic() + 10
        while "LIVE1" not in other.city.workers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "LIVE1" in other.city.workers
        assert "LIVE1" in {w.id for w in other.city.city.workers_by_grid[grid]}


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def test_the_roster_import_on_postgresql(world: World, pg_url: str) -> None:
    config = parse_config(
        {"server": {"data_dir": str(world.folder / "pg")}, "store": pg_url, "auth": CHEAP_HASH}
    )
    store = create_store(config.store)
    try:
        start = time.perf_counter()
        result = apply("roster", world.folder / "roster.csv", store, world.city, config, with_users=True)
        took = time.perf_counter() - start
        assert result.applied and result.counts["added"] == WORKERS and result.counts["accounts"] == WORKERS
        assert took < 20, took
        state = store.roster_state()
        assert (
            len(state.workers) == WORKERS and sum(map(len, state.grids.values())) == WORKERS + WORKERS // 10
        )
        assert store.get_user("G000001") is not None
        moved = [list(world.rows[1])]
        moved[0][4] = world.city.grids[0].code
        result = apply("roster", write_csv(world.folder / "pg_move.csv", moved), store, world.city, config)
        assert result.counts["updated"] == 1
        assert [h["valid_to"] is None for h in store.roster_history(worker="G000001")] == [True, False]
    finally:
        store.close()


def test_a_video_incident_from_an_imported_camera_goes_to_the_grids_imported_worker(
    world: World, tmp_path: Path
) -> None:
    """The issue's chain: imported grids (inside the real outlines), imported roster, 500
    imported cameras; an incident seen by one of those cameras becomes a case in the
    camera's grid, dispatched to that grid's imported worker on duty.

    On a copy of the world's store: a node of an earlier test still following the
    world's store would start 500 simulated cameras."""
    import sqlite3

    from vision.evidence import snapshot
    from vision.incident import Incident

    with sqlite3.connect(world.folder / "cc.db") as source, sqlite3.connect(tmp_path / "cc.db") as copy:
        source.backup(copy)
    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}"})
    store = create_store(config.store)

    grids = world.city.grids[:: max(1, len(world.city.grids) // 500)][:500]
    rows = [
        [f"gz-{n:04d}", f"{g.name}路口", f"sim://street?seed={n % 20 + 1}", "sim", f"{g.lon:.7f}", f"{g.lat:.7f}",
         str(n * 7 % 360), g.code]
        for n, g in enumerate(grids)
    ]  # fmt: skip
    header = ["编号", "名称", "地址", "类型", "经度", "纬度", "朝向", "网格编码"]
    result = apply("cameras", write_csv(tmp_path / "cameras.csv", rows, header), store, world.city, config)
    assert result.applied and result.counts["added"] == 500, result.problems[:3]

    store.close()
    rt = build_runtime(config)  # a node starting on what was imported: map, roster, cameras
    camera = next(c for c in rt.config.cameras if c.id == "gz-0123")
    grid = grids[123]
    assert camera.grid_code == grid.code and len(rt.config.cameras) >= 500
    image = np.full((180, 320, 3), 90, np.uint8)
    incident = Incident(
        camera_id=camera.id, ts=time.time(), rule="illegal_parking", zone="no-parking", label="vehicle", score=0.9,
        box=(40, 40, 160, 120), lon=camera.location.lon, lat=camera.location.lat, track_id=1,
        snapshot_jpeg=snapshot(image, (40, 40, 160, 120), "vehicle"),
    )  # fmt: skip
    doc = rt.recorder.document(incident)
    [(intake, _, _)] = rt.casework.intake_batch([doc])
    now = datetime.now(rt.dispatcher.tz)
    on_duty = {w.id for w in rt.city.city.workers_by_grid[grid.code] if w.on_duty(now)}
    assert intake.case.source == "video" and intake.case.grid_code == grid.code
    assert on_duty and intake.case.assignee in on_duty
    assert rt.store.roster_worker(intake.case.assignee) is not None  # an imported worker, not a generated one
