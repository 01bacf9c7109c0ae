"""`command-center demo` as a user runs it: a subprocess serving on loopback.

Within 60 s: every camera and the drone online, an incident with a snapshot, a case
assigned to a worker in a 15-digit grid, and the websocket delivering both events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from command_center.demo import DEMO_BASE_DATA_GRIDS, DEMO_PEOPLE
from tests.helpers import ROOT, free_port


@pytest.mark.slow
def test_demo_closes_the_loop_within_60_s(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "command_center", "demo", "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    started = time.monotonic()
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=5) as http:
            while True:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                try:
                    if http.get("/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            # The demo's documented account (DESIGN §3), printed at start.
            login = http.post("/api/auth/login", json={"username": "officer", "password": "officer"})
            assert login.status_code == 200, login.text
            token = login.json()["token"]
            http.headers["Authorization"] = f"Bearer {token}"
            with connect(f"ws://127.0.0.1:{port}/ws", additional_headers={"Authorization": f"Bearer {token}"}) as ws:
                ws.send(json.dumps({"op": "subscribe", "channels": ["incidents", "cases", "drones"]}))
                events: list[dict] = []
                cameras: list[dict] = []
                while time.monotonic() - started < 60:
                    try:
                        msg = json.loads(ws.recv(timeout=1))
                    except TimeoutError:
                        msg = {}
                    if "channel" in msg:
                        events.append(msg)
                    types = {e["type"] for e in events}
                    cameras = http.get("/api/cameras").json()["items"]
                    if {"incident.created", "case.created"} <= types and all(c["state"] == "online" for c in cameras):
                        break
                took = time.monotonic() - started

            assert took < 60, f"loop not closed within 60 s: {sorted({e['type'] for e in events})}"
            assert len(cameras) >= 7 and {c["kind"] for c in cameras} >= {"sim", "whip"}
            assert all(c["state"] == "online" for c in cameras), [(c["id"], c["state"]) for c in cameras]
            drone = next(c for c in cameras if c["kind"] == "whip")  # the drone publishes over WHIP
            assert drone["telemetry"]["alt"] > 0
            positions = [e["data"] for e in events if e["type"] == "drone.position"]
            assert positions and positions[-1]["id"] == drone["id"]
            assert len(positions[-1]["track"]) >= 2 and positions[-1]["track"][0] != positions[-1]["track"][-1]

            incidents = http.get("/api/incidents").json()["items"]
            assert incidents and http.get(incidents[0]["snapshot_url"]).content[:2] == b"\xff\xd8"
            cases = http.get("/api/cases").json()["items"]
            assigned = [c for c in cases if c["assignee"]]
            assert assigned and all(len(c["grid_code"]) == 15 and c["grid_code"].isdigit() for c in assigned)
            # The first grids' base data (四标四实), sealed under the demo's key file in its data dir.
            base = http.get("/api/basedata/counts").json()
            assert base["totals"]["people"] == DEMO_PEOPLE and len(base["items"]) == DEMO_BASE_DATA_GRIDS
            assert all(i["name"] for i in base["items"])
            assert (tmp_path / "keys" / "basedata.key").exists()
            # ...and its special-group ledger, which the care pages and the forecast work on.
            assert http.get("/api/care/memberships", params={"limit": 1}).json()["total"] > 0
            # This year's budget lines of the sample city: 成本效益 has figures from the start.
            costs = http.get("/api/costs/summary").json()
            assert costs["totals"]["budget"] > 0 and all(c["budget"] > 0 for c in costs["children"])

            for channel in ("incidents", "cases"):
                seqs = [e["seq"] for e in events if e["channel"] == channel]
                assert seqs and seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "/wall" in out and "/terminal?worker=W" in out
    assert "admin/admin" in out and "officer/officer" in out and "<worker id>/worker" in out
