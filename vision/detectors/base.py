"""What a detector returns, and the Protocol every detector backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in source pixels


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    score: float
    box: Box

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "score": round(self.score, 3), "box": [round(v, 1) for v in self.box]}


class Detector(Protocol):
    labels: tuple[str, ...]

    def detect(self, image: np.ndarray, stream_id: str = "") -> list[Detection]:
        """Detections in `image` (BGR). Stateful backends (motion) keep state per stream_id."""
        ...
