"""Raised sensing: detect fps and detection thresholds of cameras near an emergency.

What each camera had when the runtime started is its baseline; `apply` sets every
camera from the baseline and the active modes' wishes at once, so ending a mode (or
a restart) restores exactly, and overlapping modes take the most sensitive of their
settings without keeping counts.

Cameras may run different models (command_center/detectors.py), a model shared by
several, or several at once (a MultiDetector's parts): each distinct model's own floor
is lowered by the wishes of the raised cameras that run it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from vision.pipeline import VisionWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Want:
    fps: float
    thresholds: dict[str, float]


class Sensing:
    def __init__(self, vision: VisionWorker, configured: dict[str, float]) -> None:
        self._vision = vision
        self._configured = dict(configured)  # the detector's thresholds by label, from config
        self.baseline = {cam: (fps, pipe.thresholds) for cam, (_, pipe, fps) in vision.cameras.items()}
        # Models are shared by cameras: a camera's lowered thresholds only help if the model
        # itself lets those scores through, so its per-class floor is lowered with them.
        # id(model) → (the model, its floor as first seen, i.e. as configured).
        self._floors: dict[int, tuple[Any, np.ndarray]] = {}
        for _, pipe, _ in vision.cameras.values():
            self._models_of(pipe.detector)

    def fps(self, cam: str) -> float:
        return self._vision.cameras[cam][2]

    def thresholds(self, cam: str) -> dict[str, float] | None:
        return self._vision.cameras[cam][1].thresholds

    @staticmethod
    def merge(wants: list[dict[str, Want]]) -> dict[str, Want]:
        """Several modes over one camera: the highest fps and the lowest threshold per label."""
        out: dict[str, Want] = {}
        for want in wants:
            for cam, w in want.items():
                if cam in out:
                    have = out[cam]
                    labels = set(have.thresholds) | set(w.thresholds)
                    big = 1.0
                    low = {k: min(have.thresholds.get(k, big), w.thresholds.get(k, big)) for k in labels}
                    out[cam] = Want(max(have.fps, w.fps), low)
                else:
                    out[cam] = w
        return out

    def apply(self, wants: dict[str, Want]) -> None:
        raised = {cam: w for cam, w in wants.items() if cam in self._vision.cameras}
        cameras = list(self._vision.cameras.items())
        uses = {cam: self._models_of(pipe.detector) for cam, (_, pipe, _) in cameras}
        lowered: dict[int, np.ndarray] = {}
        for key in self._floors:
            wishes = [w for cam, w in raised.items() if key in uses[cam]]
            if wishes:
                lowered[key] = self._lowered_floor(key, wishes)
        # Order matters for the vision thread: cameras filter for themselves before a shared
        # floor drops, and a floor is back before they stop filtering.
        for key, (model, floor) in self._floors.items():
            if key not in lowered:
                model.thresholds = floor
        for cam, (runner, pipe, now_fps) in cameras:
            # A camera added since (a worker live) is untouched until now: as it is, is its baseline.
            base_fps, base_thresholds = self.baseline.setdefault(cam, (now_fps, pipe.thresholds))
            thresholds: dict[str, float] | None
            if cam in raised:
                fps, thresholds = max(base_fps, raised[cam].fps), raised[cam].thresholds
            elif any(key in lowered for key in uses[cam]):  # its model lets more through: keep its bar
                fps, thresholds = base_fps, base_thresholds if base_thresholds is not None else self._configured_for(uses[cam])
            else:
                fps, thresholds = base_fps, base_thresholds
            pipe.thresholds = thresholds
            self._vision.cameras[cam] = (runner, pipe, fps)  # same key: safe while the thread iterates
        for key, floor in lowered.items():
            self._floors[key][0].thresholds = floor

    def _models_of(self, detector: Any) -> list[int]:
        """The keys of the thresholded models behind a camera's detector (a MultiDetector's
        parts, or itself), each noted with its floor the first time it is seen."""
        keys = []
        for model in getattr(detector, "parts", None) or (detector,):
            floor = getattr(model, "thresholds", None)
            if isinstance(floor, np.ndarray) and getattr(model, "class_labels", None) is not None:
                self._floors.setdefault(id(model), (model, floor.copy()))
                keys.append(id(model))
        return keys

    def _lowered_floor(self, key: int, wishes: list[Want]) -> np.ndarray:
        model, floor = self._floors[key]
        per_class = []
        for label, base in zip(model.class_labels, floor.tolist(), strict=True):
            lows = [w.thresholds.get(label, w.thresholds.get("default", base)) for w in wishes]
            per_class.append(min(base, *lows))
        return np.array(per_class, dtype=floor.dtype)

    def _configured_for(self, keys: list[int]) -> dict[str, float]:
        """The bar a camera's models had by label. One model in all: its configured
        thresholds; several: each label's lowest class floor among the camera's models
        (a label two of its models share keeps the lower of their bars)."""
        if len(self._floors) <= 1:
            return self._configured
        out: dict[str, float] = {}
        for key in keys:
            model, floor = self._floors[key]
            for label, base in zip(model.class_labels, floor.tolist(), strict=True):
                out[label] = min(out.get(label, 1.0), round(base, 6))  # float32 → the configured figure
        return out
