"""`command-center bench cases` runs end to end on a small city and ends with its ratio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from command_center import cli

ARGS = ["--cases", "200", "--incidents", "100", "--rate", "500", "--districts", "1"]


def test_bench_cases_prints_its_figures_then_a_ratio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "cases", *ARGS, "--cache-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("ratio: ") and float(lines[-1].split()[1]) > 0
    figures = dict(line.split(": ", 1) for line in lines[:-1])
    assert int(figures["created"]) + int(figures["merged_as_duplicates"]) == 200
    waiting = int(figures["waiting_for_confirmation"])
    assert waiting > 0  # the catalogue's confirm-first matters are among those drawn
    assert int(figures["dispatched"]) + waiting == int(figures["created"])
    assert int(figures["bus_incidents"]) == 100 and float(figures["bus_latency_p99_ms"]) > 0

    assert cli.main(["bench", "cases", *ARGS, "--incidents", "0", "--json", "--cache-dir", str(tmp_path)]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["ours_batched_cps"] > 0 and as_json["baseline_cps"] > 0 and "bus_incidents" not in as_json
