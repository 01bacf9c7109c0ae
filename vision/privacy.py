"""Blurring faces and licence plates in evidence, for roles that do not need identities.

Faces: MTCNN (vision/mtcnn.py), measured on real photos by `command-center bench blur`.
Plates: a classical localiser (dense vertical strokes in a plate-shaped band, Sobel +
morphology, plus China's plate colours): OpenCV 5 no longer ships the Haar cascades (nor
CascadeClassifier), we found no installable package with plate-detector weights, and no
real plate photo is available offline, so its recall is unmeasured; it is tested on a
synthetic plate for function only. It errs towards blurring more (shop signs, bus
lettering): for privacy a false alarm costs little, a miss costs an identity.

Blurring is irreversible: each region is pixelated to a few blocks, then smoothed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from vision.mtcnn import Mtcnn

Region = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
MAX_SIDE = 1600  # detect on at most this many pixels a side (a 50 MP photo would take seconds)
# Grown by this share of the face's size (sides, top, bottom): forehead, hair, the detector's slack.
FACE_MARGIN = (0.3, 0.5, 0.3)
PLATE_MARGIN = (0.15, 0.15, 0.15)
PLATE_HUES = ((100, 124), (15, 34), (35, 85))  # OpenCV hue: blue, yellow, green plates
BLOCKS = 6  # a blurred region keeps at most this many blocks across: no face survives that


def find_plates(bgr: np.ndarray) -> list[Region]:
    """Plate-like regions: plate-coloured rectangles (China's blue, yellow and green plates)
    and bands of dense vertical strokes, each with a plate's proportions and lettering."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    grad: np.ndarray = np.abs(cv2.Sobel(gray, cv2.CV_16S, 1, 0, ksize=3)).astype(np.float32)
    grad = cv2.convertScaleAbs(grad, alpha=255.0 / max(float(grad.max()), 1.0))
    _, edges = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    width = gray.shape[1]
    kx = max(9, width // 60)
    strokes = _blobs(edges, (kx, 3))
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    colour: np.ndarray = np.zeros(gray.shape, np.uint8)
    for low, high in PLATE_HUES:
        colour |= cv2.inRange(hsv, (low, 90, 60), (high, 255, 255))
    found: list[Region] = []
    for x, y, w, h in _join_lines(strokes) + _blobs(colour, (kx, kx // 2 | 1)):
        if h < 8 or w < 24 or w > width * 0.5 or not 1.8 <= w / h <= 6.5:
            continue
        density = float(edges[y : y + h, x : x + w].mean()) / 255.0
        if 0.12 <= density <= 0.75:  # striped like characters, not a solid edge or a plain panel
            found.append((float(x), float(y), float(x + w), float(y + h)))
    return found


def _blobs(mask: np.ndarray, close: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, close))
    closed = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [(x, y, w, h) for x, y, w, h in (cv2.boundingRect(c) for c in contours) if h >= 8]


def _join_lines(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Boxes on one text line with gaps under their height, joined (a plate's characters
    fall apart into groups at the separator dot or a wide space)."""
    boxes = sorted(boxes)
    joined: list[tuple[int, int, int, int]] = []
    for x, y, w, h in boxes:
        for i, (jx, jy, jw, jh) in enumerate(joined):
            overlap = min(y + h, jy + jh) - max(y, jy)
            similar = 0.6 <= h / jh <= 1.6
            if similar and overlap >= 0.6 * min(h, jh) and x - (jx + jw) <= max(h, jh) * 1.2:
                nx, ny = min(x, jx), min(y, jy)
                joined[i] = (nx, ny, max(x + w, jx + jw) - nx, max(y + h, jy + jh) - ny)
                break
        else:
            joined.append((x, y, w, h))
    return joined


def blur_regions(bgr: np.ndarray, regions: list[Region]) -> np.ndarray:
    """A copy with each region pixelated and smoothed beyond recognition."""
    out = bgr.copy()
    height, width = out.shape[:2]
    for x1, y1, x2, y2 in regions:
        a, b = max(int(x1), 0), max(int(y1), 0)
        c, d = min(int(np.ceil(x2)), width), min(int(np.ceil(y2)), height)
        if c - a < 2 or d - b < 2:
            continue
        patch = out[b:d, a:c]
        small = cv2.resize(patch, (min(BLOCKS, c - a), min(BLOCKS, d - b)), interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(small, (c - a, d - b), interpolation=cv2.INTER_NEAREST)
        k = max(3, (min(c - a, d - b) // 4) | 1)
        out[b:d, a:c] = cv2.GaussianBlur(coarse, (k, k), 0)
    return out


def _grow(region: Region, margin: tuple[float, float, float]) -> Region:
    x1, y1, x2, y2 = region
    side, top, bottom = margin
    w, h = x2 - x1, y2 - y1
    return (x1 - w * side, y1 - h * top, x2 + w * side, y2 + h * bottom)


class Blurrer:
    """Finds faces and plates and blurs them, in images, JPEG bytes and MP4 clips."""

    def __init__(self, faces: bool = True, plates: bool = True, min_face: int = 16) -> None:
        self.faces = Mtcnn(min_face=min_face) if faces else None
        self.plates = plates

    def regions(self, bgr: np.ndarray) -> list[Region]:
        scale = min(1.0, MAX_SIDE / max(bgr.shape[:2]))
        small = (
            bgr if scale == 1.0 else cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        found: list[Region] = []
        if self.faces is not None:
            found += [_grow(tuple(row[:4]), FACE_MARGIN) for row in self.faces.detect(small)]
        if self.plates:
            found += [_grow(r, PLATE_MARGIN) for r in find_plates(small)]
        return [(x1 / scale, y1 / scale, x2 / scale, y2 / scale) for x1, y1, x2, y2 in found]

    def blur_image(self, bgr: np.ndarray) -> np.ndarray:
        return blur_regions(bgr, self.regions(bgr))

    def blur_jpeg(self, jpeg: bytes, quality: int = 85) -> bytes:
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("not a decodable image")
        ok, buf = cv2.imencode(".jpg", self.blur_image(image), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        return buf.tobytes()

    def blur_clip(self, src: Path, dst: Path) -> None:
        """Every frame blurred, with each frame's regions also applied to its neighbours
        (a face the detector misses for one frame stays hidden), re-encoded as H.264."""
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError("ffmpeg is not installed")
        capture = cv2.VideoCapture(str(src))
        fps = capture.get(cv2.CAP_PROP_FPS) or 5.0
        frames: list[np.ndarray] = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
        if not frames:
            raise ValueError(f"no frames in {src.name}")
        found = [self.regions(f) for f in frames]
        jpegs = []
        for i, frame in enumerate(frames):
            near = [r for j in (i - 1, i, i + 1) if 0 <= j < len(found) for r in found[j]]
            jpegs.append(
                cv2.imencode(".jpg", blur_regions(frame, near), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
            )
        cmd = [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "image2pipe", "-framerate", f"{fps:.2f}",
            "-c:v", "mjpeg", "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-movflags", "+faststart", "-f", "mp4", str(dst),
        ]  # fmt: skip
        proc = subprocess.run(cmd, input=b"".join(jpegs), capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.decode(errors="replace")[-300:])


class BlurCache:
    """Blurred copies on disk, made on first request and reused while the original is
    unchanged. Retention sweeps the folder like other evidence."""

    def __init__(self, root: Path, blurrer: Blurrer) -> None:
        self.root = root
        self.blurrer = blurrer
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def image(self, src: Path, key: str) -> Path:
        return self._get(
            src, f"{key}.jpg", lambda out: out.write_bytes(self.blurrer.blur_jpeg(src.read_bytes()))
        )

    def clip(self, src: Path, key: str) -> Path:
        return self._get(src, f"{key}.mp4", lambda out: self.blurrer.blur_clip(src, out))

    def _get(self, src: Path, name: str, make: Callable[[Path], object]) -> Path:
        """Blocking: call on a worker thread. One maker per file at a time (at worst two,
        right after a lock is dropped: both write whole files, the last rename wins)."""
        target = self.root / name
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        try:
            with lock:
                with contextlib.suppress(FileNotFoundError):
                    if target.stat().st_mtime >= src.stat().st_mtime:
                        return target
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=target.suffix)
                os.close(fd)
                try:
                    make(Path(tmp))
                    os.replace(tmp, target)  # readers never see half a file
                finally:
                    Path(tmp).unlink(missing_ok=True)
                return target
        finally:
            with self._guard:
                self._locks.pop(name, None)  # bounded: only files being made are remembered
