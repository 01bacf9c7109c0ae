"""The governance problem kinds of the rendered scenes, and clearing or keeping an event."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from scenes import LABELS, SceneRenderer
from scenes.events import PLAZA_KINDS, PROP_KINDS, STREET_KINDS
from vision.classes import CLASSES

Labels = list[tuple[str, tuple[float, float, float, float]]]


@pytest.fixture(scope="module")
def street() -> SceneRenderer:
    return SceneRenderer(seed=21, kind="street", event_every_s=25.0)


@pytest.fixture(scope="module")
def plaza() -> SceneRenderer:
    return SceneRenderer(seed=22, kind="plaza", event_every_s=25.0)


def _first(scene: SceneRenderer, kind: str) -> dict:
    return next(e for e in scene.events_until(2000) if e["kind"] == kind)


def _names(scene: SceneRenderer, t: float) -> list[str]:
    return [n for n, _ in scene.render(t)[1]]


def _share(scene: SceneRenderer, e: dict, label: str) -> float:
    a0, a1 = e["active_s"]
    frames = [_names(scene, a0 + (a1 - a0) * f) for f in (0.1, 0.3, 0.5, 0.7, 0.9)]
    return sum(label in f for f in frames) / len(frames)


def test_classes_appended_in_order() -> None:
    assert CLASSES[:7] == ("person", "vehicle", "bicycle", "fire", "smoke", "garbage", "stall")
    assert CLASSES[7:] == PROP_KINDS and LABELS == CLASSES
    assert set(PROP_KINDS) | {"fire_lane_parking", "bike_pileup"} <= set(STREET_KINDS)
    assert "fire_lane_parking" not in PLAZA_KINDS and set(PROP_KINDS) <= set(PLAZA_KINDS)


@pytest.mark.parametrize("kind", PROP_KINDS)
def test_problem_kind_labelled_only_while_active(
    kind: str, street: SceneRenderer, plaza: SceneRenderer
) -> None:
    for scene in (street, plaza):
        e = _first(scene, kind)
        a0, a1 = e["active_s"]
        assert 40.0 <= a1 - a0 <= 80.5 and e["start_s"] <= a0
        assert _share(scene, e, kind) >= 0.6, (scene.kind, e)
        assert kind not in _names(scene, e["start_s"] - 0.5)
        assert kind not in _names(scene, e["end_s"] + 0.5)
        assert e in scene.event_at((a0 + a1) / 2)


def test_fire_lane_parking(street: SceneRenderer) -> None:
    zone = np.array(street.zones["fire-lane"], dtype=np.float32)
    assert len(zone) == 4
    e = _first(street, "fire_lane_parking")
    assert e["zone"] == "fire-lane"
    a0, a1 = e["active_s"]

    def parked(t: float) -> int:
        boxes = [b for n, b in street.render(t)[1] if n == "vehicle"]
        return sum(cv2.pointPolygonTest(zone, ((b[0] + b[2]) / 2, b[3]), False) >= 0 for b in boxes)

    assert parked(a0 + 1.0) >= 1 and parked(a1 - 1.0) >= 1
    assert parked(e["start_s"] - 5.0) == 0


@pytest.mark.parametrize("kind", ["street", "plaza"])
def test_bike_pileup(kind: str, street: SceneRenderer, plaza: SceneRenderer) -> None:
    scene = street if kind == "street" else plaza
    e = _first(scene, "bike_pileup")
    u, v = e["where"]
    a0, a1 = e["active_s"]

    def near(t: float) -> int:
        boxes = [b for n, b in scene.render(t)[1] if n == "bicycle"]
        return sum(abs((b[0] + b[2]) / 2 - u) < 200 and abs(b[3] - v) < 80 for b in boxes)

    assert max(near(a0 + 1.0), near((a0 + a1) / 2)) >= 5
    assert near(e["start_s"] - 0.5) <= 1  # a passing rider, at most


# Kinds whose label only the event itself draws, so its absence is telling.
CLEARED = [("street", k) for k in PROP_KINDS] + [("plaza", "garbage"), ("plaza", "stall"), ("street", "fire")]


@pytest.mark.parametrize(("scene_kind", "kind"), CLEARED)
def test_resolve_clears_and_persist_keeps(scene_kind: str, kind: str) -> None:
    label = kind if kind in CLASSES else kind
    cleared = SceneRenderer(seed=31, kind=scene_kind, event_every_s=25.0)
    kept = SceneRenderer(seed=31, kind=scene_kind, event_every_s=25.0)
    e = _first(cleared, kind)
    a0, a1 = e["active_s"]
    at = a0 + 0.5 * (a1 - a0)
    cleared.resolve(e["index"], at)
    kept.persist(e["index"])
    assert label in _names(cleared, at - 1.0) or label in _names(cleared, at - 3.0)
    for t in (at + 0.1, at + 5.0, a1 + 1.0):
        assert label not in _names(cleared, t)
    after = cleared.events_until(a1)[e["index"]]
    assert after["outcome"] == "resolved" and after["active_s"][1] == pytest.approx(at, abs=1e-3)
    assert after not in cleared.event_at(at + 1.0)
    # Persisted: still there two minutes after the natural end, and after the planner pruned
    # and rebuilt the event's actors (KEEP_S later).
    late = [a1 + 120.0, a1 + 700.0]
    assert all(label in _names(kept, t) for t in late)
    assert any(x["index"] == e["index"] and x["outcome"] == "persisted" for x in kept.event_at(a1 + 700.0))


def test_resolved_parking_car_leaves_the_box() -> None:
    scene = SceneRenderer(seed=32, kind="street", event_every_s=25.0)
    zone = np.array(scene.zones["no-parking"], dtype=np.float32)
    e = _first(scene, "illegal_parking")
    a0, a1 = e["active_s"]
    scene.resolve(e["index"], a0 + 10.0)

    def parked(t: float) -> int:
        boxes = [b for n, b in scene.render(t)[1] if n == "vehicle"]
        return sum(cv2.pointPolygonTest(zone, ((b[0] + b[2]) / 2, b[3]), False) >= 0 for b in boxes)

    assert parked(a0 + 9.0) >= 1
    assert parked(a0 + 11.0) == 0 and parked(a1 - 1.0) == 0


def test_outcomes_are_deterministic_and_survive_rebuilds() -> None:
    a = SceneRenderer(seed=33, kind="street", event_every_s=20.0)
    b = SceneRenderer(seed=33, kind="street", event_every_s=20.0)
    events = a.events_until(400)
    for scene in (a, b):
        scene.resolve(events[2]["index"], events[2]["active_s"][0] + 5.0)
        scene.persist(events[4]["index"])
    end = events[4]["active_s"][1]
    img1, lab1 = a.render(end + 30.0)
    img2, lab2 = a.render(end + 30.0)
    a.render(end + 2000.0)  # far ahead: the planner prunes, then rebuilds on the way back
    img3, lab3 = a.render(end + 30.0)
    img4, lab4 = b.render(end + 30.0)
    assert np.array_equal(img1, img2) and lab1 == lab2
    assert np.array_equal(img1, img3) and lab1 == lab3
    assert np.array_equal(img1, img4) and lab1 == lab4
    assert [e["index"] for e in events] == list(range(len(events)))
    with pytest.raises(ValueError):
        SceneRenderer(seed=1, kind="plaza", kinds=["fire_lane_parking"])
    only = SceneRenderer(seed=1, kind="street", kinds=["fire", "stall"])
    assert {e["kind"] for e in only.events_until(600)} == {"fire", "stall"}


@pytest.mark.slow
def test_training_set_has_every_class() -> None:
    from collections import Counter

    from vision.train.dataset import DatasetSpec, render_samples

    counts: Counter[str] = Counter()
    for _, labels in render_samples(DatasetSpec(images=300, seed=1000)):
        counts.update(n for n, _ in labels)
    print(dict(counts))
    assert all(counts[c] > 0 for c in CLASSES), counts
    assert min(counts[c] for c in PROP_KINDS) >= 0.7 * counts["garbage"], counts
