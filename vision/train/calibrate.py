"""Per-class score thresholds for a detector, chosen on a calibration set of their own.

mAP does not depend on a threshold, but the rules do: a class whose scores run low (standing
water at 0.1–0.3) is never reported above one shared threshold, and a class that another is
taken for (an open manhole seen as a pothole) reports false ones. So each class gets the
threshold that maximises its F1 (IoU ≥ 0.5, best class per box, as the pipeline decodes), on
frames rendered with a seed of their own: neither the training scenes nor the held-out set
the model card reports, nor the rule evaluation's scenes.

`command-center calibrate --model M` prints the table and writes `M.thresholds.json` beside the
model; vision/evaluate.py and the demo take the thresholds from there when the file exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vision.thresholds import sidecar
from vision.track import iou
from vision.train.dataset import DatasetSpec, Label, render_samples

CALIBRATION_SEED = 7000  # no run trained on it (docs/MODEL.md: 1000, 3000, 8000, 10000...); held out: 9000
FLOOR, CEILING = 0.15, 0.6  # a threshold outside these is more likely noise in the set than a fact
MIN_INSTANCES = 20  # fewer in the set: keep the default threshold
SWEEP_FROM = 0.05  # the detector runs this low; each class's threshold is chosen above it


@dataclass(frozen=True, slots=True)
class ClassCalibration:
    label: str
    threshold: float
    precision: float
    recall: float
    f1: float
    instances: int

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "precision": round(self.precision, 3), "recall": round(self.recall, 3),
                "f1": round(self.f1, 3), "instances": self.instances}  # fmt: skip


def best_threshold(
    scores: np.ndarray, hits: np.ndarray, instances: int, default: float
) -> tuple[float, float, float, float]:
    """(threshold, precision, recall, f1) maximising F1 over a class's detections.

    `scores` are the class's detection scores, `hits` whether each matched a true object (one
    detection per object at most), `instances` the true objects. Ties go to the higher
    threshold: fewer false reports for the same F1."""
    if instances < MIN_INSTANCES or scores.size == 0:
        return default, float("nan"), float("nan"), float("nan")
    order = np.argsort(-scores, kind="stable")
    ranked, hit = scores[order], hits[order].astype(np.float64)
    tp = np.cumsum(hit)
    precision = tp / np.arange(1, ranked.size + 1)
    recall = tp / instances
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    inside = (ranked >= FLOOR) & (ranked <= CEILING)
    if not inside.any():
        return default, float("nan"), float("nan"), float("nan")
    f1_inside = np.where(inside, f1, -1.0)
    best = int(np.flatnonzero(f1_inside == f1_inside.max())[0])  # the highest score among the ties
    return round(float(ranked[best]), 3), float(precision[best]), float(recall[best]), float(f1[best])


def match(
    detections: list[tuple[str, float, tuple[float, float, float, float]]], truth: list[Label]
) -> list[bool]:
    """Greedy by score: a detection hits an unmatched true object of its class at IoU ≥ 0.5."""
    used: set[int] = set()
    hits = [False] * len(detections)
    for i in sorted(range(len(detections)), key=lambda k: -detections[k][1]):
        label, _, box = detections[i]
        best, best_iou = -1, 0.5
        for j, (name, true_box) in enumerate(truth):
            if j in used or name != label:
                continue
            overlap = iou(box, true_box)
            if overlap >= best_iou:
                best, best_iou = j, overlap
        if best >= 0:
            used.add(best)
            hits[i] = True
    return hits


def calibrate(model: Path, images: int = 400, seed: int = CALIBRATION_SEED, default: float = 0.4,
              progress: bool = True) -> dict[str, ClassCalibration]:  # fmt: skip
    from tqdm import tqdm

    from vision.detectors.onnx import OnnxDetector

    detector = OnnxDetector(model, thresholds={"default": SWEEP_FROM})
    scores: dict[str, list[float]] = {label: [] for label in detector.labels}
    hits: dict[str, list[bool]] = {label: [] for label in detector.labels}
    instances: dict[str, int] = dict.fromkeys(detector.labels, 0)
    samples = render_samples(DatasetSpec(images=images, seed=seed))
    for image, truth in tqdm(samples, total=images, desc="calibrate", disable=not progress):
        found = [(d.label, d.score, d.box) for d in detector.detect(image)]
        for (label, score, _), hit in zip(found, match(found, truth), strict=True):
            scores[label].append(score)
            hits[label].append(hit)
        for name, _ in truth:
            if name in instances:
                instances[name] += 1
    out = {}
    for label in detector.labels:
        t, p, r, f = best_threshold(
            np.array(scores[label]), np.array(hits[label], bool), instances[label], default
        )
        out[label] = ClassCalibration(label, t, p, r, f, instances[label])
    return out


def write_thresholds(model: Path, table: dict[str, ClassCalibration], images: int, seed: int) -> Path:
    path = sidecar(model)
    doc = {"model": model.name, "images": images, "seed": seed, "thresholds": {k: v.threshold for k, v in table.items()},
           "classes": {k: v.to_dict() for k, v in table.items()}}  # fmt: skip
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return path


def format_calibration(table: dict[str, ClassCalibration]) -> str:
    lines = [f"{'class':<20}{'n':>6}{'threshold':>11}{'precision':>11}{'recall':>8}{'f1':>7}"]
    for c in table.values():
        p, r, f = (("-" if np.isnan(v) else f"{v:.2f}") for v in (c.precision, c.recall, c.f1))
        lines.append(f"{c.label:<20}{c.instances:>6}{c.threshold:>11.3f}{p:>11}{r:>8}{f:>7}")
    return "\n".join(lines)
