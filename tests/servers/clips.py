"""Test clips made with ffmpeg: testsrc2 with the frame number burned in as a bit strip.

The strip across the top is COUNTER_BITS blocks, bit i white when bit i of the frame
number is set; `counter_of` reads it back from a decoded image, so a test can tell that
frames advance and a benchmark can tell how far behind the sender a frame is.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .process import require

COUNTER_BITS = 16
_cache_dir: Path | None = None


@dataclass(frozen=True)
class Clip:
    path: Path
    codec: str  # h264 or h265
    width: int
    height: int
    fps: int
    seconds: float
    period_frames: int  # the counter starts again after this many frames (a looped clip repeats)

    @property
    def url(self) -> str:
        return str(self.path)


def cache_dir() -> Path:
    """One directory per process: clips are made once per test session or bench run."""
    global _cache_dir
    if _cache_dir is None:
        _cache_dir = Path(tempfile.mkdtemp(prefix="cc-clips-"))
        atexit.register(shutil.rmtree, _cache_dir, True)
    return _cache_dir


def strip_height(height: int) -> int:
    return max(16, height // 20 // 2 * 2)


def counter_of(image: np.ndarray) -> int:
    h, w = image.shape[:2]
    block = w // COUNTER_BITS
    strip = image[2 : strip_height(h) - 2]
    value = 0
    for bit in range(COUNTER_BITS):
        x0 = bit * block + block // 4
        if strip[:, x0 : x0 + block // 2].mean() > 128:
            value |= 1 << bit
    return value


def make_clip(codec: str = "h264", width: int = 1280, height: int = 720, fps: int = 25, seconds: float = 4.0) -> Clip:
    """An MP4 with one keyframe a second and no B-frames, as cameras send."""
    ffmpeg = require("ffmpeg", "ffmpeg")
    out = cache_dir() / f"{codec}-{width}x{height}-{fps}-{seconds:g}s.mp4"
    clip = Clip(out, codec, width, height, fps, seconds, round(seconds * fps))
    if out.exists():
        return clip
    block, bar = width // COUNTER_BITS, strip_height(height)
    bits = f"if(mod(floor(N/pow(2,floor(X/{block}))),2),235,16)"
    encoder = {
        "h264": ["-c:v", "libx264", "-preset", "veryfast", "-bf", "0"],
        "h265": ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "bframes=0:log-level=error", "-tag:v", "hvc1"],
    }[codec]
    _run(
        [
            ffmpeg, "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds:g}",
            "-f", "lavfi", "-i", f"color=c=black:size={width}x{bar}:rate={fps}",
            "-filter_complex", f"[1:v]geq=lum='{bits}':cb=128:cr=128[bits];[0:v][bits]overlay=0:0:shortest=1,format=yuv420p[v]",
            "-map", "[v]", *encoder, "-g", str(fps), "-an", str(out) + ".part.mp4",
        ]
    )
    Path(str(out) + ".part.mp4").rename(out)
    return clip


def looped(clip: Clip, seconds: float) -> Clip:
    """The clip repeated to about `seconds`, timestamps continuous (stream copy: quick)."""
    ffmpeg = require("ffmpeg", "ffmpeg")
    repeats = max(1, int(seconds / clip.seconds + 0.999))
    out = clip.path.with_name(f"{clip.path.stem}-x{repeats}.mp4")
    if not out.exists():
        _run(
            [ffmpeg, "-v", "error", "-y", "-stream_loop", str(repeats - 1), "-i", str(clip.path),
             "-c", "copy", str(out) + ".part.mp4"]
        )
        Path(str(out) + ".part.mp4").rename(out)
    return Clip(out, clip.codec, clip.width, clip.height, clip.fps, clip.seconds * repeats, clip.period_frames)


def audio_only() -> Path:
    """A valid media file without any video stream: the 'wrong codec' case."""
    ffmpeg = require("ffmpeg", "ffmpeg")
    out = cache_dir() / "audio-only.m4a"
    if not out.exists():
        _run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(out)])
    return out


def truncated(clip: Clip, keep: float = 0.5) -> Path:
    """The first part of an MP4 whose index (moov) is written last, as a recorder that died leaves it."""
    out = clip.path.with_name(f"{clip.path.stem}-truncated.mp4")
    data = clip.path.read_bytes()
    out.write_bytes(data[: int(len(data) * keep)])
    return out


def garbage(size: int = 200_000) -> Path:
    out = cache_dir() / "garbage.mp4"
    out.write_bytes(np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes())
    return out


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}... failed: {result.stderr[-2000:]}")
