"""Motion gating and regions, as in Frigate: the detector looks only where something
moves or where a tracked object is, on crops around those places, and re-checks
still objects every N frames. A frame with nothing to look at is skipped.

Motion is found on a small grey copy of the frame (cheap), against a running
average background; regions are squares around motion and tracks, at least the
model's input size so small objects are not upscaled, merged when they overlap.

Motion inside a still object's box is ignored between re-checks, as Frigate does for
stationary objects: a flickering fire, a stall's awning in the wind or a parked car's
shadow would otherwise keep the detector busy on something already known.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.detectors.base import Box

MOTION_WIDTH = 160


@dataclass
class GateStats:
    frames: int = 0
    frames_skipped: int = 0
    pixels: int = 0
    pixels_detected: int = 0

    def to_dict(self) -> dict[str, float]:
        return {
            "frames": self.frames,
            "frames_skipped_ratio": round(self.frames_skipped / self.frames, 3) if self.frames else 0.0,
            "pixels_skipped_ratio": round(1 - self.pixels_detected / self.pixels, 3) if self.pixels else 0.0,
        }


class MotionGate:
    def __init__(
        self,
        region_size: int = 320,
        recheck_every: int = 50,
        threshold: int = 25,
        min_area_ratio: float = 0.0005,
        full_frame_every: int = 0,
    ) -> None:
        self.region_size = region_size
        self.recheck_every = recheck_every
        self.threshold = threshold
        self.min_area_ratio = min_area_ratio
        self.full_frame_every = full_frame_every
        self._background: np.ndarray | None = None
        self._frames = 0
        self.stats = GateStats()

    def regions(self, image: np.ndarray, moving: list[Box], still: list[Box]) -> list[Box]:
        """Where to detect in this frame: around motion, moving tracks, and (every
        `recheck_every` frames) still tracks. An empty list means skip the frame."""
        h, w = image.shape[:2]
        self._frames += 1
        self.stats.frames += 1
        self.stats.pixels += h * w
        if self._background is None or (self.full_frame_every and self._frames % self.full_frame_every == 0):
            self._motion(image)  # learn the background
            self.stats.pixels_detected += h * w
            return [(0.0, 0.0, float(w), float(h))]
        motion = self._motion(image)
        if self._frames % self.recheck_every == 0:
            boxes = motion + list(moving) + list(still)
        else:
            boxes = [m for m in motion if not any(_within(m, s) for s in still)] + list(moving)
        if not boxes:
            self.stats.frames_skipped += 1
            return []
        regions = _merge([_square(b, self.region_size, w, h) for b in boxes], w, h)
        self.stats.pixels_detected += int(sum((r[2] - r[0]) * (r[3] - r[1]) for r in regions))
        return regions

    def _motion(self, image: np.ndarray) -> list[Box]:
        h, w = image.shape[:2]
        scale = MOTION_WIDTH / w
        small = cv2.resize(image, (MOTION_WIDTH, max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0).astype(np.float32)
        if self._background is None:
            self._background = grey
            return []
        delta = cv2.absdiff(grey, self._background)
        cv2.accumulateWeighted(grey, self._background, 0.05)
        # cv2's stubs lack kernel=None (OpenCV's default 3x3 kernel), which the library accepts.
        mask = cv2.dilate(  # type: ignore[call-overload]
            (delta > self.threshold).astype(np.uint8), None, iterations=2
        )
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_area = self.min_area_ratio * grey.size
        out: list[Box] = []
        for contour in contours:
            if cv2.contourArea(contour) < min_area:
                continue
            x, y, bw, bh = cv2.boundingRect(contour)
            out.append((x / scale, y / scale, (x + bw) / scale, (y + bh) / scale))
        return out


def _within(inner: Box, outer: Box, margin: float = 0.25) -> bool:
    """Whether `inner` lies inside `outer` grown by `margin` of its size on each side."""
    mx, my = (outer[2] - outer[0]) * margin, (outer[3] - outer[1]) * margin
    return (
        inner[0] >= outer[0] - mx and inner[1] >= outer[1] - my and inner[2] <= outer[2] + mx and inner[3] <= outer[3] + my
    )


def _square(box: Box, size: int, w: int, h: int) -> Box:
    """A square of at least `size` around the box, moved (not cut) to fit the frame."""
    x1, y1, x2, y2 = box
    side = min(max(size, x2 - x1, y2 - y1) * 1.1, w, h)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = min(max(cx - side / 2, 0.0), w - side)
    top = min(max(cy - side / 2, 0.0), h - side)
    return (left, top, left + side, top + side)


def _merge(regions: list[Box], w: int, h: int) -> list[Box]:
    """Union overlapping regions until none overlap (a few regions per frame, so quadratic is fine)."""
    merged = list(regions)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    merged[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return [(max(0.0, r[0]), max(0.0, r[1]), min(float(w), r[2]), min(float(h), r[3])) for r in merged]
