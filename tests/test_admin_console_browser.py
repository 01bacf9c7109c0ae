"""The admin console in a real browser (issue 16's Done-when): an admin creates a user who can
then sign in; a user the admin disables is signed out of their open page; a district admin's
console shows only their district's accounts and none of the city-only tabs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, sign_in_form
from tests.helpers import ServerThread, build_runtime, serve_app

pytestmark = NEEDS_BROWSER

CHEAP_HASH = {"hash_time_cost": 1, "hash_memory_kib": 1024}
D1, D2 = "440104", "440103"  # small_city's districts: 越秀区, 荔湾区
SIGNED_OUT_S = 8.0  # a disabled user's open page shows the sign-in within this


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("admin_console")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}", "auth": CHEAP_HASH})
    rt = build_runtime(config, city=small_city)
    rt.auth.users.seed(
        [
            Account("admin", "admin-password", "admin"),
            Account("dadmin", "dadmin-password", "admin", jurisdiction=D1),
            Account("d1off", "d1off-password", "officer", jurisdiction=D1),
            Account("d2off", "d2off-password", "officer", jurisdiction=D2),
            Account("night", "night-password", "officer"),
        ]
    )
    with serve_app(rt) as srv:
        yield srv, rt


def console(browser: Any, url: str, user: str, width: int = 1280, errors: list[str] | None = None) -> Any:
    page = new_page(browser, width, 900, errors)
    page.goto(f"{url}/admin#users")
    sign_in_form(page, user, f"{user}-password")
    page.wait_for_selector("#tab-users tbody tr[data-user]", timeout=15000)
    return page


def test_an_admin_creates_a_user_who_can_then_sign_in(server: tuple[ServerThread, Runtime], browser: Any) -> None:
    srv, rt = server
    errors: list[str] = []
    page = console(browser, srv.url, "admin", 390, errors)  # a phone's width
    assert "全市" in page.inner_text("#me")
    form = "#tab-users form[data-part=create]"
    page.fill(f"{form} input[name=username]", "clerk1")
    page.select_option(f"{form} select[name=role]", "officer")
    page.fill(f"{form} input.jurisdiction", D1)
    page.wait_for_function(f"() => document.querySelector('{form} .area-name').textContent === '越秀区'", timeout=10000)
    page.fill(f"{form} input[name=password]", "clerk1-password")
    page.click(f"{form} button[type=submit]")
    row = page.wait_for_selector("#tab-users tr[data-user=clerk1]", timeout=10000)
    assert "越秀区" in row.inner_text() and "从未登录" in row.inner_text()
    assert rt.store.get_user("clerk1")["jurisdiction"] == D1  # type: ignore[index]
    # the new account signs in (an officer: the console tells them it is for admins)
    theirs = new_page(browser, 1280, 900)
    theirs.goto(f"{srv.url}/admin")
    sign_in_form(theirs, "clerk1", "clerk1-password")
    theirs.wait_for_selector("#denied:not([hidden])", timeout=10000)
    assert "clerk1" in theirs.inner_text("#me") and "越秀区" in theirs.inner_text("#me")
    page.reload()
    page.wait_for_selector("#tab-users tr[data-user=clerk1]", timeout=10000)
    assert "从未登录" not in page.inner_text("#tab-users tr[data-user=clerk1] .last-login")
    assert errors == []


def test_a_disabled_user_is_signed_out_of_an_open_page(server: tuple[ServerThread, Runtime], browser: Any) -> None:
    srv = server[0]
    wall = new_page(browser, 1280, 800)
    wall.goto(f"{srv.url}/wall")
    sign_in_form(wall, "night", "night-password")
    wall.wait_for_selector("#conn[data-state=open]", timeout=20000)  # its live websocket is up
    admin = console(browser, srv.url, "admin")
    admin.on("dialog", lambda dialog: dialog.accept())  # 停用 asks to confirm
    admin.click("#tab-users tr[data-user=night] button.btn-danger")
    admin.wait_for_selector("#tab-users tr[data-user=night].revoked", timeout=10000)
    started = time.monotonic()
    wall.wait_for_selector("#login", timeout=SIGNED_OUT_S * 1000)
    assert time.monotonic() - started < SIGNED_OUT_S
    # and the sign-in refuses the disabled account
    wall.fill("#login input[name=username]", "night")
    wall.fill("#login input[name=password]", "night-password")
    wall.click("#login button[type=submit]")
    wall.wait_for_timeout(1000)
    assert wall.query_selector("#login") is not None


def _one_camera_and_proposal_per_district(srv: ServerThread, rt: Runtime) -> None:
    """As the city admin: a camera and a matter proposal in each of the two districts."""
    with httpx.Client(base_url=srv.url, timeout=10, headers=srv.headers(user="admin")) as http:
        for district in (D1, D2):
            grid = next(g for g in rt.city.city.grids if g.code.startswith(district))
            camera = {"id": f"cam-{district}", "name": f"{grid.name}路口", "kind": "sim", "url": "sim://street?seed=3",
                      "location": {"lon": grid.lon, "lat": grid.lat}, "fps": 1, "grid_code": grid.code}  # fmt: skip
            assert http.post("/api/cameras", json=camera).status_code == 201
            matter = {"code": f"77{district[-2:]}", "name": f"{grid.name}测试事项", "name_en": "Test", "class": "其他",
                      "department": "街道办事处", "handler": "worker", "time_limit": {"hours": 4},
                      "closure_standard": "处置完毕", "rules": [], "labels": []}  # fmt: skip
            proposal = {"district": district, "change": "add", "matter": matter,
                        "effective_from": datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat(), "reason": "测试"}  # fmt: skip
            made = http.post("/api/matters/proposals", json=proposal)
            assert made.status_code == 201, made.text


def test_a_district_admins_console_shows_only_their_district(server: tuple[ServerThread, Runtime], browser: Any) -> None:
    srv = server[0]
    _one_camera_and_proposal_per_district(srv, server[1])
    errors: list[str] = []
    page = console(browser, srv.url, "dadmin", errors=errors)
    assert "越秀区" in page.inner_text("#me")
    listed = set(page.eval_on_selector_all("#tab-users tr[data-user]", "rows => rows.map(r => r.dataset.user)"))
    assert {"dadmin", "d1off"} <= listed and not listed & {"admin", "d2off", "night"}
    tabs = page.eval_on_selector_all("#tabs a", "as => as.filter(a => !a.hidden).map(a => a.dataset.tab)")
    assert set(tabs) == {"users", "roster", "cameras", "devices", "matters", "imports"}
    page.goto(f"{srv.url}/admin#audit")  # a city-only tab by its address: the first allowed one instead
    page.wait_for_function("() => !document.getElementById('tab-users').hidden", timeout=5000)
    assert page.is_hidden("#tab-audit")
    # cameras and matter proposals: their district's only, not the other district's
    page.click("#tabs a[data-tab=cameras]")
    page.wait_for_selector(f"#tab-cameras tr[data-id=cam-{D1}]", timeout=10000)
    assert page.query_selector(f"#tab-cameras tr[data-id=cam-{D2}]") is None
    page.click("#tabs a[data-tab=matters]")
    page.wait_for_selector(f"#tab-matters [data-part=proposals] tr[data-code='77{D1[-2:]}']", timeout=10000)
    assert page.query_selector(f"#tab-matters [data-part=proposals] tr[data-code='77{D2[-2:]}']") is None
    assert errors == []


def test_the_roster_page_assigns_a_grid_and_records_leave(server: tuple[ServerThread, Runtime], browser: Any) -> None:
    srv, rt = server
    grids = [g for g in rt.city.city.grids if g.code.startswith(D1)][:2]
    with httpx.Client(base_url=srv.url, timeout=10, headers=srv.headers(user="admin")) as http:
        made = http.post("/api/roster", json={"id": "R001", "name": "张三", "phone": "13800000001", "kind": "full_time",
                                              "grids": [{"grid_code": grids[0].code, "shift": "day"}]})  # fmt: skip
        assert made.status_code == 201, made.text
    errors: list[str] = []
    page = console(browser, srv.url, "dadmin", errors=errors)
    page.click("#tabs a[data-tab=roster]")
    row = page.wait_for_selector("#tab-roster tr[data-worker=R001]", timeout=10000)
    assert "张三" in row.inner_text() and grids[0].name in row.inner_text() and "白班" in row.inner_text()
    row.click()
    drawer = "#tab-roster aside.drawer"
    page.wait_for_selector(f"{drawer} .grid-list [data-grid='{grids[0].code}']", timeout=10000)
    # each grid links to its public worker card (三公开)
    assert page.get_attribute(f"{drawer} .grid-list [data-grid='{grids[0].code}'] a", "href") == f"/grid/{grids[0].code}"
    # add the second grid by name: district → street → community → grid
    path = rt.city.city.path(grids[1].code)
    for depth, area in enumerate(a for a in path if a.level in ("street", "community", "grid")):
        select = f"{drawer} .area-picker select:nth-of-type({depth + 1})"
        page.wait_for_selector(f"{select} option[value='{area.code}']", state="attached", timeout=10000)
        page.select_option(select, area.code)
    page.click(f"{drawer} button:has-text('添加网格')")
    page.click(f"{drawer} button:has-text('保存网格分配')")
    page.wait_for_selector(f"#tab-roster tr[data-worker=R001] .tag:has-text('{grids[1].name}')", timeout=10000)
    worker = rt.store.roster_worker("R001")
    assert worker is not None and {g["grid_code"] for g in worker["grids"]} == {grids[0].code, grids[1].code}
    # leave from now for a day: the badge shows, and the history lists both grids
    page.fill(f"{drawer} input[name=starts]", (datetime.now() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill(f"{drawer} input[name=ends]", (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click(f"{drawer} button:has-text('添加请假')")
    page.wait_for_selector("#tab-roster tr[data-worker=R001] .tag.leave", timeout=10000)
    page.wait_for_function(
        f"() => document.querySelectorAll('{drawer} table tbody tr').length >= 2", timeout=10000
    )
    assert errors == []


def test_the_imports_page_lists_every_problem_then_imports(
    server: tuple[ServerThread, Runtime], browser: Any, tmp_path: Path
) -> None:
    srv, rt = server
    grid = next(g for g in rt.city.city.grids if g.code.startswith(D1))
    head = "worker_id,name,phone,grid_codes,kind,shift\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(head + f"I001,李四,13800000002,{grid.code},full_time,day\nI002,王五,12,999999999999999,sometimes,day\n")
    good = tmp_path / "good.csv"
    good.write_text(head + f"I001,李四,13800000002,{grid.code},full_time,day\n")
    page = console(browser, srv.url, "admin")
    page.click("#tabs a[data-tab=imports]")
    form = "#tab-imports form[data-part=form]"
    page.wait_for_selector(form, timeout=10000)
    page.select_option(f"{form} select[name=kind]", "roster")
    page.set_input_files(f"{form} input[name=file]", str(bad))
    page.click("#tab-imports button[data-part=check]")
    page.wait_for_selector("#tab-imports [data-part=problems] tr", timeout=15000)
    problems = page.eval_on_selector_all("#tab-imports [data-part=problems] tr", "rs => rs.map(r => r.innerText)")
    assert len(problems) >= 3 and all("\t3\t" in p for p in problems)  # phone, grid, kind: all on line 3
    assert rt.store.roster_worker("I001") is None  # checked only
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_input_files(f"{form} input[name=file]", str(good))
    page.check(f"{form} input[name=users]")
    page.click("#tab-imports button[data-part=apply]")
    page.wait_for_selector("#tab-imports h2.ok:has-text('已导入')", timeout=15000)
    assert rt.store.roster_worker("I001") is not None and rt.store.get_user("I001") is not None
    assert page.input_value("#tab-imports [data-part=secret-value]")  # the accounts' password, shown once


def test_the_audit_page_filters_by_action_group(server: tuple[ServerThread, Runtime], browser: Any) -> None:
    srv = server[0]
    with httpx.Client(base_url=srv.url, timeout=10, headers=srv.headers(user="admin")) as http:
        assert http.post("/api/users/d2off/disable", json={}).status_code == 200
        assert http.post("/api/users/d2off/enable", json={}).status_code == 200
    page = console(browser, srv.url, "admin")
    page.click("#tabs a[data-tab=audit]")
    page.wait_for_selector("#tab-audit tbody tr[data-seq]", timeout=10000)
    page.fill("#tab-audit input[name=action]", "user.")
    page.fill("#tab-audit input[name=target]", "d2off")
    page.click("#tab-audit button[type=submit]")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#tab-audit tbody tr')].every(r => r.innerText.includes('d2off'))",
        timeout=10000,
    )
    actions = page.eval_on_selector_all("#tab-audit tbody tr td:nth-child(3)", "cs => cs.map(c => c.textContent)")
    assert actions[:2] == ["启用账号", "停用账号"]
