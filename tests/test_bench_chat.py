"""`command-center bench chat` end to end, small: the real app, residents and workers on their
sockets, ours against both baselines; every measured message delivered, the ratio printed last."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("via", ["socket", "http"])
def test_bench_chat_delivers_every_message_and_prints_a_ratio_last(via: str) -> None:
    args = ["--residents", "24", "--workers", "4", "--rate", "20", "--seconds", "1.5", "--rounds", "1",
            "--warmup", "0.5", "--drain", "1.5", "--processes", "1", "--via", via]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "command_center", "bench", "chat", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("ratio: ") and float(lines[-1].split()[1]) > 0
    figures = dict(line.split(": ", 1) for line in lines if ": " in line)
    for who in ("ours", "relay", "raw"):
        if f"{who}_lost" in figures:
            assert figures[f"{who}_lost"] == "0", (who, proc.stdout)
    assert figures["ours_lost"] == "0" and float(figures["ours_p99_ms"]) > 0
    assert float(figures["ratio_in_process"]) > 0
    # from the server's hands: raw and relay always; ours where its op is timed (on the socket)
    assert float(figures["raw_handed_p99_ms"]) > 0 and float(figures["relay_handed_p99_ms"]) > 0
    if via == "socket":
        assert float(figures["ours_handed_p99_ms"]) > 0 and float(figures["ratio_handed"]) > 0
    else:
        assert figures["ratio_handed"] == "None"
