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
import os
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

from command_center.app import MAPLIBRE_DIR, build_app
from command_center.auth.principal import normalize_jurisdiction
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.cases import Case, CaseState
from dispatch.city import City, city_to_geojson
from tests.conftest import ROOT, ServerThread, free_port

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
    rt = Runtime(config, city=small_city)
    with ServerThread(build_app(rt)) as srv:
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
    report_id = report(anon, rt.city, 0, data={"media_url": link})
    case = rt.store.get_case(rt.store.get_report(report_id)["case_id"])
    assert case is not None and case.snapshot_url is None and case.external_media_url == link
    staff = httpx.get(f"{srv.url}/api/cases/{case.id}", headers=srv.headers(role="officer")).json()
    assert staff["snapshot_url"] is None and staff["external_media_url"] == link
    # With a photo of our own as well, the snapshot is ours and the link stays a link.
    with_photo = report(anon, rt.city, 1, data={"media_url": link}, files=jpeg_file())
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
    for _ in range(3):  # warm: the form parser, the photo code and the store are loaded and used
        assert httpx.post(f"http://127.0.0.1:{port}{URL}", data={"service_code": "0101"}).status_code == 400
    before = _rss_kib(proc.pid)
    sent, status, body = _chunked_upload(port, ctype, first, 4 * GIB)
    time.sleep(0.5)  # anything the server still does with it
    growth_mib = (_rss_kib(proc.pid) - before) / 1024
    print(f"\nfinding 4 ({ctype.split(';')[0]}): 413 after {sent / MIB:.1f} MiB sent; RSS growth {growth_mib:.1f} MiB")
    assert status == 413, (status, body)
    assert json.loads(body)["error"] == "request too large"
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
    grid = rt.city.grids[10]
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
        grid = rt.city.grids[11]
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


def test_finding_8_one_map_check_at_a_time(site: tuple[ServerThread, Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    srv, rt = site
    doc = json.dumps(city_to_geojson(rt.city, levels=("grid",))).encode()
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
