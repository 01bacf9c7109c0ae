"""`command-center bench iot` at a tiny size (50 devices, 100 messages/s, 3 s) against a private
Mosquitto: both sides get every message the publisher sent, ours stores a reading per message
and an incident per alarm, the counts add up, and the last line is the ratio."""

from __future__ import annotations

import pytest

from command_center import cli
from tests.mqtt_broker import need_mosquitto


@pytest.mark.slow
def test_bench_iot_tiny_run_counts_add_up_and_ends_with_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    need_mosquitto()
    args = ["--devices", "50", "--rate", "100", "--seconds", "3", "--alarm-share", "0.02", "--drain-s", "20"]
    assert cli.main(["bench", "iot", *args]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("ratio: ")
    ratio = float(lines[-1].split(": ", 1)[1])
    figures = dict(line.split(": ", 1) for line in lines[:-1])
    for side in ("baseline", "ours"):
        sent = int(figures[f"{side}_sent"])
        assert sent == 300, figures
        assert int(figures[f"{side}_handled"]) == sent  # drained: nothing lost through the broker
        assert int(figures[f"{side}_alarms_sent"]) == 6 == int(figures[f"{side}_alarms_seen"])
        backlog = int(figures[f"{side}_backlog_at_end"])
        assert 0 <= backlog <= sent
        rate = float(figures[f"{side}_rate"])
        assert 0 < rate <= 100 * 1.1  # never more than was sent over the window
        assert float(figures[f"{side}_latency_p50_ms"]) <= float(figures[f"{side}_latency_p99_ms"])
    # ours: every message taken by the intake, a stored reading each, one incident per alarm
    assert int(figures["ours_received"]) == 300 and int(figures["ours_errors"]) == 0
    assert int(figures["ours_readings"]) == 300
    assert int(figures["ours_incidents"]) == 6
    assert ratio == pytest.approx(float(figures["ours_rate"]) / float(figures["baseline_rate"]), abs=0.01)
