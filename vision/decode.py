"""Model input and output formats: letterboxing, YOLOX and ultralytics heads, NMS.

YOLOX exports take BGR 0–255 letterboxed to the top-left with pad 114 and give
1×N×(5+C) raw head outputs (xy = (p + grid)·stride, wh = exp(p)·stride, score =
objectness × class). Ultralytics exports take RGB 0–1 letterboxed to the centre
and give 1×(4+C)×N boxes (cx, cy, w, h in input pixels) with class scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

PAD = 114


@dataclass(frozen=True, slots=True)
class Letterbox:
    scale: float
    pad_x: float
    pad_y: float

    def to_source(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes (x1, y1, x2, y2) in model-input pixels → source pixels."""
        out = boxes.copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        return out


def _fit(image: np.ndarray, size: tuple[int, int], centre: bool) -> tuple[np.ndarray, Letterbox]:
    """The image resized to fit `size` (h, w) keeping its aspect ratio, and where it goes."""
    h, w = image.shape[:2]
    th, tw = size
    scale = min(th / h, tw / w)
    nh, nw = round(h * scale), round(w * scale)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nh, nw) != (h, w) else image
    top = (th - nh) // 2 if centre else 0
    left = (tw - nw) // 2 if centre else 0
    return resized, Letterbox(scale, left, top)


def letterbox(image: np.ndarray, size: tuple[int, int], centre: bool) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio, pad to `size` (h, w) with grey."""
    resized, box = _fit(image, size, centre)
    canvas = np.full((*size, 3), PAD, dtype=np.uint8)
    top, left = int(box.pad_y), int(box.pad_x)
    canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return canvas, box


def letterbox_batch(
    images: Sequence[np.ndarray], size: tuple[int, int], centre: bool, scale: float, swap_rb: bool
) -> tuple[np.ndarray, list[Letterbox]]:
    """Letterbox BGR images straight into one N×3×H×W float32 model input, each scaled by
    `scale` (and turned to RGB with `swap_rb`); the padding is PAD·scale.

    Same values as `letterbox` followed by the conversion, in one pass over the pixels that
    matter: converting only the resized image, not the padded canvas, halves the cost."""
    out = np.full((len(images), 3, *size), PAD * scale, dtype=np.float32)
    boxes = []
    for i, image in enumerate(images):
        resized, box = _fit(image, size, centre)
        top, left = int(box.pad_y), int(box.pad_x)
        blob = cv2.dnn.blobFromImage(np.ascontiguousarray(resized), scale, swapRB=swap_rb)
        out[i, :, top : top + resized.shape[0], left : left + resized.shape[1]] = blob[0]
        boxes.append(box)
    return out, boxes


def yolox_grids(
    size: tuple[int, int], strides: tuple[int, ...] = (8, 16, 32)
) -> tuple[np.ndarray, np.ndarray]:
    """The grid offsets and strides of every anchor, in the head's output order."""
    grids, expanded = [], []
    for stride in strides:
        gh, gw = size[0] // stride, size[1] // stride
        xv, yv = np.meshgrid(np.arange(gw), np.arange(gh))
        grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
        expanded.append(np.full((gh * gw, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(expanded).astype(np.float32)


def decode_yolox(raw: np.ndarray, grids: np.ndarray, strides: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One image's N×(5+C) raw output → (boxes x1y1x2y2 in input pixels, N×C scores)."""
    xy = (raw[:, :2] + grids) * strides
    wh = np.exp(np.clip(raw[:, 2:4], -10, 10)) * strides
    boxes = np.concatenate((xy - wh / 2, xy + wh / 2), axis=1)
    scores = raw[:, 4:5] * raw[:, 5:]
    return boxes, scores


def decode_ultralytics(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One image's (4+C)×N output → (boxes x1y1x2y2 in input pixels, N×C scores)."""
    raw = raw.T
    cxcy, wh = raw[:, :2], raw[:, 2:4]
    return np.concatenate((cxcy - wh / 2, cxcy + wh / 2), axis=1), raw[:, 4:]


def select(
    boxes: np.ndarray,
    scores: np.ndarray,
    thresholds: np.ndarray,
    iou: float,
    max_detections: int = 300,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best class per box, per-class thresholds, then class-aware NMS.

    Returns (boxes, scores, class ids)."""
    # Most anchors score below every threshold: drop them before the (slower) argmax.
    maybe = scores.max(axis=1) >= thresholds.min()
    boxes, scores = boxes[maybe], scores[maybe]
    classes = scores.argmax(axis=1)
    best = scores[np.arange(len(scores)), classes]
    keep = best >= thresholds[classes]
    boxes, best, classes = boxes[keep], best[keep], classes[keep]
    if not len(boxes):
        return boxes, best, classes
    # Offsetting each class into its own region makes one NMS call class-aware.
    offset = classes[:, None].astype(np.float32) * (float(boxes.max()) + 1.0)
    shifted = boxes + offset
    xywh = np.concatenate((shifted[:, :2], shifted[:, 2:] - shifted[:, :2]), axis=1)
    kept = cv2.dnn.NMSBoxes(xywh.tolist(), best.tolist(), 0.0, iou)
    idx = np.array(kept, dtype=np.int64).reshape(-1)[:max_detections]
    return boxes[idx], best[idx], classes[idx]
