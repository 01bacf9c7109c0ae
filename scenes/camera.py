"""A pinhole camera on a pole looking down at a flat ground plane.

Every part of a rendered scene (backdrop, actors, label boxes) goes through the same
projection, so sizes shrink with distance and boxes agree with what is drawn.
World axes: x metres along the street (right), y metres away from the pole's foot, z up.
"""

from __future__ import annotations

import math

import numpy as np


class PoleCamera:
    __slots__ = ("width", "height", "focal", "height_m", "pitch_deg", "yaw_deg", "cx", "cy", "rot", "_rows")

    def __init__(
        self, width: int, height: int, focal: float, height_m: float, pitch_deg: float, yaw_deg: float
    ) -> None:
        self.width = width
        self.height = height
        self.focal = focal
        self.height_m = height_m
        self.pitch_deg = pitch_deg
        self.yaw_deg = yaw_deg
        self.cx = width / 2.0
        self.cy = height / 2.0
        p, y = math.radians(pitch_deg), math.radians(yaw_deg)
        right = (math.cos(y), -math.sin(y), 0.0)
        up = (math.sin(p) * math.sin(y), math.sin(p) * math.cos(y), math.cos(p))
        fwd = (math.cos(p) * math.sin(y), math.cos(p) * math.cos(y), -math.sin(p))
        self.rot = np.array([right, up, fwd], dtype=np.float64)
        # Plain tuples: the per-actor scalar path is faster without numpy's call overhead.
        self._rows = (right, up, fwd)

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points → (N, 2) pixels and their depth along the optical axis."""
        rel = np.asarray(pts, dtype=np.float64) - (0.0, 0.0, self.height_m)
        cam = rel @ self.rot.T
        depth = cam[:, 2]
        z = np.maximum(depth, 1e-3)
        uv = np.empty((len(rel), 2))
        uv[:, 0] = self.cx + self.focal * cam[:, 0] / z
        uv[:, 1] = self.cy - self.focal * cam[:, 1] / z
        return uv, depth

    def point(self, x: float, y: float, z: float = 0.0) -> tuple[float, float, float]:
        r, u, f = self._rows
        dz = z - self.height_m
        xc = r[0] * x + r[1] * y
        yc = u[0] * x + u[1] * y + u[2] * dz
        zc = max(f[0] * x + f[1] * y + f[2] * dz, 1e-3)
        return self.cx + self.focal * xc / zc, self.cy - self.focal * yc / zc, zc

    def scale(self, x: float, y: float) -> float:
        """Pixels per metre for an object standing at ground point (x, y)."""
        return self.focal / self.point(x, y)[2]

    def ground_at(self, u: float, v: float) -> tuple[float, float] | None:
        """The ground point seen at pixel (u, v), or None above the horizon."""
        r, up, f = self._rows
        a, b = (u - self.cx) / self.focal, -(v - self.cy) / self.focal
        d = [r[i] * a + up[i] * b + f[i] for i in range(3)]
        if d[2] >= -1e-6:
            return None
        s = self.height_m / -d[2]
        return d[0] * s, d[1] * s

    @property
    def horizon_v(self) -> float:
        return self.cy - self.focal * math.tan(math.radians(self.pitch_deg))

    def visible_x(self, y: float, z: float = 0.0, pad_px: float = 0.0) -> tuple[float, float]:
        """The x range of the line at depth y (height z) that falls inside the image."""
        xs = np.arange(-400.0, 400.0, 0.25)
        pts = np.stack([xs, np.full_like(xs, y), np.full_like(xs, z)], axis=1)
        uv, depth = self.project(pts)
        ok = (depth > 0.5) & (uv[:, 0] >= -pad_px) & (uv[:, 0] <= self.width + pad_px)
        ok &= (uv[:, 1] >= -pad_px) & (uv[:, 1] <= self.height + pad_px)
        if not ok.any():
            return 0.0, 0.0
        return float(xs[ok].min()), float(xs[ok].max())


def fit_camera(
    width: int, height: int, focal: float, height_m: float, yaw_deg: float, span_m: float, target_row: float
) -> PoleCamera:
    """Pick the pitch that puts the ground `span_m` beyond the image's bottom edge at `target_row`.

    Framing by what is seen rather than by angle keeps every seed's street (or plaza) filling
    the view, whatever focal length and pole height it drew.
    """
    best: tuple[float, PoleCamera] | None = None
    for pitch in np.arange(4.0, 70.0, 0.25):
        cam = PoleCamera(width, height, focal, height_m, float(pitch), yaw_deg)
        g = cam.ground_at(cam.cx, height)
        if g is None:
            continue
        row = cam.point(g[0], g[1] + span_m)[1]
        err = abs(row - target_row)
        if best is None or err < best[0]:
            best = (err, cam)
    assert best is not None
    return best[1]
