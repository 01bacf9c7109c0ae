"""One navigation and identity on every staff page (issue 17), in Chromium.

Every staff page shows who is signed in by name, their role and their jurisdiction by name,
the pages their role may open and a working sign-out; a page the role cannot use shows one
message and a link to the right page, and makes no API call after /api/auth/me (so no
refusals pile up as toasts); the language switch turns the page English; the worker's
terminal and the public pages fit a 390 px phone, a 1600 px laptop and a 3840 px wall. The
terminal's live behaviour: an immediate task rings the alarm until accepted, with its time
left in minutes, and a task taken away leaves the list.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from dispatch.assign import pick_worker
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, sign_in_form
from tests.helpers import build_runtime, serve_app

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]

WIDTHS = (390, 1600, 3840)
STAFF_PAGES = ("wall", "desk", "stats", "emergency", "admin")
# What a page may fetch before it knows who is signed in: the catalogue, the session and
# the public health (the wall's freshness clock).
BEFORE_NAV = ("/api/auth/me", "/api/i18n/", "/api/health")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("nav")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    # A grid with one worker, on duty around the clock: every case of the grid is theirs.
    now = datetime.now(rt.dispatcher.tz)
    grid = next(
        g for g in small_city.grids[len(small_city.grids) // 2 :]
        if len(found := small_city.workers_by_grid.get(g.code, [])) == 1 and found[0].shift == "all"
        and pick_worker(small_city, g.code, now, lambda ids: {}) == found[0]
    )  # fmt: skip
    worker = small_city.workers_by_grid[grid.code][0]
    district = small_city.areas[grid.code[:6].ljust(15, "0")]
    with serve_app(rt) as server:
        rt.auth.users.seed(
            [
                Account("officer", "officer", "officer"),
                Account("district", "district", "officer", jurisdiction=district.code[:6]),
                Account("admin", "admin", "admin"),
                Account(worker.id, "worker", "worker", worker_id=worker.id),
            ]
        )  # fmt: skip
        yield {"server": server, "rt": rt, "grid": grid, "worker": worker, "district": district}


def open_signed_in(browser: Any, url: str, user: str, password: str, width: int = 1600) -> tuple[Any, list[str]]:
    errors: list[str] = []
    page = new_page(browser, width, 900, errors)
    page.goto(url)
    sign_in_form(page, user, password)
    page.wait_for_selector("#site-nav #me", state="attached", timeout=15000)
    return page, errors


def overflow(page: Any) -> int:
    """How many pixels the page is wider than its viewport (0: it fits)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("key", STAFF_PAGES)
def test_a_staff_page_shows_who_is_signed_in(site: dict[str, Any], browser: Any, key: str) -> None:
    server, district = site["server"], site["district"]
    page, errors = open_signed_in(browser, f"{server.url}/{key}", "district", "district")
    try:
        me = page.inner_text("#me")
        assert "district" in me and "值班员" in me and district.name in me, me
        links = page.eval_on_selector_all("#site-nav .nav-links a", "as => as.map(a => a.dataset.page)")
        if key == "admin":  # not an officer's page: the message instead of the console
            assert page.is_visible("#denied") and "admin" not in links
            return
        assert links == ["wall", "desk", "chats", "basedata", "stats", "costs", "community", "assessment", "emergency"], links
        assert page.get_attribute(f"#site-nav a[data-page={key}]", "aria-current") == "page"
        page.click("#logout")
        page.wait_for_selector("#login", timeout=15000)
        assert page.evaluate("localStorage.getItem('cc.token')") is None
        assert not [c for c in page.context.cookies() if c["name"] == "cc_session"]
    finally:
        page.context.close()
    assert not errors, errors


def test_the_worker_sees_their_name_and_area_on_the_terminal(site: dict[str, Any], browser: Any) -> None:
    server, worker, district = site["server"], site["worker"], site["district"]
    page, errors = open_signed_in(browser, f"{server.url}/terminal", worker.id, "worker", width=390)
    try:
        page.wait_for_selector("#conn[data-state=open]", timeout=15000)
        assert page.inner_text("#worker-name") == worker.name
        assert page.is_hidden("#site-nav .nav-body")  # folded on a phone
        page.click("#site-nav .nav-menu")
        me = page.inner_text("#me")
        assert worker.name in me and "网格员" in me and district.name in me, me
        assert page.eval_on_selector_all("#site-nav .nav-links a", "as => as.map(a => a.dataset.page)") == ["terminal"]
        assert overflow(page) <= 0
    finally:
        page.context.close()
    assert not errors, errors


@pytest.mark.parametrize(("user", "path", "target"), [("worker", "/wall", "/terminal"), ("officer", "/terminal", "/wall"), ("worker", "/admin", "/terminal")])
def test_the_wrong_role_gets_one_message_and_the_right_link(
    site: dict[str, Any], browser: Any, user: str, path: str, target: str
) -> None:
    server = site["server"]
    name = site["worker"].id if user == "worker" else user
    password = "worker" if user == "worker" else user
    errors: list[str] = []
    page = new_page(browser, 1600, 900, errors)
    calls: list[tuple[int, str]] = []
    page.on("response", lambda r: calls.append((r.status, r.url)) if "/api/" in r.url else None)
    try:
        page.goto(f"{server.url}{path}")
        sign_in_form(page, name, password)
        page.wait_for_selector("#denied .nav-denied-go", timeout=15000)
        page.wait_for_timeout(1500)  # whatever the page would still fetch
        text = page.inner_text("#denied")
        assert "您是" in text and "使用" in text, text
        assert page.get_attribute("#denied a.nav-denied-go", "href") == target
        assert page.locator(".toast").count() <= 1
        assert all(status != 403 for status, _ in calls), calls
        assert all(any(p in url for p in (*BEFORE_NAV, "/api/auth/login")) for _, url in calls), calls
        visible = page.evaluate("[...document.body.children].filter(e => e.offsetParent !== null || e.getClientRects().length).map(e => e.id || e.tagName)")
        assert set(visible) <= {"site-nav", "denied"}, visible
    finally:
        page.context.close()
    assert not errors, errors


def test_english_on_choice(site: dict[str, Any], browser: Any) -> None:
    server = site["server"]
    page, errors = open_signed_in(browser, f"{server.url}/terminal", site["worker"].id, "worker")
    try:
        assert page.inner_text("#logout") == "退出"
        page.click("#site-nav .nav-lang")
        page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=15000)
        page.wait_for_selector("#site-nav #me", state="attached", timeout=15000)
        assert page.inner_text("#logout") == "Sign out"
        assert "Grid worker" in page.inner_text("#me")
        assert page.inner_text("#report-open") == "Report a clue"
        page.click("#site-nav .nav-lang")  # and back
        page.wait_for_function("() => document.documentElement.lang === 'zh-CN'", timeout=15000)
        page.wait_for_selector("#site-nav #me", state="attached", timeout=15000)
        assert page.inner_text("#logout") == "退出"
    finally:
        page.context.close()
    assert not errors, errors


def new_case(site: dict[str, Any], matter: str) -> dict[str, Any]:
    grid, server = site["grid"], site["server"]
    made = httpx.post(
        f"{server.url}/api/cases", json={"matter_code": matter, "lon": grid.lon, "lat": grid.lat, "source": "citizen"},
        headers=server.headers(role="officer", user="officer"),
    )  # fmt: skip
    assert made.status_code == 201, made.text
    case = made.json()
    assert case["assignee"] == site["worker"].id, case
    return case


def test_the_terminal_alarm_and_tasks_taken_away(site: dict[str, Any], browser: Any) -> None:
    server, worker = site["server"], site["worker"]
    page, errors = open_signed_in(browser, f"{server.url}/terminal", worker.id, "worker", width=390)
    officer = server.headers(role="officer", user="officer")
    try:
        page.wait_for_selector("#conn[data-state=open]", timeout=15000)
        fire = new_case(site, "0401")  # 火灾: immediate
        assert fire["urgency"] == "immediate"
        card = f".task[data-case-id='{fire['id']}']"
        page.wait_for_selector(card, timeout=2000)
        page.wait_for_selector("#alarm:not([hidden])", timeout=2000)
        assert page.evaluate("window.ccAlarm.playing") is True
        assert "分钟" in page.inner_text(f"{card} .countdown")
        assert overflow(page) <= 0
        page.click("#alarm [data-alarm-accept]")
        page.wait_for_selector(f"{card}[data-state=accepted]", timeout=5000)
        page.wait_for_selector("#alarm", state="hidden", timeout=2000)
        assert page.evaluate("window.ccAlarm.playing") is False

        # Recalled (作废): the card goes, with a word about it.
        other = new_case(site, "0101")
        page.wait_for_selector(f".task[data-case-id='{other['id']}']", timeout=2000)
        cancel = httpx.post(f"{server.url}/api/cases/{other['id']}/cancel", json={"note": "误报"}, headers=officer)
        assert cancel.status_code == 200, cancel.text
        page.wait_for_selector(f".task[data-case-id='{other['id']}']", state="detached", timeout=2000)
        assert "任务已撤回" in page.inner_text(".toasts")
        # Reassigned to someone else (task.removed): the card goes too.
        other_worker = next(w for w in site["rt"].city.city.workers if w.id != worker.id)
        page.wait_for_timeout(100)
        moved = httpx.post(
            f"{server.url}/api/cases/{fire['id']}/reassign", json={"worker": other_worker.id, "note": "就近改派"}, headers=officer
        )  # fmt: skip
        assert moved.status_code == 200, moved.text
        page.wait_for_selector(card, state="detached", timeout=2000)
    finally:
        page.context.close()
    assert not errors, errors


def fits_every_width(page: Any, name: str, inside: str | None = None) -> list[str]:
    """The page at each width: no wider than its viewport, and (`inside`) no element of that part past its edge."""
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(200)
        if (extra := overflow(page)) > 0:
            problems.append(f"{name} at {width} px: {extra} px too wide")
        if inside is not None:
            right = page.evaluate(f"Math.max(...[...document.querySelectorAll('{inside} *')].map(e => e.getBoundingClientRect().right))")
            if right > width:
                problems.append(f"{name} at {width} px: {inside} reaches {right} px")
    return problems


def test_the_phone_pages_fit_every_width(site: dict[str, Any], browser: Any) -> None:
    server, grid = site["server"], site["grid"]
    pages = {"citizen": "/citizen", "publish": "/publish?stream=drone-7", "grid": f"/grid/{grid.code}", "poster": f"/grid/{grid.code}/poster"}
    errors: list[str] = []
    problems: list[str] = []
    for name, path in pages.items():
        page = new_page(browser, 390, 844, errors)
        try:
            page.goto(f"{server.url}{path}")
            page.wait_for_load_state("networkidle")
            if name in ("grid", "poster"):
                page.wait_for_selector("#workers li.worker", timeout=15000)
            assert page.locator(".lang-switch").count() == 1, name  # the public pages' own language switch
            problems += fits_every_width(page, name)
        finally:
            page.context.close()
    terminal, errs = open_signed_in(browser, f"{server.url}/terminal", site["worker"].id, "worker", width=390)
    try:
        terminal.wait_for_selector("#conn[data-state=open]", timeout=15000)
        terminal.click("#report-open")  # the form that was wider than the phone
        terminal.wait_for_selector("#report-matter optgroup", state="attached", timeout=10000)
        problems += fits_every_width(terminal, "terminal", inside="#report")
    finally:
        terminal.context.close()
    assert not problems, problems
    assert not errors and not errs, errors + errs
