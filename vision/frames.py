"""Frames from an image, a video file or a stream URL, for one-off runs (`command-center detect`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_frames(source: str) -> Iterator[np.ndarray]:
    """Yield BGR frames. Raises ValueError with the reason when nothing can be read."""
    path = Path(source)
    if "://" not in source and not path.exists():
        raise ValueError(f"no such file: {source}")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(source, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot decode image: {source}")
        yield image
        return
    capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise ValueError(f"cannot open video or stream: {source}")
        frames = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames += 1
            yield image
        if frames == 0:
            raise ValueError(f"no decodable video frames in: {source}")
    finally:
        capture.release()
