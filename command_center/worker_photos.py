"""Grid workers' photos for the public worker card (三公开): one JPEG per worker, in the store
(table worker_photos), so that every node serves the photo an admin uploaded on any one.

An upload is checked to be a real image (command_center/photos.py) and re-encoded as a JPEG
of at most 600 px a side: re-encoding drops the metadata a phone writes (the GPS position
where the picture was taken, the owner's name), so what the public page serves is the face
and nothing else.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import cv2
import numpy as np

from command_center.photos import JPEG_QUALITY, NotAnImage, clean_photo

if TYPE_CHECKING:
    from command_center.store import Store

MAX_SIDE = 600


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
    """The photos by worker id, over the store (blocking calls: run them on a worker thread)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, worker_id: str, jpeg: bytes, by: str) -> int:
        """Store the photo; its new version (for the URL, so a new photo is not cached as the old)."""
        version = time.time_ns() // 1_000_000
        self.store.put_worker_photo(worker_id, jpeg, version, by)
        return version

    def jpeg(self, worker_id: str) -> bytes | None:
        found = self.store.worker_photo(worker_id)
        return None if found is None else found[0]

    def version(self, worker_id: str) -> int | None:
        return self.store.worker_photo_version(worker_id)

    def remove(self, worker_id: str) -> bool:
        return self.store.delete_worker_photo(worker_id)
