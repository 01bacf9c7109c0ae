"""Rendered feeds (the `scenes` package) behind the `Source` protocol, and the `sim://` URL
that configures them.

sim://street?seed=3
sim://plaza?seed=4&width=960&height=540&event_every_s=30
sim://drone?seed=5&route=113.30,23.12;113.35,23.13;113.33,23.16&speed=15&alt=120
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from scenes import SCENE_KINDS, AerialRenderer, DroneFlight, SceneRenderer
from scenes.events import CLASSIC_KINDS
from scenes.paint import Box
from streams.base import Frame, Source, SourceError, Telemetry
from streams.config import SourceConfig
from streams.ptz import SIM_PTZ
from streams.registry import register

# A small loop over Tianhe, Guangzhou, for a drone URL without a route.
DEFAULT_ROUTE: tuple[tuple[float, float], ...] = (
    (113.3245, 23.1365),
    (113.3310, 23.1365),
    (113.3310, 23.1410),
    (113.3245, 23.1410),
)


class _PacedSource:
    """Frames due every 1/fps on the monotonic clock; scene time is seconds since `open`.

    A caller that falls behind gets the next frame at once and the schedule restarts from
    now: frames are skipped, never delivered in a catch-up burst.
    """

    def __init__(self, fps: float, start_s: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.period = 1.0 / self.fps
        self.start_s = float(start_s)
        self._opened_at: float | None = None
        self._due = 0.0
        self._index = 0  # survives reopening: a reconnect does not reset frame numbers
        # A camera with a sim PTZ head (streams/ptz.py): frames are seen through its preset.
        self.ptz_camera: str | None = None

    def open(self) -> None:
        self._opened_at = time.monotonic()
        self._due = self._opened_at

    def close(self) -> None:
        self._opened_at = None

    def scene_time(self, wall_ts: float | None = None) -> float | None:
        """The scene second this source renders now, or rendered at wall-clock `wall_ts`;
        None while it is closed."""
        if self._opened_at is None:
            return None
        now = time.monotonic() - self._opened_at + self.start_s
        return now if wall_ts is None else now - (time.time() - wall_ts)

    def read(self) -> Frame:
        if self._opened_at is None:
            raise SourceError("simulated source is not open")
        now = time.monotonic()
        if now < self._due:
            time.sleep(self._due - now)
        elif now - self._due > self.period:
            self._due = now
        scene_t = self._due - self._opened_at + self.start_s
        image, labels, telemetry = self._render(scene_t)
        if self.ptz_camera is not None and (head := SIM_PTZ.get(self.ptz_camera)) is not None:
            image, labels = head.view(image, labels)
        frame = Frame(
            image=image,
            ts=time.monotonic(),
            index=self._index,
            wall_ts=time.time(),
            telemetry=telemetry,
            truth=tuple(labels),
        )
        self._index += 1
        self._due += self.period
        return frame

    def _render(self, t: float) -> tuple[np.ndarray, list[tuple[str, Box]], Telemetry | None]:
        raise NotImplementedError


class SimCameraSource(_PacedSource):
    """A fixed street or plaza camera (see `SceneRenderer` for the renderer's options)."""

    def __init__(
        self,
        fps: float = 5.0,
        seed: int = 0,
        kind: str = "street",
        width: int = 640,
        height: int = 360,
        start_s: float = 0.0,
        **renderer_kwargs: Any,
    ) -> None:
        super().__init__(fps, start_s)
        self.renderer = SceneRenderer(seed, width=width, height=height, kind=kind, **renderer_kwargs)

    def _render(self, t: float) -> tuple[np.ndarray, list[tuple[str, Box]], Telemetry | None]:
        image, labels = self.renderer.render(t)
        return image, labels, None


class SimDroneSource(_PacedSource):
    """A drone flying a waypoint loop; every frame carries its telemetry."""

    def __init__(
        self,
        fps: float = 5.0,
        seed: int = 0,
        waypoints: Sequence[tuple[float, float]] = DEFAULT_ROUTE,
        speed_mps: float = 12.0,
        alt_m: float = 120.0,
        width: int = 640,
        height: int = 360,
        start_s: float = 0.0,
        loop: bool = True,
    ) -> None:
        super().__init__(fps, start_s)
        if not alt_m > 0:
            raise ValueError(f"alt_m must be positive, got {alt_m}")
        _check_size(width, height)
        self.flight = DroneFlight(list(waypoints), speed_mps, alt_m, loop)
        self.renderer = AerialRenderer(seed, width, height, flight=self.flight)

    def _render(self, t: float) -> tuple[np.ndarray, list[tuple[str, Box]], Telemetry | None]:
        fix = self.flight.telemetry(t, wall_ts=time.time())
        image, labels = self.renderer.render(t, fix.heading)
        return image, labels, Telemetry(lat=fix.lat, lon=fix.lon, alt=fix.alt, heading=fix.heading, ts=fix.ts)


def _check_size(width: int, height: int) -> None:
    if not (64 <= width <= 3840 and 64 <= height <= 2160):
        raise ValueError(f"frame size {width}x{height} is out of range (64x64 to 3840x2160)")


def _int(v: str) -> int:
    return int(v)


def _float(v: str) -> float:
    f = float(v)
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return f


def _bool(v: str) -> bool:
    low = v.strip().lower()
    if low in ("1", "true", "yes", "on", ""):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false, yes/no, on/off or 1/0")


def _route(v: str) -> list[tuple[float, float]]:
    pts = []
    for part in v.split(";"):
        if not part.strip():
            continue
        lon, lat = part.split(",")
        pts.append((_float(lon), _float(lat)))
    if not pts:
        raise ValueError("expected lon,lat;lon,lat;...")
    return pts


# URL parameter → (keyword argument, parser), per scene kind.
_COMMON: dict[str, tuple[str, Callable[[str], Any]]] = {
    "seed": ("seed", _int),
    "width": ("width", _int),
    "height": ("height", _int),
    "start_s": ("start_s", _float),
}
_FIXED: dict[str, tuple[str, Callable[[str], Any]]] = {
    **_COMMON,
    "event_every_s": ("event_every_s", _float),
    "first_event_s": ("first_event_s", _float),
    "randomize": ("randomize", _bool),
    "noise": ("noise_sigma", _float),
    "density": ("density", _float),
    "kinds": ("kinds", lambda v: tuple(k.strip() for k in v.split(",") if k.strip())),
}
_DRONE: dict[str, tuple[str, Callable[[str], Any]]] = {
    **_COMMON,
    "route": ("waypoints", _route),
    "speed": ("speed_mps", _float),
    "alt": ("alt_m", _float),
    "loop": ("loop", _bool),
}


def open_sim(url: str, fps: float = 5.0) -> Source:
    """Build a simulated source from a `sim://<street|plaza|drone>?...` URL.

    A `fps` query parameter overrides the argument. Raises ValueError naming the bad part.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "sim":
        raise ValueError(f"not a sim:// URL: {url!r}")
    scene = (parts.netloc or parts.path).strip("/").lower()
    known = (*SCENE_KINDS, "drone")
    if scene not in known:
        raise ValueError(f"unknown simulated scene {scene!r} in {url!r}; expected one of {', '.join(known)}")
    table = _DRONE if scene == "drone" else _FIXED
    kwargs: dict[str, Any] = {}
    for key, raw in parse_qsl(parts.query, keep_blank_values=True):
        if key == "fps":
            fps = _parse(url, key, raw, _float)
            continue
        if key not in table:
            allowed = ", ".join(sorted([*table, "fps"]))
            raise ValueError(f"unknown parameter {key!r} for sim://{scene} in {url!r}; allowed: {allowed}")
        name, parser = table[key]
        kwargs[name] = _parse(url, key, raw, parser)
    if kwargs.get("kinds") == ("classic",):  # the events a model of the first seven classes sees
        kwargs["kinds"] = tuple(k for k in CLASSIC_KINDS if scene == "street" or k != "illegal_parking")
    _validate(url, kwargs)
    if not fps > 0:
        raise ValueError(f"fps must be positive in {url!r}, got {fps}")
    try:
        if scene == "drone":
            return SimDroneSource(fps=fps, **kwargs)
        return SimCameraSource(fps=fps, kind=scene, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad simulated source {url!r}: {exc}") from exc


def _parse(url: str, key: str, raw: str, parser: Callable[[str], Any]) -> Any:
    try:
        return parser(raw)
    except ValueError as exc:
        raise ValueError(f"bad value {raw!r} for {key!r} in {url!r}: {exc}") from exc


def _validate(url: str, kw: dict[str, Any]) -> None:
    def need(cond: bool, what: str) -> None:
        if not cond:
            raise ValueError(f"bad parameter in {url!r}: {what}")

    _check_size(kw.get("width", 640), kw.get("height", 360))
    need(kw.get("seed", 0) >= 0, "seed must be ≥ 0")
    need(kw.get("event_every_s", 1.0) > 0, "event_every_s must be > 0")
    need(kw.get("first_event_s", 0.0) >= 0, "first_event_s must be ≥ 0")
    need(kw.get("start_s", 0.0) >= 0, "start_s must be ≥ 0")
    need(0 <= kw.get("noise_sigma", 0.0) <= 20, "noise must be between 0 and 20")
    need(0 <= kw.get("density", 1.0) <= 5, "density must be between 0 and 5")
    need(kw.get("speed_mps", 1.0) > 0, "speed must be > 0")
    need(kw.get("alt_m", 1.0) > 0, "alt must be > 0")


@register("sim", "drone")
def _from_config(config: SourceConfig) -> Source:
    source = open_sim(config.url, config.fps)
    ptz = getattr(config, "ptz", None)  # a camera's config (command_center) may carry one
    if ptz is not None and ptz.kind == "sim" and isinstance(source, _PacedSource):
        source.ptz_camera = config.id
    return source
