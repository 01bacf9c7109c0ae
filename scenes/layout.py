"""What a built backdrop tells the actors: where to walk and drive, and what to avoid."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from scenes.camera import PoleCamera
from scenes.scenery import Occluder

Polygon = list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Lane:
    y: float  # centre line depth, metres from the pole
    direction: int  # +1: traffic moves towards +x
    speed: float  # m/s; every vehicle of a lane keeps it, so none drives through another
    width: float = 3.3


@dataclass(frozen=True, slots=True)
class Rect:
    """An axis-aligned ground rectangle in metres."""

    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2


@dataclass(slots=True)
class Backdrop:
    kind: str  # "street" | "plaza"
    cam: PoleCamera
    image: np.ndarray  # the static view, occluders baked in
    occluders: list[Occluder]
    zones: dict[str, Polygon]
    walkways: list[tuple[float, float]]  # depth bands where ambient people walk along x
    open_ground: Rect | None = None  # a plaza: people cross it in any direction
    lanes: list[Lane] = field(default_factory=list)
    bike_lanes: list[Lane] = field(default_factory=list)
    park_lane: Lane | None = None
    no_parking: Rect | None = None
    fire_lane: Rect | None = None  # a street's 消防通道 box in the parking strip
    vending: Rect | None = None  # where a plaza's stalls and dumped rubbish turn up
    obstacles: list[tuple[float, float, float]] = field(default_factory=list)  # (x, y, radius)
    event_bands: list[tuple[float, float]] = field(default_factory=list)  # depth bands for event spots

    def visible_x(self, y: float, margin_m: float = 0.0) -> tuple[float, float]:
        lo, hi = self.cam.visible_x(y)
        return lo + margin_m, hi - margin_m

    def clear_of_obstacles(self, x: float, y: float, gap: float) -> bool:
        return all((x - ox) ** 2 + (y - oy) ** 2 > (r + gap) ** 2 for ox, oy, r in self.obstacles)


def ground_polygon(cam: PoleCamera, rect: Rect) -> Polygon:
    uv, _ = cam.project(
        np.array([(rect.x0, rect.y0, 0), (rect.x1, rect.y0, 0), (rect.x1, rect.y1, 0), (rect.x0, rect.y1, 0)])
    )
    return [(int(round(u)), int(round(v))) for u, v in uv]


def band_polygon(cam: PoleCamera, y0: float, y1: float) -> Polygon:
    """The part of a ground band that the camera sees, cut at the image's edges."""
    ys = [y for y in np.linspace(y0, y1, 80) if cam.visible_x(float(y)) != (0.0, 0.0)]
    if not ys:
        return []
    lo, hi = float(min(ys)), float(max(ys))
    xs = [*cam.visible_x(lo), *cam.visible_x(hi)]
    pad = 0.2 * (max(xs) - min(xs))
    x0, x1 = min(xs) - pad, max(xs) + pad
    uv, _ = cam.project(np.array([(x0, lo, 0), (x1, lo, 0), (x1, hi, 0), (x0, hi, 0)], dtype=np.float64))
    # The frame's outer edge (not the last pixel's centre): boxes cut at the edge end there too.
    frame = np.array([(0, 0), (cam.width, 0), (cam.width, cam.height), (0, cam.height)])
    area, clipped = cv2.intersectConvexConvex(uv.astype(np.float32), frame.astype(np.float32))
    if area <= 0 or clipped is None:
        return []
    return [(int(round(u)), int(round(v))) for u, v in clipped.reshape(-1, 2)]
