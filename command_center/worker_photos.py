"""Grid workers' photos for the public worker card (三公开): one JPEG per worker under
`data_dir/worker_photos/`.

An upload is checked to be a real image (command_center/photos.py) and re-encoded as a JPEG
of at most 600 px a side: re-encoding drops the metadata a phone writes (the GPS position
where the picture was taken, the owner's name), so what the public page serves is the face
and nothing else.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import cv2
import numpy as np

from command_center.photos import JPEG_QUALITY, NotAnImage, clean_photo

MAX_SIDE = 600
FOLDER = "worker_photos"
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")  # usable as a file name as it is


def portrait(raw: bytes) -> tuple[bytes, int, int]:
    """(JPEG, width, height) of an uploaded JPEG, PNG or WebP photo; NotAnImage if it is none.
    Blocking (decodes the image): run it on a worker thread."""
    photo = clean_photo(raw)
    if max(photo.width, photo.height) <= MAX_SIDE:
        return photo.jpeg, photo.width, photo.height
    image = cv2.imdecode(np.frombuffer(photo.jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:  # our own JPEG of a moment ago: cannot happen, but cv2 says it may
        raise NotAnImage("could not re-read the image")
    scale = MAX_SIDE / max(photo.width, photo.height)
    size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise NotAnImage("could not re-encode the image")
    return encoded.tobytes(), size[0], size[1]


class WorkerPhotos:
    """The photo files, by worker id (an id that is no plain file name is hashed)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / FOLDER

    def _file(self, worker_id: str) -> Path:
        name = (
            worker_id
            if _PLAIN_ID.match(worker_id)
            else "h-" + hashlib.sha256(worker_id.encode()).hexdigest()[:32]
        )
        return self.root / f"{name}.jpg"

    def save(self, worker_id: str, jpeg: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self._file(worker_id)
        tmp = target.with_name(f".{target.stem}.tmp")
        tmp.write_bytes(jpeg)
        os.replace(tmp, target)  # readers never see half a file

    def path(self, worker_id: str) -> Path | None:
        target = self._file(worker_id)
        return target if target.is_file() else None

    def version(self, worker_id: str) -> int | None:
        """A number that changes with the photo (for the URL, so a new photo is not cached as the old), or None."""
        try:
            return self._file(worker_id).stat().st_mtime_ns // 1_000_000
        except OSError:
            return None

    def remove(self, worker_id: str) -> bool:
        try:
            self._file(worker_id).unlink()
        except FileNotFoundError:
            return False
        return True
