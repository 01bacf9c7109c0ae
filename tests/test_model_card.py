"""docs/MODEL.md is written from a training run's report; the hand-written history stays."""

from __future__ import annotations

import json
from pathlib import Path

from vision.train.report import write_model_card


def test_the_card_shows_the_run_and_keeps_the_history(tmp_path: Path) -> None:
    report = {
        "spec": {"arch": "yolov8n.yaml", "images": 3000, "val_images": 400, "seed": 3000, "val_seed": 9000,
                 "epochs": 40, "hours": 1.85, "init": "models/grid-yolo.onnx", "imgsz": 320, "batch": 16,
                 "device": "cpu"},
        "instances": {"train": {"person": 10, "fire": 2}, "val": {"person": 7, "fire": 1}},
        "metrics": {"map50": 0.8123, "map50_95": 0.5, "per_class": {"person": {"map50": 0.9, "map50_95": 0.6},
                                                                     "fire": {"map50": 0.7246, "map50_95": 0.4}}},
        "model_bytes": 12_100_000,
        "minutes": 111.0,
    }  # fmt: skip
    (tmp_path / "report.json").write_text(json.dumps(report))
    card = tmp_path / "MODEL.md"
    card.write_text("# old card\n| **all** | 1 | **0.5** |\n\n## History and status\n\n| v1 | 0.57 |\n")
    text = write_model_card(tmp_path / "report.json", card)
    assert "| **all** | 8 | **0.812** | **0.500** |" in text and "| fire | 1 | 0.725 | 0.400 |" in text
    assert "--seed 3000" in text and "--init models/grid-yolo.onnx" in text and "--hours 1.85" in text
    assert "old card" not in text and text.endswith("## History and status\n\n| v1 | 0.57 |\n")
    assert card.read_text() == text
