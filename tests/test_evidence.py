"""Evidence: clips with pre- and post-roll, playable H.264 MP4; retention by age and size."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.clips import ClipRecorder, enforce_retention
from vision.evidence import encode_jpeg

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg (Debian package) not installed")


def frame(i: int) -> bytes:
    image = np.zeros((120, 160, 3), np.uint8)
    cv2.putText(image, str(i), (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    return encode_jpeg(image)


def test_clip_holds_pre_and_post_roll(tmp_path: Path) -> None:
    ready = threading.Event()
    got: list[str] = []

    def on_ready(incident_id: str, _path: Path) -> None:
        got.append(incident_id)
        ready.set()

    clips = ClipRecorder(tmp_path, pre_s=2.0, post_s=1.0, on_ready=on_ready)
    fps = 5
    for i in range(30):  # 6 s of frames; the incident happens at frame 20 (t = 4 s)
        ts = i / fps
        if i == 20:
            clips.start("cam", "I1", ts)
        clips.add_frame("cam", ts, frame(i))
    assert ready.wait(30) and got == ["I1"]
    capture = cv2.VideoCapture(str(clips.path("I1")))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = capture.read()
    capture.release()
    assert ok and first.shape[:2] == (120, 160)
    # 2 s before (10 frames + the incident frame) and 1 s after (5 frames)
    assert 15 <= frames <= 17
    assert clips.written == 1 and clips.failed == 0


def test_disabled_recorder_records_nothing(tmp_path: Path) -> None:
    clips = ClipRecorder(tmp_path, enabled=False)
    clips.start("cam", "I2", 0.0)
    for i in range(40):
        clips.add_frame("cam", i / 5, frame(i))
    time.sleep(0.2)
    assert not clips.path("I2").exists()


def test_retention_removes_old_then_oldest(tmp_path: Path) -> None:
    now = time.time()
    for i, age in enumerate([100_000, 50, 40, 30]):
        path = tmp_path / f"f{i}.jpg"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (now - age, now - age))
    removed = enforce_retention(tmp_path, max_age_s=86_400, max_bytes=2000, now=now)
    assert removed == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f2.jpg", "f3.jpg"]
