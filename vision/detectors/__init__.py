"""Detector backends: one registry, chosen by `detector.backend`; `MultiDetector` runs several as one."""

from __future__ import annotations

from collections.abc import Callable

from vision.config import DetectorConfig
from vision.detectors.base import Box, Detection, Detector
from vision.detectors.motion import MotionDetector
from vision.detectors.multi import MultiDetector
from vision.thresholds import load_thresholds


def thresholds_of(cfg: DetectorConfig) -> dict[str, float]:
    """The config's thresholds where it names them; else the model's calibrated ones when
    `command-center calibrate` left them beside it (`<model>.thresholds.json`), else the defaults.
    A model is meant to run at the thresholds measured for it, not at one score for all."""
    if "thresholds" in cfg.model_fields_set or cfg.model is None:
        return cfg.thresholds
    return load_thresholds(cfg.model, cfg.thresholds)


def _onnx(cfg: DetectorConfig) -> Detector:
    from vision.detectors.onnx import OnnxDetector

    if cfg.model is None:
        raise ValueError("detector.model is required for the onnx backend")
    return OnnxDetector(
        cfg.model, cfg.imgsz, thresholds_of(cfg), cfg.nms_iou, cfg.format, cfg.label_map, threads=cfg.threads
    )


def _ultralytics(cfg: DetectorConfig) -> Detector:
    from vision.detectors.ultralytics import UltralyticsDetector  # imports torch: slow, so only when chosen

    if cfg.model is None:
        raise ValueError("detector.model is required for the ultralytics backend")
    return UltralyticsDetector(cfg.model, cfg.imgsz, thresholds_of(cfg), cfg.nms_iou, cfg.label_map)


_BACKENDS: dict[str, Callable[[DetectorConfig], Detector]] = {
    "motion": lambda cfg: MotionDetector(min_area=cfg.min_area),
    "onnx": _onnx,
    "ultralytics": _ultralytics,
}


def register(name: str, factory: Callable[[DetectorConfig], Detector]) -> None:
    _BACKENDS[name] = factory


def backends() -> list[str]:
    return sorted(_BACKENDS)


def create_detector(config: DetectorConfig) -> Detector:
    try:
        factory = _BACKENDS[config.backend]
    except KeyError:
        raise ValueError(f"unknown detector backend {config.backend!r}; known: {', '.join(backends())}") from None
    return factory(config)


__all__ = ["Box", "Detection", "Detector", "MotionDetector", "MultiDetector", "backends", "create_detector", "register", "thresholds_of"]
