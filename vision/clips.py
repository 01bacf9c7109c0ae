"""Evidence clips: pre-roll and post-roll around an incident, from a ring buffer of
recent frames, encoded to H.264 MP4 by ffmpeg so any browser plays them.

Frames are kept JPEG-compressed (a few tens of KB each) so a 10-second ring per
camera costs about a megabyte, not the hundreds a raw ring would.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    incident_id: str
    until: float
    frames: list[tuple[float, bytes]] = field(default_factory=list)


class ClipRecorder:
    def __init__(
        self,
        root: Path,
        pre_s: float = 5.0,
        post_s: float = 5.0,
        on_ready: Callable[[str, Path], None] | None = None,
        enabled: bool = True,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.pre_s = pre_s
        self.post_s = post_s
        self.on_ready = on_ready
        self.ffmpeg = shutil.which("ffmpeg") if enabled else None
        self._rings: dict[str, deque[tuple[float, bytes]]] = {}
        self._pending: dict[str, list[_Pending]] = {}
        self._lock = threading.Lock()
        self.written = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        return self.ffmpeg is not None

    def path(self, incident_id: str) -> Path:
        if not incident_id.replace("-", "").isalnum():
            raise ValueError(f"bad incident id {incident_id!r}")
        return self.root / f"{incident_id}.mp4"

    def add_frame(self, camera_id: str, ts: float, jpeg: bytes) -> None:
        """Every processed frame of a camera, in order (ts: monotonic seconds)."""
        ready: list[_Pending] = []
        with self._lock:
            ring = self._rings.setdefault(camera_id, deque())
            ring.append((ts, jpeg))
            while ring and ts - ring[0][0] > self.pre_s:
                ring.popleft()
            for pending in self._pending.get(camera_id, []):
                pending.frames.append((ts, jpeg))
                if ts >= pending.until:
                    ready.append(pending)
            if ready:
                self._pending[camera_id] = [p for p in self._pending[camera_id] if p not in ready]
        for pending in ready:
            threading.Thread(target=self._write, args=(pending,), name="clip-writer", daemon=True).start()

    def start(self, camera_id: str, incident_id: str, ts: float) -> None:
        """Begin a clip: the ring's pre-roll now, the post-roll as frames arrive."""
        if not self.enabled:
            return
        with self._lock:
            pre = list(self._rings.get(camera_id, ()))
            self._pending.setdefault(camera_id, []).append(_Pending(incident_id, ts + self.post_s, pre))

    def _write(self, pending: _Pending) -> None:
        frames = pending.frames
        if len(frames) < 2 or self.ffmpeg is None:
            return
        span = max(frames[-1][0] - frames[0][0], 1e-3)
        fps = max(1.0, round((len(frames) - 1) / span, 2))
        target = self.path(pending.incident_id)
        tmp = target.with_suffix(".part.mp4")
        cmd = [
            self.ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "image2pipe", "-framerate", str(fps),
            "-c:v", "mjpeg", "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-movflags", "+faststart", str(tmp),
        ]  # fmt: skip
        try:
            proc = subprocess.run(cmd, input=b"".join(j for _, j in frames), capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.failed += 1
            log.warning("clip %s failed: %s", pending.incident_id, exc)
            return
        if proc.returncode != 0:
            self.failed += 1
            log.warning("clip %s failed: %s", pending.incident_id, proc.stderr.decode(errors="replace")[-300:])
            tmp.unlink(missing_ok=True)
            return
        tmp.replace(target)
        self.written += 1
        if self.on_ready is not None:
            self.on_ready(pending.incident_id, target)


def evidence_files(root: Path, on_error: Callable[[Path, OSError], None] | None = None) -> list[tuple[float, int, Path]]:
    """(mtime, size, path) of every file under root, oldest first. A file that vanishes or
    cannot be read between listing and stat (a clip's `.part.mp4` renamed into place, a
    snapshot another sweep removed) is skipped and reported, never raised: retention must
    survive anything the writers do meanwhile."""
    found: list[tuple[float, int, Path]] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue  # the folder went away: nothing to keep bounded there
        except OSError as exc:
            _report(on_error, folder, exc)
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    found.append((stat.st_mtime, stat.st_size, Path(entry.path)))
            except FileNotFoundError:
                continue
            except OSError as exc:
                _report(on_error, Path(entry.path), exc)
    found.sort(key=lambda item: item[0])
    return found


def remove_file(path: Path, on_error: Callable[[Path, OSError], None] | None = None) -> bool:
    """Delete one file; True if it is gone because of us. Already gone is not an error."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        _report(on_error, path, exc)
        return False
    return True


def _report(on_error: Callable[[Path, OSError], None] | None, path: Path, exc: OSError) -> None:
    if on_error is None:
        log.warning("retention: %s: %s", path, exc)
    else:
        on_error(path, exc)


def enforce_retention(
    root: Path, max_age_s: float, max_bytes: int, now: float, on_error: Callable[[Path, OSError], None] | None = None
) -> int:
    """Delete evidence older than max_age_s, then the oldest until under max_bytes.
    Returns how many files went; errors go to on_error (default: logged) and the sweep goes on."""
    files = evidence_files(root, on_error)
    removed = 0
    total = sum(size for _, size, _ in files)
    for mtime, size, path in files:
        if now - mtime > max_age_s or total > max_bytes:
            total -= size  # gone or not, a vanished file no longer counts against the cap
            removed += remove_file(path, on_error)
    return removed
