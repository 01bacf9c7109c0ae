"""`command-center bench detect` runs end to end on a short clip and reports both figures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

MODEL = ROOT / "models" / "grid-yolo.onnx"


@pytest.mark.skipif(not MODEL.exists(), reason=f"{MODEL} is not in this checkout")
def test_bench_detect_reports_throughput_and_gating() -> None:
    args = ["--frames", "6", "--repeat", "1", "--gate-kinds", "street", "--gate-seconds", "40", "--gate-every", "15"]
    proc = subprocess.run(
        [sys.executable, "-m", "command_center", "bench", "detect", *args, "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["frames"] == 6 and figures["ours_fps"] > 0 and figures["baseline_fps"] > 0
    assert figures["ratio"] == round(figures["ours_fps"] / figures["baseline_fps"], 2)
    # Detecting every frame runs one inference per frame; the gate never runs more than one
    # per region and skips frames with nothing to look at.
    assert figures["inferences_every_frame"] == figures["gate_frames"] == 200
    assert 0 < figures["inferences_gated"] <= figures["inferences_every_frame"] * 2
    assert 0.0 <= figures["frames_skipped_ratio"] < 1.0
