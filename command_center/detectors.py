"""The models cameras run: named detectors (`detector:` is "default", `detectors:` the
rest), each loaded once on first use and shared by every camera that names it, and per
camera the detector its `models:` list (or its group's) makes.

Sharing is by identity: two cameras with the same list get the same detector object
(one `MultiDetector` per distinct list), so the vision worker batches their frames
through one model (see docs/MODELS_PER_CAMERA.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from command_center.config import CameraConfig, CameraGroupConfig, Config
from vision.config import DetectorConfig
from vision.detectors import Detector, create_detector
from vision.detectors.multi import MultiDetector
from vision.gate import MotionGate
from vision.verify import detector_floor

log = logging.getLogger(__name__)
DEFAULT = "default"


class Detectors:
    def __init__(
        self,
        default: DetectorConfig,
        named: Mapping[str, DetectorConfig] | None = None,
        groups: Mapping[str, CameraGroupConfig] | None = None,
    ) -> None:
        self.configs: dict[str, DetectorConfig] = {DEFAULT: default, **(named or {})}
        self.groups = dict(groups or {})
        self._loaded: dict[str, Detector] = {}
        self._combined: dict[tuple[str, ...], Detector] = {}
        # Cameras are (re)built from the event loop and, in tests and benches, from threads:
        # a model must still load only once.
        self._lock = threading.RLock()

    @classmethod
    def from_config(cls, config: Config) -> Detectors:
        return cls(config.detector, config.detectors, config.camera_groups)

    def names(self) -> list[str]:
        return list(self.configs)

    def models_of(self, cam: CameraConfig) -> list[str]:
        """The camera's own list, else its group's, else the default model."""
        if cam.models:
            return list(cam.models)
        group = self.groups.get(cam.group) if cam.group else None
        return list(group.models) if group is not None else [DEFAULT]

    def unknown(self, cam: CameraConfig) -> list[str]:
        """Names in the camera's list that no detector has (a registry camera's: the
        configuration checks its own at load), and an unknown group."""
        missing = [name for name in self.models_of(cam) if name not in self.configs]
        if cam.group and not cam.models and cam.group not in self.groups:
            missing.append(f"group {cam.group}")
        return missing

    def get(self, name: str) -> Detector:
        """The named detector, loaded on first use; ValueError for a name none has."""
        with self._lock:
            if name not in self._loaded:
                if name not in self.configs:
                    raise ValueError(f"unknown model {name!r}; known: {', '.join(self.configs)}")
                config = self.configs[name]
                log.info("loading model %s (%s %s)", name, config.backend, config.model or "")
                if config.backend != "motion":
                    # The model reports down to the checks' lower bar (vision/verify.py); each
                    # camera keeps the configured thresholds for its incidents (`bars_for`).
                    config = config.model_copy(update={"thresholds": detector_floor(config.thresholds)})
                self._loaded[name] = create_detector(config)
            return self._loaded[name]

    def loaded(self) -> dict[str, Detector]:
        with self._lock:
            return dict(self._loaded)

    def for_camera(self, cam: CameraConfig) -> Detector:
        """The camera's detector: the shared instance of its one model, or the shared
        MultiDetector of its list. Unknown names are left out (logged: the camera's
        pipeline shows them, see camera_status); none left: the default model."""
        names = tuple(n for n in self.models_of(cam) if n in self.configs) or (DEFAULT,)
        if len(names) == 1:
            return self.get(names[0])
        with self._lock:
            if names not in self._combined:
                self._combined[names] = MultiDetector([self.get(n) for n in names])
            return self._combined[names]

    def bars_for(self, cam: CameraConfig) -> dict[str, float]:
        """The scores the camera's incidents need, by label (and `default`): its models'
        configured thresholds; a label two of its models name keeps the lower bar."""
        names = [n for n in self.models_of(cam) if n in self.configs] or [DEFAULT]
        bars: dict[str, float] = {}
        for name in names:
            for label, score in self.configs[name].thresholds.items():
                bars[label] = min(bars.get(label, 1.0), score)
        return bars

    def gate_for(self, cam: CameraConfig) -> MotionGate | None:
        """Model detectors look only where things move. None when any of the camera's models
        is the motion detector (it needs whole frames and keeps its own background) or
        opts out of the gate."""
        configs = [self.configs[n] for n in self.models_of(cam) if n in self.configs] or [self.configs[DEFAULT]]
        if any(c.backend == "motion" or not c.motion_gate for c in configs):
            return None
        return MotionGate(region_size=max(c.imgsz for c in configs), recheck_every=min(c.recheck_every for c in configs))
