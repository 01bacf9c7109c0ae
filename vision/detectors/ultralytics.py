"""YOLO detectors through ultralytics itself: `.pt` checkpoints and every format it loads
(ONNX, OpenVINO, TorchScript, TensorRT...), with the same per-label thresholds and label
map as `OnnxDetector`.

Slower than onnxruntime on CPU (DESIGN §5), but it runs a training checkpoint as it is and
uses the GPU when torch has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vision.detectors.base import Detection
from vision.labels import class_thresholds

# Tasks whose results carry axis-aligned boxes (`Results.boxes`).
_BOX_TASKS = ("detect", "segment", "pose")


class UltralyticsDetector:
    def __init__(
        self,
        model: str | Path,
        imgsz: int = 320,
        thresholds: dict[str, float] | None = None,
        nms_iou: float = 0.45,
        label_map: dict[str, str] | None = None,
        device: str = "cpu",
    ) -> None:
        path = Path(model)
        # ultralytics fetches weights it cannot find by name; nothing may download at run time.
        if not path.exists():
            raise ValueError(f"model file {path} does not exist")
        self.model = self._load(path)
        self.imgsz = imgsz
        self.device = device
        self.nms_iou = nms_iou
        names = self.model.names
        self.names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
        self.class_labels, self.labels, self.thresholds = class_thresholds(self.names, label_map, thresholds)
        # Non-.pt formats load lazily on the first predict: a corrupt file must fail here, not
        # on a camera's first frame.
        try:
            self._predict([np.zeros((imgsz, imgsz, 3), dtype=np.uint8)])
        except Exception as exc:
            raise ValueError(f"model file {path} cannot run: {exc}") from exc

    @staticmethod
    def _load(path: Path) -> Any:
        from ultralytics import YOLO

        try:
            # task: only formats without metadata need it, and this backend only detects.
            model = YOLO(str(path), task="detect")
        except Exception as exc:  # ultralytics raises TypeError, RuntimeError... for bad files
            raise ValueError(f"model file {path} cannot be loaded: {exc}") from exc
        if model.task not in _BOX_TASKS:
            raise ValueError(f"model file {path} is a {model.task} model, not a detector")
        return model

    def detect(self, image: np.ndarray, stream_id: str = "") -> list[Detection]:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Several frames (e.g. from several cameras) in one inference."""
        for image in images:
            if image is None or image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0:
                raise ValueError(
                    f"cannot detect in an empty or non-BGR image (shape {getattr(image, 'shape', None)})"
                )
        return [self._postprocess(result) for result in self._predict(images)]

    def _predict(self, images: Sequence[np.ndarray]) -> list[Any]:
        return self.model.predict(
            list(images),
            imgsz=self.imgsz,
            conf=float(self.thresholds.min()) if len(self.thresholds) else 0.0,
            iou=self.nms_iou,
            device=self.device,
            verbose=False,
        )

    def _postprocess(self, result: Any) -> list[Detection]:
        boxes = result.boxes
        if boxes is None or not len(boxes):
            return []
        xyxy = boxes.xyxy.cpu().numpy()  # already in source pixels
        scores = boxes.conf.cpu().numpy()
        classes = boxes.cls.cpu().numpy().astype(np.int64)
        # ultralytics applied the lowest threshold; each label's own one is applied here.
        keep = scores >= self.thresholds[classes]
        return [
            Detection(self.class_labels[c], float(s), (float(b[0]), float(b[1]), float(b[2]), float(b[3])))
            for b, s, c in zip(xyxy[keep], scores[keep], classes[keep], strict=True)
        ]
