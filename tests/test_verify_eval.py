"""Video verification on rendered scenes (vision/evaluate_verify.py): the project's model
behind the motion gate at 5 fps, a check started after each staged event's incident, half
of the events handled at that moment and half left standing.

The one hard requirement: no FALSE AUTO-VERIFICATION (a "cleared" while the event's object
is visible in the check's region by the renderer's ground truth). Precision and recall of
"cleared" are held near what was measured on 48 pairs (docs/MODEL.md, "Video verification";
`command-center evaluate-verify --pairs 48`): the suite runs a sample of 16 pairs over every
kind, about two minutes on two cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import ROOT
from vision.evaluate_verify import CLASSIC, evaluate_verify, format_report

MODEL = Path(os.environ.get("GRID_MODEL", ROOT / "models" / "grid-yolo.onnx"))
PAIRS = 16
HOLD_S = 15.0
MIN_PRECISION = 0.95
MIN_RECALL = 0.75  # 0.95 on 48 pairs; a sample of 16 may hold one more unsure crowd


@pytest.mark.slow
@pytest.mark.timeout(900)  # 16 pairs at ~8-25 s each on two shared cores: past the suite's 300 s
@pytest.mark.skipif(not MODEL.exists(), reason=f"{MODEL} (the project's trained model) is not there")
def test_checks_never_clear_a_visible_problem() -> None:
    report = evaluate_verify(MODEL, pairs=PAIRS, hold_s=HOLD_S, progress=False)
    print("\n" + format_report(report))
    total = report["total"]
    # Kinds whose object the model cannot see at all (piled-up bicycles) have no case to check.
    scored = {kind: row for kind, row in report["per_kind"].items() if row["pairs"]}
    assert report["pairs"] == PAIRS and len(scored) >= 6
    assert all(scored[kind]["pairs"] >= 1 for kind in CLASSIC)
    assert total["false_auto_verifications"] == 0, [r for r in report["results"] if r["false_auto_verification"]]
    assert total["precision"] is not None and total["precision"] >= MIN_PRECISION
    assert total["recall"] is not None and total["recall"] >= MIN_RECALL
