"""Ground-plane strips and convex solids projected through a pole camera."""

from __future__ import annotations

import numpy as np

from scenes.camera import PoleCamera
from scenes.paint import BGR, fill, shade

# Corner order: bottom (z0) 0..3 then top (z1) 4..7, each counter-clockwise from (x0, y0).
_FACES = (
    ((4, 5, 6, 7), 1.12),  # top: lit from above
    ((0, 1, 5, 4), 1.0),  # near side (faces the pole)
    ((1, 2, 6, 5), 0.8),  # +x end
    ((3, 0, 4, 7), 0.8),  # -x end
    ((2, 3, 7, 6), 0.7),  # far side
    ((0, 3, 2, 1), 0.5),  # bottom
)


def hexa(
    x0: float,
    x1: float,
    y0: float,
    y1: float,
    z0: float,
    z1: float,
    top_x: tuple[float, float] | None = None,
    top_y: tuple[float, float] | None = None,
) -> np.ndarray:
    """Eight corners of a box whose top may be narrower (a car's cabin, a lamp shade)."""
    tx0, tx1 = top_x if top_x else (x0, x1)
    ty0, ty1 = top_y if top_y else (y0, y1)
    return np.array(
        [
            (x0, y0, z0),
            (x1, y0, z0),
            (x1, y1, z0),
            (x0, y1, z0),
            (tx0, ty0, z1),
            (tx1, ty0, z1),
            (tx1, ty1, z1),
            (tx0, ty1, z1),
        ],
        dtype=np.float64,
    )


def rotate_z(corners: np.ndarray, cx: float, cy: float, angle: float) -> np.ndarray:
    """Turn corners about the vertical axis through (cx, cy) by `angle` radians."""
    if angle == 0.0:
        return corners
    c, s = np.cos(angle), np.sin(angle)
    out = corners.copy()
    dx, dy = corners[:, 0] - cx, corners[:, 1] - cy
    out[:, 0] = cx + c * dx - s * dy
    out[:, 1] = cy + s * dx + c * dy
    return out


_FACE_IDX = np.array([f for f, _ in _FACES])
_FACE_INDEX = {f: k for k, (f, _) in enumerate(_FACES)}


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # np.cross costs ~40 µs per call in axis handling; six small faces per solid add up.
    return np.stack(
        [
            a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
            a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
            a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0],
        ],
        axis=1,
    )


def visible_faces(cam: PoleCamera, corners: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
    """Faces of a convex solid turned towards the camera (they never overlap each other)."""
    p = corners[_FACE_IDX]  # (6 faces, 4 corners, xyz)
    n = _cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    # A face whose first edge has collapsed (a cabin's slanted end) takes its normal from the rest.
    alt = _cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0])
    small = (n * n).sum(axis=1) < 1e-12
    n[small] = alt[small]
    mid = p.mean(axis=1)
    outward = np.sign(((mid - corners.mean(axis=0)) * n).sum(axis=1))
    eye = np.array([0.0, 0.0, cam.height_m])
    seen = ((eye - mid) * n).sum(axis=1) * outward > 0
    return [_FACES[k] for k in np.nonzero(seen)[0]]


def draw_hexa(
    img: np.ndarray,
    cam: PoleCamera,
    corners: np.ndarray,
    colour: BGR,
    face_colours: dict[int, BGR] | None = None,
) -> np.ndarray:
    """Paint the visible faces with simple directional shading; returns the corners' pixels.

    `face_colours` overrides by face number (0 top, 1 near, 2 +x, 3 -x, 4 far) for glass and lights.
    """
    uv, _ = cam.project(corners)
    for idx, light in visible_faces(cam, corners):
        k = _FACE_INDEX[idx]
        base = face_colours.get(k, colour) if face_colours else colour
        fill(img, uv[list(idx)], shade(base, light))
    return uv


def ground_strip(cam: PoleCamera, x0: float, x1: float, y0: float, y1: float, step: float = 4.0) -> list:
    """A ground rectangle cut into pieces so none crosses behind the camera.

    Long strips along the street reach past the camera's side; a single polygon with a
    vertex behind the lens would fold over the image.
    """
    pieces = []
    xs = np.arange(x0, x1 + 1e-9, step)
    if xs[-1] < x1:
        xs = np.append(xs, x1)
    for a, b in zip(xs[:-1], xs[1:], strict=True):
        pts = np.array([(a, y0, 0.0), (b, y0, 0.0), (b, y1, 0.0), (a, y1, 0.0)])
        uv, depth = cam.project(pts)
        if depth.min() < 0.3:
            continue
        if uv[:, 0].max() < -50 or uv[:, 0].min() > cam.width + 50:
            continue
        if uv[:, 1].max() < -50 or uv[:, 1].min() > cam.height + 50:
            continue
        pieces.append(uv)
    return pieces


def wall(cam: PoleCamera, x0: float, x1: float, y: float, z0: float, z1: float) -> np.ndarray | None:
    """A vertical rectangle facing the camera (a facade, a window), or None if behind it."""
    uv, depth = cam.project(np.array([(x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1)]))
    return None if depth.min() < 0.3 else uv
