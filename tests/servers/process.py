"""Child processes of the test servers: started in their own session, killable, restartable."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

T = TypeVar("T")


class MissingTool(RuntimeError):
    """A Debian binary a real server needs is not installed; tests skip, the bench stops."""


def require(binary: str, package: str) -> str:
    path = shutil.which(binary) or (binary if os.path.isabs(binary) and os.access(binary, os.X_OK) else None)
    if path is None:
        raise MissingTool(f"{binary} not found: apt-get install {package}")
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class ManagedProcess:
    """One server process; `kill()` is abrupt (a crash), `restart()` brings it back the same way."""

    def __init__(
        self,
        argv: list[str],
        log_path: Path,
        ready: Callable[[], bool] | None = None,
        ready_timeout_s: float = 20.0,
    ) -> None:
        self.argv = argv
        self.log_path = log_path
        self.ready = ready
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        if self.alive:
            return
        with open(self.log_path, "ab") as log:
            # Own session: kill() takes the whole group (nginx forks workers).
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + self.ready_timeout_s
        while self.ready is not None and not self.ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.argv[0]} not ready after {self.ready_timeout_s} s: {self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self) -> None:
        """Polite first (ffmpeg finishes its files), then abrupt."""
        if not self.alive:
            self.kill()
            return
        self._signal_group(signal.SIGTERM)
        assert self.proc is not None
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> None:
        self.kill()
        self.start()

    def pause(self) -> None:
        """A hung server: the process and its sockets stay, nothing more is sent."""
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _signal_group(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object | TracebackType) -> None:
        self.kill()


def or_skip(make: Callable[[], T]) -> T:
    """Build a real peer, or skip the test (with the install hint) when its binary is missing."""
    import pytest

    try:
        return make()
    except MissingTool as exc:
        pytest.skip(str(exc))
