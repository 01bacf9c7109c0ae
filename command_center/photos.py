"""Photos people upload (citizen reports, feedback on cases): checked to be real images,
re-encoded as JPEG and kept under the data dir.

Re-encoding is the point, not a detail: it strips metadata (a phone's GPS trail, the
owner's name) and guarantees that what we serve back is a plain JPEG, whatever was sent.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

# A 50-megapixel phone photo is the largest honest upload; beyond that a small
# compressed file can decode to gigabytes (a decompression bomb).
MAX_PIXELS = 50_000_000
JPEG_QUALITY = 85
PHOTO_ID = re.compile(r"^P[0-9a-f]{12}$")
OWNER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class NotAnImage(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Photo:
    jpeg: bytes
    width: int
    height: int
    kind: str  # what was sent: jpeg, png or webp


def image_kind(raw: bytes) -> str | None:
    """JPEG, PNG or WebP by their magic bytes: the formats phones and browsers send."""
    if raw[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "webp"
    return None


def clean_photo(raw: bytes) -> Photo:
    """Check that `raw` is a JPEG, PNG or WebP image that decodes, and re-encode it as JPEG."""
    kind = image_kind(raw)
    if kind is None:
        raise NotAnImage("not a JPEG, PNG or WebP image")
    try:
        with Image.open(io.BytesIO(raw)) as header:  # reads the header only: the size before decoding
            width, height = header.size
    except Exception as exc:  # PIL raises many types for broken headers
        raise NotAnImage(f"unreadable {kind} header: {exc}") from None
    if width * height > MAX_PIXELS:
        raise NotAnImage(f"{width}×{height} is more than {MAX_PIXELS // 1_000_000} megapixels")
    image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)  # applies EXIF orientation
    if image is None:
        raise NotAnImage(f"the {kind} data does not decode")
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise NotAnImage("could not re-encode the image")
    return Photo(encoded.tobytes(), image.shape[1], image.shape[0], kind)


class PhotoStore:
    """JPEG files under `root/<owner>/<photo id>.jpg`; owner is e.g. a case id."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, owner: str, jpeg: bytes) -> str:
        if not OWNER.match(owner):
            raise ValueError(f"bad photo owner {owner!r}")
        folder = self.root / owner
        folder.mkdir(parents=True, exist_ok=True)
        photo_id = f"P{secrets.token_hex(6)}"
        tmp = folder / f".{photo_id}.tmp"
        tmp.write_bytes(jpeg)
        os.replace(tmp, folder / f"{photo_id}.jpg")  # readers never see half a file
        return photo_id

    def path(self, owner: str, photo_id: str) -> Path | None:
        """The file of a stored photo, or None (also for ids that could escape the folder)."""
        if not OWNER.match(owner) or not PHOTO_ID.match(photo_id):
            return None
        path = self.root / owner / f"{photo_id}.jpg"
        return path if path.is_file() else None

    def list(self, owner: str) -> list[str]:
        if not OWNER.match(owner) or not (self.root / owner).is_dir():
            return []
        return sorted(p.stem for p in (self.root / owner).glob("P*.jpg"))
