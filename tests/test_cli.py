"""The command line as operators' scripts use it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dispatch.city import City
from tests.helpers import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "command_center", *args], capture_output=True, text=True, cwd=ROOT)


def test_grids_locate_prints_the_path(tmp_path: Path, small_city: City) -> None:
    config = tmp_path / "cc.yaml"
    config.write_text(f"server: {{data_dir: {tmp_path}}}\ncity: {{generator: {{seed: 7, districts: 2}}}}\n")
    grid = small_city.grids[7]
    proc = run("grids", "locate", str(grid.lon), str(grid.lat), "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    located = json.loads(proc.stdout)
    assert located["grid_code"] == grid.code and located["fallback"] is False
    assert [p["code"] for p in located["path"]][-1] == grid.code

    far = run("grids", "locate", "150.0", "-30.0", "--config", str(config))
    assert far.returncode == 1 and "no grid" in json.loads(far.stdout)["error"]


def test_bench_route_prints_a_ratio_last() -> None:
    proc = run("bench", "route", "--points", "3000", "--single", "300", "--districts", "1", "--repeat", "1")
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("ratio: ") and float(last.split()[1]) > 0

    as_json = run("bench", "route", "--points", "3000", "--single", "300", "--districts", "1", "--repeat", "1", "--json")
    figures = json.loads(as_json.stdout)
    assert figures["ratio"] > 0 and figures["locate_many_pps"] > 0
