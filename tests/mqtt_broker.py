"""A Mosquitto broker of the test's own, on a free loopback port, from a temporary config:
it can be stopped and started again without touching the machine's broker on 1883 (which
other tests and the demo use). Tests that need one are skipped when Mosquitto is not
installed (.ci/run installs and starts it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import free_port

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)


def need_mosquitto() -> None:
    if MOSQUITTO is None or shutil.which("mosquitto_pub") is None or shutil.which("mosquitto_sub") is None:
        pytest.skip(
            "mosquitto and its clients are not installed (apt-get install mosquitto mosquitto-clients)"
        )


def listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class Broker:
    def __init__(self, home: Path, accounts: dict[str, str] | None = None) -> None:
        """`accounts`: user → password, and anonymous clients refused (as in production)."""
        need_mosquitto()
        self.home = home
        self.port = free_port()
        self.conf = home / "mosquitto.conf"
        self.login: list[str] = []
        access = "allow_anonymous true\n"
        if accounts:
            passwd = home / "passwd"
            for i, (user, password) in enumerate(accounts.items()):
                create = ["-c"] if i == 0 else []
                subprocess.run(["mosquitto_passwd", *create, "-b", str(passwd), user, password], check=True)
            access = f"allow_anonymous false\npassword_file {passwd}\n"
            self.login = ["-u", next(iter(accounts)), "-P", next(iter(accounts.values()))]
        # persistence on: a restart keeps the sessions and their queued messages, as in production
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n{access}persistence true\n"
            f"persistence_location {home}/\nlog_dest file {home}/mosquitto.log\nuser root\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        assert MOSQUITTO is not None
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"mosquitto did not start: {self.process.stderr.read() if self.process.stderr else ''!r}"
                )
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def publish(self, topic: str, payloads: list[str], qos: int = 1) -> None:
        """Each payload (one line each) as a message of its own, by one mosquitto_pub."""
        subprocess.run(
            [
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                *self.login,
                "-q",
                str(qos),
                "-t",
                topic,
                "-l",
            ],
            input="\n".join(payloads) + "\n",
            text=True,
            check=True,
            timeout=30,
        )

    def subscribe(self, topic: str, count: int, wait_s: float = 10.0) -> subprocess.Popen[str]:
        """mosquitto_sub for `count` messages (topic and payload per line), or `wait_s` at most."""
        return subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-q", "1", "-t", topic, "-v",
             "-C", str(count), "-W", str(int(wait_s))],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
