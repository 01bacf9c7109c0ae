"""Per-frame finishing: light grade (day, dusk, night...), lamp glow, lens blur, sensor noise.

Everything costly is prepared once per renderer; a frame pays for a LUT, a saturating add and
two noise passes (about a millisecond at 640×360).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np

LIGHTS = ("day", "bright", "overcast", "dusk", "night")


@dataclass(slots=True)
class Grade:
    light: str = "day"
    lut: np.ndarray | None = None  # (256, 1, 3) uint8, per channel
    glow: np.ndarray | None = None  # additive, same size as the frame
    blur: int = 0  # Gaussian kernel size (0: none)
    noise_sigma: float = 1.5


def random_grade(rnd: random.Random, width: int, height: int, lamps: list[tuple[float, float]]) -> Grade:
    """A look drawn from the seed: what training data needs to see beyond a sunny noon."""
    light = rnd.choices(LIGHTS, (4, 2, 2, 2, 2))[0]
    gain, contrast, gamma = 1.0, 1.0, 1.0
    tint = np.ones(3)
    if light == "bright":
        gain, gamma = rnd.uniform(1.05, 1.2), 0.9
    elif light == "overcast":
        contrast, tint = rnd.uniform(0.7, 0.85), np.array([1.05, 1.0, 0.95])
    elif light == "dusk":
        gain, tint = rnd.uniform(0.6, 0.8), np.array([0.75, 0.88, 1.08])
    elif light == "night":
        gain, gamma, tint = rnd.uniform(0.3, 0.45), 1.2, np.array([1.1, 0.92, 0.8])
    gain *= rnd.uniform(0.92, 1.08)
    x = np.arange(256, dtype=np.float64) / 255.0
    lut = np.empty((256, 1, 3), dtype=np.uint8)
    for c in range(3):
        y = ((x**gamma - 0.5) * contrast + 0.5) * gain * tint[c]
        lut[:, 0, c] = np.clip(y * 255.0, 0, 255).astype(np.uint8)
    glow = None
    if light in ("dusk", "night") and lamps:
        glow = _glow(width, height, lamps, 0.9 if light == "night" else 0.4)
    return Grade(light, lut, glow, rnd.choice((0, 0, 3, 5)), rnd.uniform(1.0, 6.0))


def _glow(width: int, height: int, lamps: list[tuple[float, float]], strength: float) -> np.ndarray:
    """Warm halos under street lamps, with a pool of light on the ground below each."""
    acc = np.zeros((height, width), dtype=np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for u, v in lamps:
        r = 0.03 * width
        acc += np.exp(-((xx - u) ** 2 + (yy - v) ** 2) / (2 * r * r))
        acc += 0.35 * np.exp(
            -((xx - u) ** 2 / (2 * (3 * r) ** 2) + (yy - v - 4 * r) ** 2 / (2 * (2.5 * r) ** 2))
        )
    acc = np.clip(acc * strength, 0, 1.5)
    warm = np.array([50.0, 120.0, 165.0], dtype=np.float32)
    return np.clip(acc[:, :, None] * warm, 0, 255).astype(np.uint8)


class Noise:
    """A bank of sensor noise: one field, read at a different offset each frame."""

    PAD = 16

    def __init__(self, width: int, height: int, sigma: float, seed: int) -> None:
        self.sigma = sigma
        if sigma <= 0:
            self.pos = self.neg = None
            return
        rng = np.random.default_rng(seed)
        n = rng.normal(0.0, sigma, (height + self.PAD, width + self.PAD, 1))
        # Mostly luminance noise with a little colour, like a real small sensor.
        n = n + rng.normal(0.0, sigma * 0.35, (height + self.PAD, width + self.PAD, 3))
        self.pos = np.clip(np.round(n), 0, 255).astype(np.uint8)
        self.neg = np.clip(np.round(-n), 0, 255).astype(np.uint8)

    def apply(self, img: np.ndarray, t: float) -> None:
        if self.pos is None or self.neg is None:
            return
        k = int(round(t * 1000.0))
        dy, dx = (k * 7919) % self.PAD, (k * 104729 // 7) % self.PAD
        h, w = img.shape[:2]
        cv2.add(img, self.pos[dy : dy + h, dx : dx + w], dst=img)
        cv2.subtract(img, self.neg[dy : dy + h, dx : dx + w], dst=img)


def finish(img: np.ndarray, grade: Grade, noise: Noise, t: float) -> np.ndarray:
    if grade.lut is not None:
        img = cv2.LUT(img, grade.lut)
    if grade.glow is not None:
        cv2.add(img, grade.glow, dst=img)
    if grade.blur:
        img = cv2.GaussianBlur(img, (grade.blur, grade.blur), 0)
    noise.apply(img, t)
    return img
