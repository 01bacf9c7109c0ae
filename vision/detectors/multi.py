"""Several models behind one Detector: a camera that watches with a COCO model for people
and vehicles and a city's own model for the rest.

Each part maps its own labels (its label map is applied inside it); the merged output
keeps one detection where two models saw the same thing: per product label, a box of one
model that overlaps a higher-scored box of another model is dropped. Overlap is IoU ≥
`merge_iou`, or the smaller box lying mostly (`contain`) inside the larger: two models box
the same person differently (one the whole body, one the part it is sure of). Within one
model's own list nothing is dropped: its NMS already decided, and nested same-label boxes
there are real (a person behind another).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vision.detectors.base import Detection, Detector


class MultiDetector:
    def __init__(self, parts: Sequence[Detector], merge_iou: float = 0.5, contain: float = 0.85) -> None:
        if not parts:
            raise ValueError("a MultiDetector needs at least one detector")
        if not (0.0 < merge_iou <= 1.0 and 0.0 < contain <= 1.0):
            raise ValueError(f"merge_iou and contain must be within (0, 1], got {merge_iou}, {contain}")
        self.parts: tuple[Detector, ...] = tuple(parts)
        self.merge_iou = merge_iou
        self.contain = contain
        # The union, in the order the parts name them (first seen first).
        self.labels: tuple[str, ...] = tuple(dict.fromkeys(label for part in self.parts for label in part.labels))

    # Read-only views over the parts' per-class labels and score floors, for readers that
    # ask a detector what it lets through (a scene check's bars). Floors are changed on the
    # parts themselves (emergency sensing walks `parts`).
    @property
    def class_labels(self) -> list[str]:
        return [label for part in self._thresholded() for label in part.class_labels]  # type: ignore[attr-defined]

    @property
    def thresholds(self) -> np.ndarray:
        floors = [part.thresholds for part in self._thresholded()]  # type: ignore[attr-defined]
        return np.concatenate(floors) if floors else np.zeros(0, dtype=np.float32)

    def _thresholded(self) -> list[Detector]:
        return [
            p for p in self.parts
            if isinstance(getattr(p, "thresholds", None), np.ndarray) and getattr(p, "class_labels", None) is not None
        ]  # fmt: skip

    def detect(self, image: np.ndarray, stream_id: str = "") -> list[Detection]:
        return merge([part.detect(image, stream_id) for part in self.parts], self.merge_iou, self.contain)

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Each part over all images (its own batching where it has one), then merged per image."""
        per_part = [_batch(part, images) for part in self.parts]
        return [merge([found[i] for found in per_part], self.merge_iou, self.contain) for i in range(len(images))]


def _batch(part: Detector, images: Sequence[np.ndarray]) -> list[list[Detection]]:
    batch = getattr(part, "detect_batch", None)
    if batch is not None:
        found: list[list[Detection]] = batch(images)
        return found
    # A stateful part (motion) keys its state by stream: a batch has no stream, and a
    # camera with a motion part is never batched (it has no gate), so this is the odd caller.
    return [part.detect(image) for image in images]


def merge(groups: Sequence[list[Detection]], merge_iou: float = 0.5, contain: float = 0.85) -> list[Detection]:
    """Detections of several models (one list each) as one list: per label, a box
    overlapping a higher-scored box of another model is dropped. One model's list comes
    back as it was."""
    if sum(1 for group in groups if group) <= 1:
        return [det for group in groups for det in group]
    by_label: dict[str, list[tuple[int, Detection]]] = {}
    for source, group in enumerate(groups):
        for det in group:
            by_label.setdefault(det.label, []).append((source, det))
    out: list[Detection] = []
    for found in by_label.values():
        if len({source for source, _ in found}) == 1:
            out.extend(det for _, det in found)
        else:
            out.extend(_suppress(found, merge_iou, contain))
    return out


def _suppress(found: list[tuple[int, Detection]], merge_iou: float, contain: float) -> list[Detection]:
    ranked = sorted(found, key=lambda item: item[1].score, reverse=True)
    sources = np.array([source for source, _ in ranked])
    boxes = np.array([det.box for _, det in ranked], dtype=np.float64)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    alive = np.ones(len(ranked), dtype=bool)
    for i in range(len(ranked)):
        if not alive[i]:
            continue
        rest = slice(i + 1, None)
        x1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        union = areas[i] + areas[rest] - inter
        smaller = np.minimum(areas[i], areas[rest])
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        inside = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
        same = (iou >= merge_iou) | (inside >= contain)
        alive[rest] &= ~(same & (sources[rest] != sources[i]))  # only another model's box goes
    return [det for (_, det), keep in zip(ranked, alive.tolist(), strict=True) if keep]
