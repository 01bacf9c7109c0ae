"""Cameras through the product's own path: CameraConfig → create_source → SourceRunner."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from command_center.config import CameraConfig
from streams.health import SourceHealth
from streams.registry import create_source
from streams.runner import SourceRunner

GUANGZHOU = {"lon": 113.3245, "lat": 23.1365}


def camera(cam_id: str, kind: str, url: str, **fields: Any) -> CameraConfig:
    return CameraConfig.model_validate({"id": cam_id, "kind": kind, "url": url, "location": GUANGZHOU, **fields})


def start_runner(config: CameraConfig) -> SourceRunner:
    """What the runtime does for a camera, with the backoff cap taken from the config."""
    health = SourceHealth(stall_after_s=config.stall_after_s, offline_after_s=config.offline_after_s)
    runner = SourceRunner(
        config.id,
        lambda: create_source(config),
        health,
        backoff_s=(min(0.5, config.reconnect_max_s), config.reconnect_max_s),
    )
    runner.start()
    return runner


def wait_state(runner: SourceRunner, states: tuple[str, ...], timeout_s: float, poll_s: float = 0.02) -> float | None:
    """Seconds until the health state is one of `states`, or None after `timeout_s`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if runner.health.state() in states:
            return time.monotonic() - started
        time.sleep(poll_s)
    return None


def resources() -> dict[str, int]:
    """Python threads, OS threads (FFmpeg's decoder threads too) and open fds of this process."""
    return {
        "threads": threading.active_count(),
        "tasks": len(os.listdir("/proc/self/task")),
        "fds": len(os.listdir("/proc/self/fd")),
    }


def source_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("source-")]
