"""`bench scale`'s counting: frames/s from the workers' camera.status samples."""

from __future__ import annotations

import pytest

from bench.scale import _rate


def test_rate_sums_each_cameras_frames_over_its_own_span() -> None:
    statuses = {
        "cam-00": [(100.0, 50), (105.0, 100), (110.0, 150)],  # 10 frames/s
        "cam-01": [(101.0, 0), (106.0, 25)],  # 5 frames/s
    }
    assert _rate(statuses) == pytest.approx(15.0)


def test_a_count_that_went_down_restarted_from_zero_on_a_moved_lease() -> None:
    # 100 → 150 (+50), then the camera moved to another worker and counts again: 0 → 20 (+20).
    statuses = {"cam-00": [(0.0, 100), (5.0, 150), (10.0, 20)]}
    assert _rate(statuses) == pytest.approx(7.0)


def test_a_camera_seen_once_adds_nothing() -> None:
    assert _rate({"cam-00": [(0.0, 10)]}) == 0.0
    assert _rate({}) == 0.0
