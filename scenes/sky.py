"""Sky above the horizon and a static grain over the ground, shared by both scene kinds."""

from __future__ import annotations

import random

import cv2
import numpy as np

from scenes.camera import PoleCamera


def paint_sky(img: np.ndarray, cam: PoleCamera, rnd: random.Random) -> None:
    """Fill the whole image with a vertical sky gradient; the ground is painted over it."""
    top = np.array([rnd.uniform(190, 235), rnd.uniform(150, 190), rnd.uniform(110, 150)])
    low = np.array([rnd.uniform(225, 245), rnd.uniform(215, 235), rnd.uniform(200, 225)])
    h = img.shape[0]
    horizon = max(cam.horizon_v, 1.0)
    w = np.clip(np.arange(h, dtype=np.float64) / horizon, 0.0, 1.0)[:, None]
    img[:] = (top * (1 - w) + low * w).astype(np.uint8)[:, None, :]


def texture(img: np.ndarray, rnd: random.Random, below_row: int, strength: float = 5.0) -> None:
    """Blotchy static grain: flat fills look synthetic and give detectors trivial edges."""
    rng = np.random.default_rng(rnd.getrandbits(32))
    h, w = img.shape[:2]
    row = max(0, below_row)
    if row >= h:
        return
    fine = rng.normal(0.0, strength, (h - row, w)).astype(np.float32)
    coarse = cv2.resize(
        rng.normal(0.0, strength, ((h - row) // 16 + 1, w // 16 + 1)).astype(np.float32),
        (w, h - row),
        interpolation=cv2.INTER_CUBIC,
    )
    grain = cv2.GaussianBlur(fine, (3, 3), 0) + coarse
    part = img[row:].astype(np.float32) + grain[:, :, None]
    img[row:] = np.clip(part, 0, 255).astype(np.uint8)
