"""A model's calibrated per-class score thresholds, kept beside it as `<model>.thresholds.json`
(written by `command-center calibrate`, vision/train/calibrate.py)."""

from __future__ import annotations

import json
from pathlib import Path


def sidecar(model: Path) -> Path:
    return model.with_suffix(".thresholds.json")


def load_thresholds(model: Path, fallback: dict[str, float]) -> dict[str, float]:
    """The model's calibrated thresholds when its sidecar file is there, else `fallback`."""
    path = sidecar(model)
    if not path.exists():
        return dict(fallback)
    try:
        found = json.loads(path.read_text())["thresholds"]
        return {"default": fallback.get("default", 0.4), **{str(k): float(v) for k, v in found.items()}}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a thresholds file ({exc})") from None
