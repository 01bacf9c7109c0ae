"""A real foreground detector: background subtraction, then blobs as objects.

It finds anything that differs from the learned background, so it also finds a
vehicle that stopped: the background learns slowly on purpose, which keeps a
parked vehicle in the foreground for about a minute at 5 fps. Labels are guessed
from the blob's shape; the trained model replaces this guess.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.detectors.base import Detection

_WARMUP_FRAMES = 15
_WARMUP_RATE = 0.2
_LEARNING_RATE = 0.0005


class MotionDetector:
    labels: tuple[str, ...] = ("person", "vehicle", "object")

    def __init__(self, min_area: int = 120, var_threshold: float = 24.0) -> None:
        self.min_area = min_area
        self.var_threshold = var_threshold
        self._models: dict[str, tuple[cv2.BackgroundSubtractorMOG2, list[int]]] = {}
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def detect(self, image: np.ndarray, stream_id: str = "") -> list[Detection]:
        model, seen = self._model(stream_id)
        rate = _WARMUP_RATE if seen[0] < _WARMUP_FRAMES else _LEARNING_RATE
        seen[0] += 1
        mask = model.apply(image, learningRate=rate)
        if seen[0] <= _WARMUP_FRAMES:
            return []
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        mask = cv2.dilate(mask, self._kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        out: list[Detection] = []
        for contour in contours:
            area = cv2.contourArea(contour)
            if area < self.min_area:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            fill = float(area) / float(w * h)
            out.append(Detection(_guess_label(w, h, area), min(1.0, 0.4 + 0.6 * fill), (x, y, x + w, y + h)))
        return out

    def _model(self, stream_id: str) -> tuple[cv2.BackgroundSubtractorMOG2, list[int]]:
        if stream_id not in self._models:
            sub = cv2.createBackgroundSubtractorMOG2(history=2000, varThreshold=self.var_threshold, detectShadows=False)
            self._models[stream_id] = (sub, [0])
        return self._models[stream_id]


def _guess_label(w: int, h: int, area: float) -> str:
    if h > 1.3 * w:
        return "person"
    if w > 1.2 * h and area > 600:
        return "vehicle"
    return "object"
