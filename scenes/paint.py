"""Drawing primitives shared by the renderers: sub-pixel polygons, colour helpers, boxes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

BGR = tuple[int, int, int]
Box = tuple[float, float, float, float]
Label = tuple[str, Box]

# Fixed-point vertices (4 fractional bits) so slow motion glides instead of jumping whole pixels.
_SHIFT = 4
_ONE = 1 << _SHIFT


def _fixed(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts, dtype=np.float64) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def fill(img: np.ndarray, pts: np.ndarray | Sequence[Sequence[float]], colour: BGR, aa: bool = True) -> None:
    cv2.fillPoly(img, [_fixed(np.asarray(pts))], colour, cv2.LINE_AA if aa else cv2.LINE_8, _SHIFT)


def fill_many(img: np.ndarray, polys: Iterable[np.ndarray], colour: BGR, aa: bool = False) -> None:
    batch = [_fixed(p) for p in polys]
    if batch:
        cv2.fillPoly(img, batch, colour, cv2.LINE_AA if aa else cv2.LINE_8, _SHIFT)


def line(
    img: np.ndarray, p0: Sequence[float], p1: Sequence[float], colour: BGR, thickness: float, aa: bool = True
) -> None:
    a = (round(p0[0] * _ONE), round(p0[1] * _ONE))
    b = (round(p1[0] * _ONE), round(p1[1] * _ONE))
    cv2.line(img, a, b, colour, max(1, round(thickness)), cv2.LINE_AA if aa else cv2.LINE_8, _SHIFT)


def disc(img: np.ndarray, centre: Sequence[float], radius: float, colour: BGR) -> None:
    c = (round(centre[0] * _ONE), round(centre[1] * _ONE))
    cv2.circle(img, c, max(1, round(radius * _ONE)), colour, -1, cv2.LINE_AA, _SHIFT)


def oval(
    img: np.ndarray, centre: Sequence[float], axes: Sequence[float], colour: BGR, angle: float = 0.0
) -> None:
    c = (round(centre[0] * _ONE), round(centre[1] * _ONE))
    ax = (max(1, round(axes[0] * _ONE)), max(1, round(axes[1] * _ONE)))
    cv2.ellipse(img, c, ax, angle, 0, 360, colour, -1, cv2.LINE_AA, _SHIFT)


def shade(colour: BGR, k: float) -> BGR:
    """Scale a colour's brightness (k < 1 darker, k > 1 lighter)."""
    return (min(255, int(colour[0] * k)), min(255, int(colour[1] * k)), min(255, int(colour[2] * k)))


def mix(a: BGR, b: BGR, w: float) -> BGR:
    return (
        int(a[0] + (b[0] - a[0]) * w),
        int(a[1] + (b[1] - a[1]) * w),
        int(a[2] + (b[2] - a[2]) * w),
    )


def union(boxes: Iterable[Box]) -> Box:
    bs = list(boxes)
    return (
        min(b[0] for b in bs),
        min(b[1] for b in bs),
        max(b[2] for b in bs),
        max(b[3] for b in bs),
    )


def clip_box(box: Box, width: int, height: int) -> Box:
    return (
        min(max(box[0], 0.0), float(width)),
        min(max(box[1], 0.0), float(height)),
        min(max(box[2], 0.0), float(width)),
        min(max(box[3], 0.0), float(height)),
    )


def ring(img: np.ndarray, centre: Sequence[float], radius: float, colour: BGR, thickness: float) -> None:
    c = (round(centre[0] * _ONE), round(centre[1] * _ONE))
    cv2.circle(img, c, max(1, round(radius * _ONE)), colour, max(1, round(thickness)), cv2.LINE_AA, _SHIFT)
