"""Zone geometry shared by rules: a polygon judged at a box's bottom centre, like Frigate."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vision.track import Track


class Area:
    def __init__(self, polygon: Sequence[tuple[float, float]] | None) -> None:
        # OpenCV's test is a few microseconds; every rule asks it for every track every frame.
        self._contour = np.asarray(polygon, np.float32).reshape(-1, 1, 2) if polygon else None

    def holds(self, track: Track) -> bool:
        """Is the track's footprint (bottom centre) inside or on the edge? A box cut off by the
        frame's edge ends exactly on a zone drawn to that edge. No polygon means the whole view."""
        if self._contour is None:
            return True
        x, y = track.bottom_centre
        return cv2.pointPolygonTest(self._contour, (float(x), float(y)), False) >= 0

