"""YOLO detectors on ONNX Runtime: YOLOX and ultralytics exports, told apart by shape.

The output layout decides the decoder: 1×N×(5+C) is YOLOX, 1×(4+C)×N is an
ultralytics export (which also names its classes in the model's metadata).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from vision.decode import Letterbox, decode_ultralytics, decode_yolox, letterbox_batch, select, yolox_grids
from vision.detectors.base import Detection
from vision.labels import COCO, class_thresholds


class OnnxDetector:
    def __init__(
        self,
        model: str | Path,
        imgsz: int = 320,
        thresholds: dict[str, float] | None = None,
        nms_iou: float = 0.45,
        output_format: str = "auto",
        label_map: dict[str, str] | None = None,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
    ) -> None:
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        available = ort.get_available_providers()
        wanted = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        try:
            self.session = ort.InferenceSession(str(model), options, providers=list(wanted))
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
            raise ValueError(f"cannot load model {model}: {str(exc).splitlines()[0][:300]}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        model_input = self.session.get_inputs()[0]
        shape = model_input.shape
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise ValueError(f"model {model}: expected an image input N×3×H×W, got {shape}")
        outputs = self.session.get_outputs()
        if len(outputs[0].shape) != 3:
            raise ValueError(
                f"model {model}: expected a detection output of 3 dimensions, got {outputs[0].shape}"
            )
        self.input_name = model_input.name
        h, w = model_input.shape[2], model_input.shape[3]
        self.size = (h, w) if isinstance(h, int) and isinstance(w, int) else (imgsz, imgsz)
        self.batchable = not isinstance(model_input.shape[0], int)
        self.format = output_format if output_format != "auto" else self._sniff_format(meta)
        self.names = self._names(meta)
        self.class_labels, self.labels, self.thresholds = class_thresholds(self.names, label_map, thresholds)
        self.nms_iou = nms_iou
        if self.format == "yolox":
            self._grids, self._strides = yolox_grids(self.size)

    def detect(self, image: np.ndarray, stream_id: str = "") -> list[Detection]:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Several frames (e.g. from several cameras) in one inference when the model allows."""
        for image in images:
            if image is None or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
                raise ValueError(f"expected a BGR image H×W×3, got {None if image is None else image.shape}")
        if self.format == "yolox":  # BGR 0–255, letterboxed to the top left
            tensors, boxes = letterbox_batch(images, self.size, False, 1.0, False)
        else:  # RGB 0–1, letterboxed to the centre
            tensors, boxes = letterbox_batch(images, self.size, True, 1 / 255.0, True)
        if self.batchable:
            outputs = self.session.run(None, {self.input_name: tensors})[0]
        else:
            outputs = np.concatenate([self.session.run(None, {self.input_name: t[None]})[0] for t in tensors])
        return [self._postprocess(out, box) for out, box in zip(outputs, boxes, strict=True)]

    def _postprocess(self, raw: np.ndarray, box: Letterbox) -> list[Detection]:
        if self.format == "yolox":
            boxes, scores = decode_yolox(raw, self._grids, self._strides)
        else:
            boxes, scores = decode_ultralytics(raw)
        boxes, best, classes = select(boxes, scores, self.thresholds, self.nms_iou)
        # tolist() hands over Python floats in one call, not one numpy scalar at a time.
        return [
            Detection(self.class_labels[c], s, (b[0], b[1], b[2], b[3]))
            for b, s, c in zip(box.to_source(boxes).tolist(), best.tolist(), classes.tolist(), strict=True)
        ]

    def _sniff_format(self, meta: dict[str, str]) -> str:
        if "names" in meta:
            return "ultralytics"
        shape = self.session.get_outputs()[0].shape
        if not all(isinstance(d, int) for d in shape[1:]):
            dummy = np.zeros((1, 3, *self.size), dtype=np.float32)
            shape = self.session.run(None, {self.input_name: dummy})[0].shape
        # Anchors outnumber channels: whichever axis is longer holds the anchors.
        return "yolox" if shape[1] > shape[2] else "ultralytics"

    def _names(self, meta: dict[str, str]) -> list[str]:
        if "names" in meta:
            parsed = ast.literal_eval(meta["names"])
            return [parsed[i] for i in sorted(parsed)] if isinstance(parsed, dict) else list(parsed)
        shape = self.session.get_outputs()[0].shape
        channels = shape[2] - 5 if self.format == "yolox" else shape[1] - 4
        return list(COCO) if channels == len(COCO) else [f"class{i}" for i in range(channels)]
