"""Pan-tilt-zoom cameras: send one to a named preset (the verification of a handled case
looks where the problem was).

`Ptz` is what a PTZ kind implements; `create_ptz` builds one from a camera's `ptz:`
config by kind: `sim` (here: a preset is a crop window of the rendered frame, which the
sim source renders through) and `onvif` (streams/onvif.py: GetPresets and GotoPreset
over SOAP).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Window = tuple[float, float, float, float]  # x1, y1, x2, y2 as fractions of the full view
TruthBox = tuple[float, float, float, float]
Truth = list[tuple[str, TruthBox]]

# A sim camera without its own presets: the whole view, and the left half at 2× zoom.
DEFAULT_SIM_PRESETS: dict[str, Window] = {"wide": (0.0, 0.0, 1.0, 1.0), "p1": (0.0, 0.25, 0.5, 0.75)}


class PtzError(RuntimeError):
    """The camera refused or could not be reached; the message says which."""


class NoPtz(LookupError):
    """The camera is not known here, or has no PTZ head."""

    def __init__(self, camera_id: str) -> None:
        super().__init__(f"camera {camera_id} has no PTZ head here")
        self.camera_id = camera_id


class UnknownPreset(ValueError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown preset {name!r}; known: {', '.join(known) or 'none'}")
        self.name = name
        self.known = known


@runtime_checkable
class Ptz(Protocol):
    def presets(self) -> list[str]:
        """The preset names the camera knows."""
        ...

    def goto_preset(self, name: str) -> None:
        """Move to a preset; UnknownPreset for a name it does not know, PtzError if it fails."""
        ...


class PtzConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, description="sim or onvif")
    url: str | None = Field(default=None, description="onvif: the PTZ service, e.g. http://cam/onvif/ptz_service")
    media_url: str | None = Field(default=None, description="onvif: the media service (profiles); unset: url")
    profile: str | None = Field(default=None, description="onvif: the media profile token; unset: the first profile")
    user: str = ""
    password: str = ""
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    home: str | None = Field(
        default=None,
        description="the preset its zones are drawn for: a verification check sends the camera there first,"
        " so the incident's region means the same place",
    )
    presets: dict[str, Window] | None = Field(
        default=None, description="sim: preset name → crop window [x1, y1, x2, y2] in fractions of the view"
    )

    @field_validator("presets")
    @classmethod
    def _windows(cls, value: dict[str, Window] | None) -> dict[str, Window] | None:
        for name, (x1, y1, x2, y2) in (value or {}).items():
            if not name or not (0.0 <= x1 < x2 <= 1.0 and 0.0 <= y1 < y2 <= 1.0):
                raise ValueError(f"preset {name!r}: expected 0 ≤ x1 < x2 ≤ 1 and 0 ≤ y1 < y2 ≤ 1")
        if value is not None and not value:
            raise ValueError("give at least one preset, or leave presets out")
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> PtzConfig:
        if self.kind == "onvif":
            for key in ("url", "media_url"):
                url = getattr(self, key)
                if url is not None and not url.lower().startswith(("http://", "https://")):
                    raise ValueError(f"onvif {key} must be an http:// or https:// address")
            if self.url is None:
                raise ValueError("onvif needs url: the camera's PTZ service address")
        if self.presets is not None and self.kind != "sim":
            raise ValueError("presets are for kind sim; a real camera names its own")
        return self


class SimPtz:
    """A simulated PTZ head: a preset is a crop window of the rendered view, scaled back to
    the frame's size (a zoom). Thread-safe: moved from the event loop, read by the source."""

    def __init__(self, presets: dict[str, Window] | None = None) -> None:
        self._presets = dict(presets or DEFAULT_SIM_PRESETS)
        self._lock = threading.Lock()
        self._current = next(iter(self._presets))  # the first preset is home
        self.moves = 0

    def presets(self) -> list[str]:
        return list(self._presets)

    def goto_preset(self, name: str) -> None:
        if name not in self._presets:
            raise UnknownPreset(name, self.presets())
        with self._lock:
            self._current = name
            self.moves += 1

    @property
    def current(self) -> str:
        with self._lock:
            return self._current

    @property
    def window(self) -> Window:
        return self._presets[self.current]

    def view(self, image: np.ndarray, truth: Truth) -> tuple[np.ndarray, Truth]:
        """The frame as the head sees it at its preset; ground truth follows the zoom."""
        x1, y1, x2, y2 = self.window
        if (x1, y1, x2, y2) == (0.0, 0.0, 1.0, 1.0):
            return image, truth
        h, w = image.shape[:2]
        left, top = int(round(x1 * w)), int(round(y1 * h))
        right, bottom = max(left + 1, int(round(x2 * w))), max(top + 1, int(round(y2 * h)))
        zoomed = cv2.resize(image[top:bottom, left:right], (w, h), interpolation=cv2.INTER_LINEAR)
        sx, sy = w / (right - left), h / (bottom - top)
        seen: Truth = []
        for label, (bx1, by1, bx2, by2) in truth:
            box = (
                min(max((bx1 - left) * sx, 0.0), w), min(max((by1 - top) * sy, 0.0), h),
                min(max((bx2 - left) * sx, 0.0), w), min(max((by2 - top) * sy, 0.0), h),
            )  # fmt: skip
            if box[2] > box[0] and box[3] > box[1]:  # outside the window: out of sight
                seen.append((label, box))
        return zoomed, seen


class SimPtzStore:
    """The sim PTZ heads of this process by camera id. A source is built from its config
    alone (streams.registry), so the Cameras that move a head and the sim source that
    renders through it meet here, as telemetry does (streams/telemetry.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heads: dict[str, SimPtz] = {}

    def put(self, camera_id: str, head: SimPtz) -> None:
        with self._lock:
            self._heads[camera_id] = head

    def get(self, camera_id: str) -> SimPtz | None:
        with self._lock:
            return self._heads.get(camera_id)

    def remove(self, camera_id: str) -> None:
        with self._lock:
            self._heads.pop(camera_id, None)


SIM_PTZ = SimPtzStore()

PtzFactory = Callable[[str, PtzConfig], Ptz]  # (camera id, its ptz config) → the head
_KINDS: dict[str, PtzFactory] = {}
_BUILTIN = ("streams.onvif",)
_loaded = False


def register_ptz(kind: str) -> Callable[[PtzFactory], PtzFactory]:
    def wrap(factory: PtzFactory) -> PtzFactory:
        _KINDS[kind] = factory
        return factory

    return wrap


def ptz_kinds() -> list[str]:
    global _loaded
    if not _loaded:  # imported on first use: ONVIF pulls in httpx
        _loaded = True
        for module in _BUILTIN:
            importlib.import_module(module)
    return sorted(_KINDS)


def create_ptz(camera_id: str, config: PtzConfig) -> Ptz:
    factory = _KINDS.get(config.kind) if config.kind in ptz_kinds() else None
    if factory is None:
        raise ValueError(f"camera {camera_id}: unknown PTZ kind {config.kind!r}; known: {', '.join(ptz_kinds())}")
    return factory(camera_id, config)


@register_ptz("sim")
def _sim(camera_id: str, config: PtzConfig) -> Ptz:
    # A fresh head per build, at home: it replaces whatever head the id had before.
    head = SimPtz(config.presets)
    SIM_PTZ.put(camera_id, head)
    return head
