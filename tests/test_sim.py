"""Simulated cameras and drone: deterministic frames, exact truth, scheduled events, pacing."""

from __future__ import annotations

import math
import time

import cv2
import numpy as np
import pytest

from scenes import AerialRenderer, DroneFlight, SceneRenderer
from scenes.events import CLASSIC_KINDS, PLAZA_KINDS
from scenes.events import STREET_KINDS as ALL_STREET_KINDS
from streams.base import Frame, Source
from streams.sim import SimCameraSource, SimDroneSource, open_sim
from vision.classes import CLASSES

STREET_KINDS = set(CLASSIC_KINDS)


@pytest.fixture(scope="module")
def street() -> SceneRenderer:
    return SceneRenderer(seed=11, kind="street")


@pytest.fixture(scope="module")
def plaza() -> SceneRenderer:
    return SceneRenderer(seed=12, kind="plaza")


def _haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def _check_labels(labels: list, width: int, height: int) -> None:
    for cls, (x1, y1, x2, y2) in labels:
        assert cls in CLASSES
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert x2 - x1 >= 4 and y2 - y1 >= 4


@pytest.mark.parametrize("kind", ["street", "plaza"])
def test_same_seed_same_frames_other_seed_differs(kind: str) -> None:
    a = SceneRenderer(seed=3, kind=kind)
    b = SceneRenderer(seed=3, kind=kind)
    c = SceneRenderer(seed=4, kind=kind)
    for t in (0.0, 0.2, 0.4, 9.0, 30.0, 30.2, 61.0):
        img_a, lab_a = a.render(t)
        img_b, lab_b = b.render(t)
        assert img_a.shape == (360, 640, 3) and img_a.dtype == np.uint8
        assert np.array_equal(img_a, img_b)
        assert lab_a == lab_b
    assert not np.array_equal(a.render(5.0)[0], c.render(5.0)[0])
    # Frames asked out of order or sparsely still match: state is only a cache.
    d = SceneRenderer(seed=3, kind=kind)
    img_d, lab_d = d.render(61.0)
    img_a, lab_a = a.render(61.0)
    assert np.array_equal(img_a, img_d) and lab_a == lab_d


@pytest.mark.parametrize("randomize", [False, True])
def test_labels_inside_image_with_known_classes(randomize: bool) -> None:
    seen: set[str] = set()
    for seed, kind in ((1, "street"), (2, "plaza"), (5, "street")):
        r = SceneRenderer(seed=seed, kind=kind, width=480, height=270, randomize=randomize)
        for t in np.arange(0.0, 240.0, 7.3):
            img, labels = r.render(float(t))
            assert img.shape == (270, 480, 3)
            _check_labels(labels, 480, 270)
            seen |= {c for c, _ in labels}
    assert {"person", "vehicle"} <= seen


def test_static_scene_is_quiet_between_frames() -> None:
    """Away from actors, consecutive frames differ only by low sensor noise."""
    r = SceneRenderer(seed=7, kind="street", density=0.0, first_event_s=10_000)
    a, la = r.render(1.0)
    b, lb = r.render(1.2)
    assert la == [] and lb == []
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    assert diff.mean() < 3.0 and np.percentile(diff, 99) <= 10


def test_every_event_kind_appears_with_its_labels(street: SceneRenderer) -> None:
    events = street.events_until(len(ALL_STREET_KINDS) * 40 * 1.3 + 10)
    kinds = {e["kind"] for e in events}
    assert kinds == set(ALL_STREET_KINDS)
    assert events[0]["start_s"] == pytest.approx(8.0)
    for e in events:
        assert 30.0 <= e["end_s"] - e["start_s"] <= 95.0
    first = {k: next(e for e in events if e["kind"] == k) for k in STREET_KINDS}

    def samples(e: dict) -> list[list[tuple[str, tuple]]]:
        """Labels at five moments of the event's active span (passing traffic may hide it now and then)."""
        a0, a1 = e["active_s"]
        return [street.render(a0 + (a1 - a0) * f)[1] for f in (0.1, 0.3, 0.5, 0.7, 0.9)]

    def share(e: dict, *classes: str) -> float:
        frames = samples(e)
        return sum(all(c in {k for k, _ in f} for c in classes) for f in frames) / len(frames)

    assert share(first["fire"], "fire", "smoke") >= 0.6
    assert share(first["garbage"], "garbage") >= 0.6
    assert share(first["stall"], "stall") >= 0.6
    assert max([k for k, _ in f].count("person") for f in samples(first["crowd"])) >= 8

    fallen = first["fallen_person"]
    u, v = fallen["where"]
    lying = [b for f in samples(fallen) for c, b in f if c == "person" and b[2] - b[0] > b[3] - b[1]]
    assert any(b[0] - 5 <= u <= b[2] + 5 and b[1] - 10 <= v <= b[3] + 10 for b in lying)


def test_parked_vehicle_is_still_and_inside_the_no_parking_zone(street: SceneRenderer) -> None:
    parking = next(e for e in street.events_until(1000) if e["kind"] == "illegal_parking")
    a0, a1 = parking["active_s"]
    assert a1 - a0 >= 40.0
    boxes = [{b for c, b in street.render(t)[1] if c == "vehicle"} for t in (a0 + 0.5, a0 + 17.3, a1 - 0.5)]
    still = boxes[0] & boxes[1] & boxes[2]
    zone = np.array(street.no_parking_zone, dtype=np.float32)
    assert len(zone) >= 4 and street.zones["no-parking"] == street.no_parking_zone
    inside = [b for b in still if cv2.pointPolygonTest(zone, ((b[0] + b[2]) / 2, b[3]), False) >= 0]
    assert len(inside) == 1
    # Before it arrives the box is empty of it; after it leaves, too.
    before = {b for c, b in street.render(parking["start_s"] - 2.0)[1] if c == "vehicle"}
    assert inside[0] not in before


def test_plaza_events_and_zones(plaza: SceneRenderer) -> None:
    kinds = {e["kind"] for e in plaza.events_until(len(PLAZA_KINDS) * 40 * 1.3 + 10)}
    assert kinds == set(PLAZA_KINDS)
    assert {"plaza", "no-vending"} <= set(plaza.zones)
    assert plaza.no_parking_zone == []
    for e in plaza.events:
        assert set(e) >= {"kind", "start_s", "end_s", "where"}


def test_custom_schedule() -> None:
    r = SceneRenderer(seed=2, kind="street", event_every_s=20.0, first_event_s=3.0)
    events = r.events_until(200)
    assert events[0]["start_s"] == pytest.approx(3.0)
    gaps = [b["start_s"] - a["start_s"] for a, b in zip(events, events[1:], strict=False)]
    assert all(g > 0 for g in gaps) and 12.0 < sum(gaps) / len(gaps) < 30.0
    with pytest.raises(ValueError):
        SceneRenderer(seed=1, kind="harbour")


def test_source_paces_frames() -> None:
    src = SimCameraSource(fps=20.0, seed=1, width=320, height=180)
    assert isinstance(src, Source)
    src.open()
    start = time.monotonic()
    frames = [src.read() for _ in range(6)]
    elapsed = time.monotonic() - start
    assert 0.22 <= elapsed <= 0.33
    assert [f.index for f in frames] == list(range(6))
    assert all(b.ts > a.ts for a, b in zip(frames, frames[1:], strict=False))
    assert all(isinstance(f, Frame) and f.image.shape == (180, 320, 3) for f in frames)
    assert all(isinstance(f.truth, tuple) for f in frames)
    # A late caller skips frames instead of getting a burst.
    time.sleep(0.3)
    late = src.read()
    after = src.read()
    assert after.ts - late.ts >= 0.035
    assert late.index == 6 and after.index == 7
    src.close()


def test_drone_telemetry_follows_the_route() -> None:
    route = [(113.30, 23.12), (113.31, 23.12), (113.31, 23.13)]
    f = DroneFlight(route, speed_mps=15.0, alt_m=100.0, loop=True)
    a, b = f.telemetry(2.0), f.telemetry(6.0)
    assert _haversine_m(a.lon, a.lat, b.lon, b.lat) == pytest.approx(60.0, rel=0.01)
    assert a.heading == pytest.approx(90.0, abs=0.5) and a.alt == 100.0
    first_leg = _haversine_m(*route[0], *route[1])
    c, d = f.telemetry(first_leg / 15.0 + 5.0), f.telemetry(first_leg / 15.0 + 8.0)
    assert c.heading == pytest.approx(0.0, abs=0.5) or c.heading == pytest.approx(360.0, abs=0.5)
    assert _haversine_m(c.lon, c.lat, d.lon, d.lat) == pytest.approx(45.0, rel=0.01)
    assert f.telemetry(0.0, wall_ts=123.0).ts == 123.0
    # Looping brings it back to the start; without loop it stays at the end.
    back = f.telemetry(f.length_m / 15.0)
    assert _haversine_m(back.lon, back.lat, *route[0]) < 0.5
    g = DroneFlight(route, speed_mps=15.0, loop=False)
    end = g.telemetry(10_000.0)
    assert _haversine_m(end.lon, end.lat, *route[-1]) < 0.5
    with pytest.raises(ValueError):
        DroneFlight([], 10.0)


def test_aerial_view_is_deterministic_and_labelled() -> None:
    f = DroneFlight([(113.30, 23.12), (113.35, 23.13)], speed_mps=15.0)
    a, b = AerialRenderer(5, flight=f), AerialRenderer(5, flight=f)
    seen: set[str] = set()
    for t in (0.0, 0.2, 10.0, 33.0):
        heading = f.telemetry(t).heading
        img_a, lab_a = a.render(t, heading)
        img_b, lab_b = b.render(t, heading)
        assert np.array_equal(img_a, img_b) and lab_a == lab_b
        _check_labels(lab_a, 640, 360)
        seen |= {c for c, _ in lab_a}
    assert {"vehicle", "person"} <= seen
    img0, _ = a.render(0.0, 90.0)
    img1, _ = a.render(10.0, 90.0)
    assert not np.array_equal(img0, img1)  # the view scrolls as the drone flies


def test_drone_source_carries_telemetry() -> None:
    src = SimDroneSource(
        fps=10.0, seed=5, waypoints=[(113.30, 23.12), (113.31, 23.13)], speed_mps=20.0, alt_m=80.0
    )
    src.open()
    frames = [src.read() for _ in range(3)]
    src.close()
    for f in frames:
        assert f.telemetry is not None and f.telemetry.alt == 80.0
        assert abs(f.telemetry.ts - f.wall_ts) < 1.0
    assert frames[0].telemetry is not None and frames[0].telemetry.lon == pytest.approx(113.30)


def test_open_sim_parses_urls() -> None:
    street = open_sim("sim://street?seed=3", 5.0)
    assert (
        isinstance(street, SimCameraSource) and street.renderer.kind == "street" and street.renderer.seed == 3
    )
    plaza = open_sim("sim://plaza?seed=4&width=960&height=540&event_every_s=30&fps=2", 5.0)
    assert isinstance(plaza, SimCameraSource) and plaza.fps == 2.0
    assert plaza.renderer.kind == "plaza" and (plaza.renderer.width, plaza.renderer.height) == (960, 540)
    assert plaza.renderer.planner.every_s == 30.0
    drone = open_sim("sim://drone?seed=5&route=113.30,23.12;113.35,23.13;113.33,23.16&speed=15&alt=120", 4.0)
    assert isinstance(drone, SimDroneSource) and drone.fps == 4.0
    assert drone.flight.waypoints == [(113.30, 23.12), (113.35, 23.13), (113.33, 23.16)]
    assert drone.flight.speed_mps == 15.0 and drone.flight.alt_m == 120.0
    assert isinstance(open_sim("sim://drone", 5.0), SimDroneSource)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sim://harbour?seed=1", "unknown simulated scene"),
        ("rtsp://street", "not a sim:// URL"),
        ("sim://street?colour=red", "unknown parameter 'colour'"),
        ("sim://street?seed=abc", "bad value 'abc' for 'seed'"),
        ("sim://street?width=10", "out of range"),
        ("sim://plaza?event_every_s=0", "event_every_s"),
        ("sim://street?randomize=maybe", "randomize"),
        ("sim://drone?route=113.3", "route"),
        ("sim://drone?speed=-2", "speed"),
        ("sim://drone?event_every_s=3", "unknown parameter"),
        ("sim://street?fps=0", "fps"),
    ],
)
def test_open_sim_rejects_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_sim(url, 5.0)
