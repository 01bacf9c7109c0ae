"""Raised sensing: detect fps and detection thresholds of cameras near an emergency.

What each camera had when the runtime started is its baseline; `apply` sets every
camera from the baseline and the active modes' wishes at once, so ending a mode (or
a restart) restores exactly, and overlapping modes take the most sensitive of their
settings without keeping counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
        # The detector is shared: a camera's lowered thresholds only help if the detector
        # itself lets those scores through, so its per-class floor is lowered with them.
        pipes = [pipe for _, pipe, _ in vision.cameras.values()]
        self._detector = pipes[0].detector if pipes else None
        floor = getattr(self._detector, "thresholds", None)
        self._floor: np.ndarray | None = floor.copy() if isinstance(floor, np.ndarray) else None

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
        lowered_floor = self._detector_floor(raised)
        # Order matters for the vision thread: cameras filter for themselves before the
        # shared floor drops, and the floor is back before they stop filtering.
        if lowered_floor is None:
            self._set_floor(self._floor)
        for cam, (runner, pipe, now_fps) in list(self._vision.cameras.items()):
            # A camera added since (a worker live) is untouched until now: as it is, is its baseline.
            base_fps, base_thresholds = self.baseline.setdefault(cam, (now_fps, pipe.thresholds))
            thresholds: dict[str, float] | None
            if cam in raised:
                fps, thresholds = max(base_fps, raised[cam].fps), raised[cam].thresholds
            elif lowered_floor is not None:
                fps, thresholds = base_fps, base_thresholds if base_thresholds is not None else self._configured
            else:
                fps, thresholds = base_fps, base_thresholds
            pipe.thresholds = thresholds
            self._vision.cameras[cam] = (runner, pipe, fps)  # same key: safe while the thread iterates
        if lowered_floor is not None:
            self._set_floor(lowered_floor)

    def _detector_floor(self, raised: dict[str, Want]) -> np.ndarray | None:
        labels = getattr(self._detector, "class_labels", None)
        if self._floor is None or labels is None or not raised:
            return None
        per_class = []
        for label, base in zip(labels, self._floor.tolist(), strict=True):
            lows = [w.thresholds.get(label, w.thresholds.get("default", base)) for w in raised.values()]
            per_class.append(min(base, *lows))
        return np.array(per_class, dtype=self._floor.dtype)

    def _set_floor(self, floor: np.ndarray | None) -> None:
        if floor is not None and self._detector is not None:
            self._detector.thresholds = floor  # type: ignore[attr-defined]
