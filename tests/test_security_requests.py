"""Findings 1, 4, 8, 12, 15-18 of ../shared/reviews/security.md, each attack made against a
real server and answered safely: bodies bounded while read (a 4 GB chunked upload to a
`command-center serve` process), queries bounded in SQL, one map check at a time, private
citizen reports, security headers and a CSP the pages pass in Chromium, `actor` always
the signed-in user, workers and merges scoped to the jurisdiction.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from starlette.routing import Route

from command_center.app import MAPLIBRE_DIR, build_app
from command_center.auth.principal import normalize_jurisdiction
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store import CaseQuery
from dispatch.cases import Case, CaseState
from dispatch.city import City, city_to_geojson
from tests.helpers import ROOT, ServerThread, build_runtime, free_port, serve_app
from tests.test_store_postgres import pg_db, store, store_url  # noqa: F401  (fixtures: both backends)

URL = "/open311/v2/requests.json"
CHEAP_HASH = {"hash_time_cost": 1, "hash_memory_kib": 1024}
GIB = 1024**3
MIB = 1024**2


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("security-requests")
    config = parse_config(
        {
            "server": {"data_dir": str(data)},
            "store": f"sqlite:///{data / 'cc.db'}",
            "citizen": {"reports_per_minute": 600, "burst": 200, "max_photo_mb": 1},
            "auth": CHEAP_HASH,
        }
    )
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        yield srv, rt


@pytest.fixture
def anon(site: tuple[ServerThread, Runtime]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site[0].url, timeout=30) as client:
        yield client


def districts(city: City) -> list[str]:
    return sorted(a.code for a in city.areas.values() if a.level == "district")


def grid_in(city: City, district: str, i: int = 0) -> Any:
    prefix = normalize_jurisdiction(district)
    return [g for g in city.grids if g.code.startswith(prefix)][50 + i]


def report(client: httpx.Client, city: City, i: int, **extra: Any) -> str:
    grid = city.grids[200 + i]
    fields = {"service_code": "0101", "lat": str(grid.lat), "long": str(grid.lon), "description": "我家门口的垃圾"}
    made = client.post(URL, data={**fields, **extra.pop("data", {})}, **extra)
    assert made.status_code == 201, made.text
    return made.json()[0]["service_request_id"]


def jpeg_file() -> dict[str, tuple[str, bytes, str]]:
    ok, png = cv2.imencode(".png", np.full((40, 60, 3), 120, np.uint8))
    return {"media": ("p.png", png.tobytes(), "image/png")}


# ---- finding 1: an external media_url is a link, never the case's snapshot ----


def test_finding_1_external_media_is_a_link(site: tuple[ServerThread, Runtime], anon: httpx.Client) -> None:
    srv, rt = site
    link = "https://elsewhere.example/p.jpg"
    report_id = report(anon, rt.city.city, 0, data={"media_url": link})
    case = rt.store.get_case(rt.store.get_report(report_id)["case_id"])
    assert case is not None and case.snapshot_url is None and case.external_media_url == link
    staff = httpx.get(f"{srv.url}/api/cases/{case.id}", headers=srv.headers(role="officer")).json()
    assert staff["snapshot_url"] is None and staff["external_media_url"] == link
    # With a photo of our own as well, the snapshot is ours and the link stays a link.
    with_photo = report(anon, rt.city.city, 1, data={"media_url": link}, files=jpeg_file())
    case = rt.store.get_case(rt.store.get_report(with_photo)["case_id"])
    assert case is not None and case.snapshot_url == f"/api/reports/{with_photo}/photo.jpg"
    assert case.external_media_url == link


# ---- finding 4: every body bounded while read, chunked ones included ----


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def served_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`command-center serve` in a process of its own, so its memory can be measured."""
    data = tmp_path_factory.mktemp("serve")
    port = free_port()
    config = {
        "server": {"data_dir": str(data), "port": port, "host": "127.0.0.1"},
        "store": f"sqlite:///{data / 'cc.db'}",
        "city": {"generator": {"seed": 7, "districts": 1}},
        "citizen": {"reports_per_minute": 600, "burst": 100, "max_photo_mb": 1},
    }
    path = data / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    log = data / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "command_center", "serve", "--config", str(path)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield proc, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _chunked_upload(port: int, ctype: str, first: bytes, total: int) -> tuple[int, int, bytes]:
    """POST `first` then zeros up to `total` bytes, chunked, made as they are sent (never held),
    reading between writes. (bytes sent, status, response body) once the server answers."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)  # what we count is what left us
    sock.connect(("127.0.0.1", port))
    head = f"POST {URL} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n"
    sock.sendall(head.encode())
    sock.setblocking(False)
    zeros = b"\0" * (256 * 1024)
    chunk = b"%x\r\n%s\r\n" % (len(zeros), zeros)
    pending = memoryview(b"%x\r\n%s\r\n" % (len(first), first))
    sent, answer = 0, b""
    try:
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                break
            assert writable, "the server neither read nor answered for 30 s"
            try:
                n = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += n
            pending = pending[n:] if n < len(pending) else memoryview(chunk)
        sock.setblocking(True)
        sock.settimeout(10)
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
    finally:
        sock.close()
    head_text, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_text.split(b" ", 2)[1]) if head_text else 0
    return sent, status, body


MULTIPART_HEAD = (
    b"--XyZ\r\nContent-Disposition: form-data; name=\"service_code\"\r\n\r\n0101\r\n"
    b"--XyZ\r\nContent-Disposition: form-data; name=\"media\"; filename=\"big.jpg\"\r\n"
    b"Content-Type: image/jpeg\r\n\r\n"
)


@pytest.mark.parametrize(
    ("ctype", "first"),
    [("multipart/form-data; boundary=XyZ", MULTIPART_HEAD), ("application/json", b'{"description": "')],
    ids=["multipart", "json"],
)
def test_finding_4_chunked_body_is_refused_at_the_limit(served_process, ctype: str, first: bytes) -> None:  # noqa: ANN001
    proc, port = served_process
    limit = 1 * MIB + 64 * 1024  # citizen.max_photo_mb + the multipart slack
    for _ in range(3):  # warm: the form parser and the photo code are loaded and used
        warm = httpx.post(
            f"http://127.0.0.1:{port}{URL}", data={"service_code": "0101"}, files={"media": ("x.jpg", b"x", "image/jpeg")}
        )
        assert warm.status_code == 400
    before = _rss_kib(proc.pid)
    sent, status, body = _chunked_upload(port, ctype, first, 4 * GIB)
    time.sleep(0.5)  # anything the server still does with it
    growth_mib = (_rss_kib(proc.pid) - before) / 1024
    print(f"\nfinding 4 ({ctype.split(';')[0]}): 413 after {sent / MIB:.1f} MiB sent; RSS growth {growth_mib:.1f} MiB")
    assert status == 413, (status, body)
    (error,) = json.loads(body)  # Open311's own error shape: [{"code", "description"}]
    assert error["code"] == 413 and error["description"].startswith("request too large")
    # The server read at most the limit; what else left us sat in socket buffers.
    assert sent < limit + 16 * MIB
    assert growth_mib < 50
    assert proc.poll() is None


def test_finding_4_declared_length_is_refused_unread(served_process) -> None:  # noqa: ANN001
    _, port = served_process
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"POST {URL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {4 * GIB}\r\n\r\n".encode()
        )
        answer = sock.recv(65536)  # no body byte sent: the answer comes anyway
    assert answer.startswith(b"HTTP/1.1 413") and b"connection: close" in answer.lower()


def test_finding_4_every_route_has_a_limit(site: tuple[ServerThread, Runtime], anon: httpx.Client) -> None:
    srv, _ = site
    big = (b" " * (2 * MIB) for _ in range(1))  # chunked: no declared length
    login = anon.post("/api/auth/login", content=big, headers={"content-type": "application/json"})
    assert login.status_code == 413 and login.json()["error"] == "request too large"
    officer = srv.headers(role="officer")
    acted = anon.post("/api/cases/C-x/accept", content=b"{" + b" " * (2 * MIB) + b"}", headers=officer)
    assert acted.status_code == 413


# ---- finding 8: bounded queries, one map check at a time ----


def _old_cases(rt: Runtime, n: int, when: datetime) -> None:
    grid = rt.city.city.grids[10]
    with rt.store.batch():  # type: ignore[attr-defined]
        for i in range(n):
            rt.store.insert_case(
                Case(f"COLD-{i:05d}", CaseState.DISPATCHED, "0101", grid.code, "video", when, when + timedelta(hours=4),
                     grid.lon, grid.lat, assignee="W-old")
            )  # fmt: skip


def test_finding_8_kpi_and_hotspots_filter_in_sql(
    site: tuple[ServerThread, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, rt = site
    _old_cases(rt, 300, datetime.now(UTC) - timedelta(days=400))
    monkeypatch.setattr(rt.config.limits, "query_max_cases", 200)
    officer = srv.headers(role="officer")
    with httpx.Client(base_url=srv.url, headers=officer, timeout=30) as client:
        grid = rt.city.city.grids[11]
        made = client.post("/api/cases", json={"matter_code": "0102", "lon": grid.lon, "lat": grid.lat})
        assert made.status_code == 201
        # A recent range counts a few cases in SQL, though 300 old ones are stored: answered.
        recent = client.get("/api/kpi", params={"group": "grid"})
        assert recent.status_code == 200, recent.text
        assert sum(r["cases"] for r in recent.json()["items"]) < 200
        assert client.get("/api/hotspots").status_code == 200
        # A range over the old ones passes the cap: refused, with the count, before loading.
        wide = client.get("/api/kpi", params={"from": "2020-01-01T00:00:00+08:00"})
        assert wide.status_code == 400 and wide.json()["detail"]["cases"] >= 300
        assert "narrow" in wide.json()["detail"]["hint"]
        old_at = (datetime.now(UTC) - timedelta(days=400)).isoformat()
        hot = client.get("/api/hotspots", params={"at": old_at, "window": "1h", "baseline": 24})
        assert hot.status_code == 400 and hot.json()["error"] == "too many cases in this span"


def test_finding_8_the_store_filters_by_time_and_deletes_old_reports(store) -> None:  # noqa: ANN001, F811
    now = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    for i, days in enumerate((-2, 0, 2)):
        when = now + timedelta(days=days)
        store.insert_case(Case(f"CT{i}", CaseState.DISPATCHED, "0101", "440106001001001", "video", when, when, 113.3, 23.1))
        store.add_report({"id": f"RT{i}", "requested_datetime": when.isoformat(), "case_id": f"CT{i}"})
    window = CaseQuery(created_since=now - timedelta(days=1), created_before=now + timedelta(days=1))
    cases, total = store.list_cases(window)
    assert [c.id for c in cases] == ["CT1"] and total == 1
    assert store.delete_reports_before(now.isoformat()) == ["RT0"]
    assert store.get_report("RT0") is None and store.get_report("RT1") is not None


def test_finding_8_one_map_check_at_a_time(site: tuple[ServerThread, Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    srv, rt = site
    doc = json.dumps(city_to_geojson(rt.city.city, levels=("grid",))).encode()
    release = threading.Event()
    first: dict[str, httpx.Response] = {}

    def slow_body() -> Iterator[bytes]:
        yield doc[:1000]
        release.wait(20)  # the check holds the lock while its body trickles in
        yield doc[1000:]

    def post_slowly() -> None:
        first["r"] = httpx.post(f"{srv.url}/api/grids/validate", content=slow_body(), headers=srv.headers(), timeout=60)

    thread = threading.Thread(target=post_slowly)
    thread.start()
    try:
        time.sleep(0.5)
        began = time.monotonic()
        second = httpx.post(f"{srv.url}/api/grids/validate", content=doc, headers=srv.headers(), timeout=60)
        assert second.status_code == 409 and "already running" in second.json()["error"]
        assert time.monotonic() - began < 2  # refused at once, not queued
        put = httpx.put(f"{srv.url}/api/grids", content=doc, headers=srv.headers(), timeout=60)
        assert put.status_code == 409
    finally:
        release.set()
        thread.join(60)
    assert first["r"].status_code in (200, 422), first["r"].text
    monkeypatch.setattr(rt.config.limits, "map_mb", 0.01)  # read on each request
    assert httpx.post(f"{srv.url}/api/grids/validate", content=doc, headers=srv.headers()).status_code == 413


# ---- finding 12: the public sees coarse, unpublished reports keep their text and photo ----


def test_finding_12_public_list_is_coarse_unless_published(
    site: tuple[ServerThread, Runtime], anon: httpx.Client
) -> None:
    srv, rt = site
    private = report(anon, rt.city.city, 3, files=jpeg_file())
    public = report(anon, rt.city.city, 4, files=jpeg_file(), data={"publish": "true"})
    stored = rt.store.get_report(private)
    views = {v["service_request_id"]: v for v in anon.get(URL).json()}
    mine = views[private]
    assert mine["description"] is None and mine["media_url"] is None
    assert (mine["lat"], mine["long"]) == (round(stored["lat"], 3), round(stored["long"], 3))
    assert mine["lat"] != stored["lat"] or mine["long"] != stored["long"]
    assert mine["address"] == rt.city.city.areas[rt.store.get_case(stored["case_id"]).grid_code].name
    # The reporter follows their own report by its id: status, not the text.
    (own,) = anon.get(f"/open311/v2/requests/{private}.json").json()
    assert own["status"] == "open" and own["status_notes"] and own["description"] is None
    shared = views[public]
    assert shared["description"] == "我家门口的垃圾" and shared["media_url"] == f"/api/reports/{public}/photo.jpg"
    assert len(str(shared["lat"]).split(".")[1]) <= 3  # the place stays coarse even when published
    # Photos: a published one is public; an unpublished one is as missing to the public.
    assert anon.get(shared["media_url"]).status_code == 200
    photo = f"/api/reports/{private}/photo.jpg"
    hidden = anon.get(photo)
    assert hidden.status_code == 404 and hidden.json() == {"error": "no such photo", "detail": private}  # as a missing one
    assert anon.get(photo, headers=srv.headers(role="officer")).status_code == 200
    case = rt.store.get_case(stored["case_id"])
    assert case is not None and case.assignee
    assert anon.get(photo, headers=srv.headers(role="worker", worker_id=case.assignee)).status_code == 200
    other = next(d for d in districts(rt.city.city) if not case.grid_code.startswith(normalize_jurisdiction(d)))
    elsewhere = srv.headers(role="officer", user="d-other", jurisdiction=normalize_jurisdiction(other))
    assert anon.get(photo, headers=elsewhere).status_code == 404
    # Staff of the area see the exact point and the text.
    (full,) = anon.get(f"/open311/v2/requests/{private}.json", headers=srv.headers(role="officer")).json()
    assert (full["lat"], full["long"]) == (stored["lat"], stored["long"]) and full["description"] == "我家门口的垃圾"
    (coarse,) = anon.get(f"/open311/v2/requests/{private}.json", headers=elsewhere).json()
    assert coarse["description"] is None


# ---- finding 15: security headers everywhere, and a CSP the pages pass ----

CSP_PARTS = ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "worker-src 'self' blob:")


def test_finding_15_headers_and_csp(site: tuple[ServerThread, Runtime], anon: httpx.Client) -> None:
    for path, status in (("/wall", 200), ("/api/health", 200), ("/api/cases", 401), ("/ui/citizen/citizen.js", 200)):
        response = anon.get(path)
        assert response.status_code == status, path
        assert all(part in response.headers["content-security-policy"] for part in CSP_PARTS), path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
    refused = anon.post("/api/auth/login", content=b"x" * (2 * MIB), headers={"content-type": "application/json"})
    assert refused.status_code == 413 and refused.headers["x-frame-options"] == "DENY"


def test_finding_15_even_a_server_error_carries_the_headers(small_city: City, tmp_path: Path) -> None:
    """Starlette answers an unexpected error outside every middleware: the handler adds them."""
    rt = build_runtime(parse_config({"server": {"data_dir": str(tmp_path)}, "store": "sqlite:///:memory:"}), city=small_city)
    app = build_app(rt)

    async def broken(_request: object) -> None:
        raise RuntimeError("a bug")

    app.router.routes.append(Route("/api/broken", broken))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, headers=server.headers()) as http:
        response = http.get("/api/broken")
    assert response.status_code == 500 and response.json()["error"] == "internal error"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
]  # fmt: skip
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)")
@pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="needs the playwright package")
@pytest.mark.skipif(not (MAPLIBRE_DIR / "maplibre-gl.mjs").exists(), reason="needs MapLibre from npm: run `make setup`")
def test_finding_15_pages_pass_the_csp(site: tuple[ServerThread, Runtime]) -> None:
    from playwright.sync_api import sync_playwright

    srv, rt = site
    worker = rt.city.city.workers[0]
    rt.auth.users.seed([Account("csp-officer", "officer-pw", "officer"), Account(worker.id, "worker-pw", "worker", worker_id=worker.id)])
    pages = [
        ("/wall", "csp-officer", "officer-pw"),
        (f"/terminal?worker={worker.id}", worker.id, "worker-pw"),
        ("/emergency", "csp-officer", "officer-pw"),
        ("/citizen", None, None),
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        try:
            for path, user, password in pages:
                page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                console: list[str] = []
                page.on("console", lambda m, out=console: out.append(m.text) if m.type in ("error", "warning") else None)
                page.add_init_script(WATCH_CSP)
                page.goto(f"{srv.url}{path}")
                if user is not None:
                    page.wait_for_selector("#login", timeout=15000)
                    page.fill("#login input[name=username]", user)
                    page.fill("#login input[name=password]", password)
                    page.click("#login button[type=submit]")
                    page.wait_for_selector("#login", state="hidden", timeout=15000)
                page.wait_for_load_state("networkidle", timeout=15000)
                page.wait_for_timeout(1500)  # the map's workers, the websocket, late images
                violations = page.evaluate("window.__csp")
                blocked = [t for t in console if "Content Security Policy" in t or "Content-Security-Policy" in t]
                assert violations == [] and blocked == [], (path, violations, blocked)
                page.context.close()
        finally:
            browser.close()


# ---- findings 16-18: actor, /api/workers and merge are the signed-in user's ----


def new_case(client: httpx.Client, grid: Any, headers: dict[str, str]) -> dict[str, Any]:
    made = client.post("/api/cases", json={"matter_code": "0105", "lon": grid.lon, "lat": grid.lat}, headers=headers)
    assert made.status_code == 201, made.text
    return made.json()


def test_finding_16_actor_is_the_signed_in_user(site: tuple[ServerThread, Runtime], anon: httpx.Client) -> None:
    srv, rt = site
    alice, bob = srv.headers(role="officer", user="alice"), srv.headers(role="officer", user="bob")
    case = new_case(anon, rt.city.city.grids[300], alice)
    url, worker = f"/api/cases/{case['id']}", case["assignee"]
    assert anon.post(f"{url}/accept", json={}, headers=srv.headers(role="worker", worker_id=worker)).status_code == 200
    # Alice records the worker's feedback on the phone's behalf: recorded as both.
    fed = anon.post(f"{url}/feedback", json={"actor": worker, "note": "cleared"}, headers=alice).json()
    entry = fed["timeline"][-1]
    assert entry["actor"] == "alice" and f"on behalf of {worker}" in entry["note"] and fed["handled_by"] == "alice"
    # The attack: the handler checks their own work under someone else's name.
    forged = anon.post(f"{url}/verify", json={"actor": "someone"}, headers=alice)
    assert forged.status_code == 403 and forged.json()["detail"]["actor"] == "alice"
    assert all(e["actor"] != "someone" for e in anon.get(url, headers=alice).json()["timeline"])
    checked = anon.post(f"{url}/verify", json={"note": "ok"}, headers=bob).json()
    assert checked["state"] == "verified" and checked["timeline"][-1]["actor"] == "bob"


def test_finding_17_workers_are_scoped_to_the_jurisdiction(
    site: tuple[ServerThread, Runtime], anon: httpx.Client
) -> None:
    srv, rt = site
    home, away = districts(rt.city.city)[:2]
    officer = srv.headers(role="officer", user="d-home", jurisdiction=normalize_jurisdiction(home))
    mine = next(w for w in rt.city.city.workers if w.grid_code.startswith(normalize_jurisdiction(home)))
    theirs = next(w for w in rt.city.city.workers if w.grid_code.startswith(normalize_jurisdiction(away)))
    assert anon.get(f"/api/workers/{mine.id}", headers=officer).status_code == 200
    outside = anon.get(f"/api/workers/{theirs.id}", headers=officer)
    missing = anon.get("/api/workers/W9999999", headers=officer)
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["error"] == missing.json()["error"] and "phone" not in outside.text
    assert anon.get(f"/api/workers/{theirs.id}", headers=srv.headers(role="officer")).status_code == 200
    as_worker = srv.headers(role="worker", worker_id=mine.id)
    assert anon.get(f"/api/workers/{theirs.id}", headers=as_worker).status_code == 403


def test_finding_18_merge_does_not_reveal_foreign_cases(
    site: tuple[ServerThread, Runtime], anon: httpx.Client
) -> None:
    srv, rt = site
    home, away = districts(rt.city.city)[:2]
    admin = srv.headers()
    officer = srv.headers(role="officer", user="d-merge", jurisdiction=normalize_jurisdiction(home))
    mine = new_case(anon, grid_in(rt.city.city, home, 1), officer)
    foreign_open = new_case(anon, grid_in(rt.city.city, away, 2), admin)
    foreign_closed = new_case(anon, grid_in(rt.city.city, away, 3), admin)
    merged = anon.post(f"/api/cases/{foreign_closed['id']}/merge", json={"into": foreign_open["id"]}, headers=admin)
    assert merged.status_code == 200  # a merged case is no longer open: 409 if it were ours
    answers = []
    for into in (foreign_open["id"], foreign_closed["id"], "C20990101-deadbeef"):
        response = anon.post(f"/api/cases/{mine['id']}/merge", json={"into": into}, headers=officer)
        answers.append((response.status_code, response.json()["error"]))
    assert answers == [(404, "case to merge into not found")] * 3
    assert anon.get(f"/api/cases/{mine['id']}", headers=officer).json()["state"] == mine["state"]
