"""Faults on real servers: the camera goes offline, comes back, and leaks nothing.

The RTSP server is killed and restarted 5 times (a crash: connections reset), the RTMP
publisher 5 times (a drone's link dropping: nginx keeps the player connected with
nothing to send), and the RTSP server is frozen once (a hung server: sockets open,
no data), which only the watchdog can notice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.runner import SourceRunner
from tests.servers import (
    Clip,
    ManagedProcess,
    NginxRtmp,
    RtmpPublisher,
    RtspServer,
    camera,
    looped,
    make_clip,
    or_skip,
    resources,
    source_threads,
    start_runner,
    wait_state,
)

CYCLES = 5
LIMIT_S = 5.0
# 1 s without a frame is stalled, 2 s offline; a hung read gives up after 2 s; retries at most 1 s apart.
FAST = {"stall_after_s": 1.0, "offline_after_s": 2.0, "read_timeout_s": 2.0, "open_timeout_s": 3.0,
        "reconnect_max_s": 1.0}  # fmt: skip
SLACK = {"threads": 1, "tasks": 4, "fds": 4}




@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def clip() -> Clip:
    return or_skip(lambda: make_clip("h264", 1280, 720, 25, 10))


@pytest.fixture
def rtsp(clip: Clip, workdir: Path) -> Iterator[RtspServer]:
    with or_skip(lambda: RtspServer({"cam": looped(clip, 120)}, workdir)) as server:
        yield server


@pytest.fixture
def rtmp(workdir: Path) -> Iterator[NginxRtmp]:
    with or_skip(lambda: NginxRtmp(workdir)) as nginx:
        yield nginx


def _cycles(runner: SourceRunner, fault: ManagedProcess, restore: Callable[[], None], what: str) -> None:
    assert wait_state(runner, ("online",), 10) is not None, f"never online: {runner.health.last_error}"
    baseline = resources()
    down: list[float] = []
    up: list[float] = []
    for cycle in range(CYCLES):
        fault.kill()
        went = wait_state(runner, ("offline",), LIMIT_S)
        assert went is not None, f"{what} cycle {cycle}: still {runner.health.state()} {LIMIT_S} s after the kill"
        restore()
        came = wait_state(runner, ("online",), LIMIT_S)
        assert came is not None, (
            f"{what} cycle {cycle}: still {runner.health.state()} {LIMIT_S} s after the restore; "
            f"last error {runner.health.last_error}"
        )
        down.append(went)
        up.append(came)
    after = resources()
    print(f"\n{what}: offline after kill {_fmt(down)}; online after restore {_fmt(up)}")
    print(f"{what}: resources before {baseline}, after {CYCLES} cycles {after}; reconnects {runner.health.reconnects}")
    for key, slack in SLACK.items():
        assert after[key] <= baseline[key] + slack, f"{key} grew: {baseline} → {after}"


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values) + f" s (max {max(values):.2f} s)"


def test_rtsp_server_killed_and_restarted(rtsp: RtspServer) -> None:
    before = resources()
    runner = start_runner(camera("rtsp-fault", "rtsp", rtsp.url("cam"), **FAST))
    try:
        _cycles(runner, rtsp, rtsp.start, "rtsp server")
    finally:
        runner.stop()
    assert not source_threads()
    assert resources()["threads"] <= before["threads"]


@pytest.mark.slow
def test_rtmp_publisher_killed_and_restarted(rtmp: NginxRtmp, clip: Clip, workdir: Path) -> None:
    before = resources()
    publisher = RtmpPublisher(clip, rtmp.url("drone7"), workdir)
    publisher.start()
    runner = start_runner(camera("rtmp-fault", "rtmp", rtmp.url("drone7"), **FAST))
    try:
        _cycles(runner, publisher, publisher.start, "rtmp publisher")
    finally:
        runner.stop()
        publisher.kill()
    assert not source_threads()
    assert resources()["threads"] <= before["threads"]


def test_hung_rtsp_server_is_noticed(rtsp: RtspServer) -> None:
    """SIGSTOP: the TCP connection stays up and silent; only the watchdog can tell."""
    runner = start_runner(camera("rtsp-hung", "rtsp", rtsp.url("cam"), **FAST))
    try:
        assert wait_state(runner, ("online",), 10) is not None
        rtsp.pause()
        paused_at = time.monotonic()
        stalled = wait_state(runner, ("stalled", "offline"), LIMIT_S)
        offline = wait_state(runner, ("offline",), LIMIT_S)
        assert stalled is not None and offline is not None, runner.health.state()
        while runner.health.last_error is None and time.monotonic() - paused_at < LIMIT_S:
            time.sleep(0.02)  # the read gives up after read_timeout_s: the runner reconnects
        gave_up = time.monotonic() - paused_at
        rtsp.resume()
        back = wait_state(runner, ("online",), 10)
        assert back is not None, runner.health.last_error
        print(f"\nhung rtsp server: stalled after {stalled:.2f} s, offline after {stalled + offline:.2f} s, "
              f"read abandoned after {gave_up:.2f} s; online {back:.2f} s after resume; "
              f"last error {runner.health.last_error!r}")  # fmt: skip
        assert "no data" in str(runner.health.last_error) or "no new frame" in str(runner.health.last_error)
    finally:
        rtsp.resume()
        runner.stop()
    assert not source_threads()
