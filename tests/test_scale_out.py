"""The issue's multi-process test: the whole scale-out at once.

Two `command-center serve` API nodes and three `command-center worker` processes on
twelve simulated cameras (2 fps, the cheap `motion` detector), all on one Redis bus
prefix, each process with a data dir of its own, the nodes sharing one token secret.
An officer's websocket client on node A follows the `cameras` channel, which the
workers' `camera.status` events reach through the bus. Then:

1. one worker is killed with SIGKILL: the other two hold all twelve cameras within
   10 s, and no sample ever shows a camera held by two live workers;
2. node A is killed with SIGKILL while the workers keep publishing: the client
   reconnects to node B with `since` = the last seq it saw and gets every event it
   missed, with no gap and no duplicate seq, then live ones.

Reuses the process helpers of test_hub_nodes.py; uses the Redis at 127.0.0.1:6379 with a
key prefix of its own (deleted after).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from command_center.auth import Principal
from command_center.auth.tokens import TokenSigner
from tests.helpers import ROOT
from tests.test_hub_nodes import REDIS, groups, serve_process, wait_up

CAMERAS = [f"cam-{i:02d}" for i in range(12)]
CHANNEL = "cameras"  # workers publish camera.status here: once per camera every 5 s, and on every change
WORKERS = ["w1", "w2", "w3"]


def worker_process(root: Path, name: str, prefix: str) -> subprocess.Popen[bytes]:
    """`command-center worker --id NAME` on the twelve cameras, its own data dir."""
    data = root / name
    data.mkdir()
    config = {
        "server": {"data_dir": str(data)},
        "store": f"sqlite:///{data / 'cc.db'}",
        "bus": f"{REDIS}?prefix={prefix}",
        "city": {"generator": {"seed": 7, "districts": 2}},
        "detector": {"backend": "motion"},  # no model: two cores cope with 3 workers and 2 nodes
        "sharding": {"enabled": True, "lease_ttl_s": 5, "heartbeat_s": 1, "scan_s": 1},
        "cameras": [
            {
                "id": cam,
                "kind": "sim",
                "url": f"sim://street?seed={i}&width=64&height=64",
                "fps": 2,
                "location": {"lon": 113.3, "lat": 23.1},
            }
            for i, cam in enumerate(CAMERAS)
        ],
    }
    path = data / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return subprocess.Popen(
        [sys.executable, "-m", "command_center", "worker", "--config", str(path), "--id", name],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(data / "log.txt").open("wb"),
    )


def read_until(conn: ClientConnection, until_seq: int, timeout: float) -> list[dict[str, Any]]:
    """Channel messages up to seq `until_seq` (a resync included, and ends it)."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not out or out[-1].get("seq", 0) < until_seq:
        msg = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if msg.get("channel") == CHANNEL:
            out.append(msg)
            if msg.get("type") == "resync":
                return out
    return out


@pytest.mark.slow
def test_workers_and_api_nodes_scale_out_and_survive_kills(prefix: str, tmp_path: Path) -> None:
    secret = secrets.token_hex(32)
    officer = Principal("officer", "officer", "", None)  # an account `serve` made on its first start
    token = TokenSigner(secret.encode(), 3600).issue(officer)[0]  # type: ignore[arg-type]
    bearer = {"Authorization": f"Bearer {token}"}
    (a, port_a), (b, port_b) = (serve_process(tmp_path, n, prefix, secret) for n in ("a", "b"))
    workers = {n: worker_process(tmp_path, n, prefix) for n in WORKERS}
    sync = redis.Redis.from_url(REDIS, decode_responses=True)
    doubles: list[dict[str, list[str]]] = []
    seq_key = f"{prefix}:hub:seq:{CHANNEL}"

    def log(name: str) -> str:
        return (tmp_path / name / "log.txt").read_text(errors="replace")[-3000:]

    def snapshot(live: list[str]) -> dict[str, list[str]]:
        """Each live worker's holdings in one round trip; a camera in two of them is recorded."""
        docs = sync.mget([f"{prefix}:worker:{n}" for n in live])
        held = {n: json.loads(d)["cameras"] for n, d in zip(live, docs, strict=True) if d}
        cams = [c for h in held.values() for c in h]
        if len(cams) != len(set(cams)):
            doubles.append(held)
        return held

    def all_held(live: list[str], timeout: float) -> float:
        began = time.monotonic()
        while True:
            held = snapshot(live)
            counts = sorted(len(h) for h in held.values())
            if len(held) == len(live) and sum(counts) == len(CAMERAS) and counts[-1] - counts[0] <= 1:
                return time.monotonic() - began
            for n in live:
                assert workers[n].poll() is None, log(n)
            assert time.monotonic() - began < timeout, f"holdings {held} after {timeout} s"
            time.sleep(0.1)

    try:
        wait_up(a, port_a, tmp_path / "a" / "log.txt")
        wait_up(b, port_b, tmp_path / "b" / "log.txt")
        stream = f"{prefix}:stream:{CHANNEL}"
        deadline = time.monotonic() + 30  # both hubs' fan-out groups exist: both see what comes next
        while sum(g["name"].startswith("hub@") for g in groups(sync, stream)) < 2:
            assert time.monotonic() < deadline, (groups(sync, stream), log("a"), log("w1"))
            time.sleep(0.1)
        all_held(WORKERS, 60)  # each process builds its runtime first

        seen: list[dict[str, Any]] = []
        with connect(f"ws://127.0.0.1:{port_a}/ws", additional_headers=bearer) as conn:
            conn.send(json.dumps({"op": "subscribe", "channels": [CHANNEL]}))
            assert json.loads(conn.recv(timeout=5))["type"] == "subscribed"
            seen += read_until(conn, 0, timeout=10)  # the workers' status events reach node A's hub
            assert seen[0]["type"] == "camera.status" and seen[0]["data"]["id"] in CAMERAS
            # Node A's API shows the cameras as the workers report them (each one every 5 s).
            deadline = time.monotonic() + 10
            while True:
                cams = httpx.get(f"http://127.0.0.1:{port_a}/api/cameras", headers={"Authorization": f"Bearer {token}"})
                states = {c["id"]: c["state"] for c in cams.json()["items"]}
                if set(states) == set(CAMERAS) and set(states.values()) == {"online"}:
                    break
                assert time.monotonic() < deadline, states
                time.sleep(0.5)

            # 1. A worker dies: its cameras move to the other two.
            victim = max(WORKERS, key=lambda n: len(snapshot(WORKERS)[n]))
            orphans = set(snapshot(WORKERS)[victim])
            workers[victim].kill()
            workers[victim].wait(10)
            rest = [n for n in WORKERS if n != victim]
            takeover = all_held(rest, 10)
            held = snapshot(rest)
            assert orphans <= {c for h in held.values() for c in h}
            assert set(sync.mget([f"{prefix}:lease:{c}" for c in CAMERAS])) <= set(rest)
            assert takeover < 10

            # 2. Node A dies while the workers keep publishing.
            seen += read_until(conn, seen[-1]["seq"] + 1, timeout=10)
            a.kill()  # SIGKILL: no clean close
            killed_at = time.monotonic()
            a.wait(10)
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                while True:  # whatever was on the wire still arrives, then the connection ends
                    msg = json.loads(conn.recv(timeout=5))
                    if msg.get("channel") == CHANNEL:
                        seen.append(msg)
        last = seen[-1]["seq"]
        # Let events pile up that only node B (through Redis) can give the client.
        deadline = time.monotonic() + 10
        while int(sync.get(seq_key) or 0) < last + 3:
            assert time.monotonic() < deadline, "the workers' events stopped flowing"
            time.sleep(0.1)
        with connect(f"ws://127.0.0.1:{port_b}/ws", additional_headers=bearer) as conn:
            conn.send(json.dumps({"op": "subscribe", "channels": [CHANNEL], "since": {CHANNEL: last}}))
            missed = int(sync.get(seq_key) or 0)
            after = read_until(conn, last + 1, timeout=10)
            reconnect = time.monotonic() - killed_at
            after += read_until(conn, missed + 3, timeout=15)  # the missed ones, then live ones
        assert all(m["type"] == "camera.status" for m in after), after[-1]
        seqs = [m["seq"] for m in seen + after]
        assert seqs == list(range(seqs[0], seqs[-1] + 1)), seqs  # no gap, no duplicate
        assert len(after) >= missed - last + 3
        print(
            f"takeover of {len(orphans)} cameras in {takeover:.1f} s; client back on node B "
            f"{reconnect:.1f} s after node A's kill, {missed - last} missed events replayed, seqs {seqs[0]}..{seqs[-1]}"
        )
    finally:
        for proc in (*workers.values(), a, b):
            if proc.poll() is None:
                proc.terminate()
        for proc in (*workers.values(), a, b):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        sync.close()
    assert doubles == []
