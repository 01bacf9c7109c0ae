"""Evidence: annotated frames and snapshots, and where they are kept."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from vision.detectors.base import Box

_COLOURS = {
    "person": (80, 200, 255),
    "vehicle": (255, 160, 60),
    "fire": (0, 60, 255),
    "smoke": (180, 180, 180),
    "garbage": (60, 200, 120),
    "stall": (200, 90, 220),
}


def draw_box(image: np.ndarray, box: Box, text: str, colour: tuple[int, int, int] | None = None, label: str = "") -> None:
    colour = colour or _COLOURS.get(label, (0, 255, 255))
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    ty = max(y1, th + 4)
    cv2.rectangle(image, (x1, ty - th - 4), (x1 + tw + 4, ty), colour, -1)
    cv2.putText(image, text, (x1 + 2, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)


def draw_zones(image: np.ndarray, zones: Iterable[tuple[str, Sequence[tuple[float, float]]]]) -> None:
    for name, polygon in zones:
        pts = np.array(polygon, dtype=np.int32).reshape(-1, 1, 2)
        cv2.polylines(image, [pts], True, (0, 220, 255), 1, cv2.LINE_AA)
        x, y = pts[0, 0]
        cv2.putText(image, name, (int(x) + 3, int(y) + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 220, 255), 1, cv2.LINE_AA)


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


LABEL_BAND_PX = 16  # a label drawn at the frame's top edge covers this many rows (draw_box)


def undrawn(box: Box) -> Box:
    """The part of `box` that `snapshot` draws nothing over: inside its 2-pixel frame, and
    below the label when the box starts so high that the label sits inside it."""
    x1, y1, x2, y2 = box
    top = y1 + 3 if y1 >= LABEL_BAND_PX else max(y1 + 3, LABEL_BAND_PX + 1)
    return (x1 + 3, top, x2 - 3, y2 - 3)


def snapshot(image: np.ndarray, box: Box, text: str, label: str = "") -> bytes:
    """The incident's frame with its box drawn, as JPEG."""
    canvas = image.copy()
    draw_box(canvas, box, text, colour=(0, 0, 255), label=label)
    return encode_jpeg(canvas, 85)


class SnapshotStore:
    """Snapshots on disk under the data dir, one file per incident."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, incident_id: str) -> Path:
        if not incident_id.replace("-", "").isalnum():
            raise ValueError(f"bad incident id {incident_id!r}")
        return self.root / f"{incident_id}.jpg"

    def save(self, incident_id: str, jpeg: bytes) -> Path:
        path = self.path(incident_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(jpeg)
        tmp.replace(path)
        return path
