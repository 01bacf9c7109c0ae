"""ByteTrack and BoT-SORT behind the tracker interface, on synthetic boxes and rendered
scenes; and the ultralytics detector backend on an untrained model built from its yaml."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from scenes import AerialRenderer, SceneRenderer
from scenes.paint import clip_box
from vision.config import DetectorConfig, RulesConfig
from vision.detectors import create_detector
from vision.detectors.base import Box, Detection
from vision.track import IoUTracker, Track, Tracker
from vision.track_byte import BotSortTracker, ByteTracker, create_tracker

FPS = 10.0
KINDS = ["bytetrack", "botsort"]


def make(kind: str, **settings: object) -> Tracker:
    return create_tracker(kind, fps=FPS, max_gap_s=1.0, **settings)  # a 10-frame buffer


def moving_box(i: int, rng: random.Random, x0: float = 20.0, vx: float = 6.0, y: float = 100.0) -> Box:
    j = [rng.uniform(-2.0, 2.0) for _ in range(4)]
    x = x0 + vx * i
    return (x + j[0], y + j[1], x + 40 + j[2], y + 80 + j[3])


def test_factory_kinds_and_config() -> None:
    assert isinstance(create_tracker("iou", FPS, 2.0), IoUTracker)
    byte = create_tracker("bytetrack", FPS, 2.0)
    assert isinstance(byte, ByteTracker) and byte.args.track_buffer == 20  # 2 s at 10 fps
    assert isinstance(create_tracker("botsort", FPS, 2.0, track_buffer=7, match_thresh=0.7), BotSortTracker)
    with pytest.raises(ValueError, match="unknown tracker"):
        create_tracker("sort", FPS, 2.0)
    with pytest.raises(ValueError, match="unknown bytetrack settings"):
        create_tracker("bytetrack", FPS, 2.0, gmc_method="orb")  # a BoT-SORT-only key
    assert RulesConfig().tracker == "iou" and RulesConfig(tracker="botsort").tracker == "botsort"
    with pytest.raises(ValueError):
        RulesConfig(tracker="deepsort")


@pytest.mark.parametrize("kind", KINDS)
def test_one_id_through_jitter_and_missed_frames(kind: str) -> None:
    tracker = make(kind)
    rng = random.Random(1)
    missed = {6, 7, 8, 15, 22}  # at most 3 in a row: well within the 10-frame buffer
    seen: list[Track] = []
    for i in range(30):
        dets = [] if i in missed else [Detection("person", rng.uniform(0.6, 0.95), moving_box(i, rng))]
        out = tracker.update(dets, i / FPS)
        assert len(out) == len(dets)
        seen += out
    assert {t.id for t in seen} == {seen[0].id}
    assert len({id(t) for t in seen}) == 1  # one Track object: rules keep state on it
    assert seen[0].hits == 30 - len(missed)
    assert list(tracker.tracks) == [seen[0].id]


@pytest.mark.parametrize("kind", KINDS)
def test_crossing_objects_keep_distinct_ids(kind: str) -> None:
    tracker = make(kind)
    rng = random.Random(2)
    ids: dict[str, set[int]] = {"a": set(), "b": set()}
    for i in range(40):
        boxes = {"a": moving_box(i, rng, x0=20, vx=8, y=100), "b": moving_box(i, rng, x0=340, vx=-8, y=110)}
        owner = {box: name for name, box in boxes.items()}
        for t in tracker.update([Detection("person", 0.9, b) for b in boxes.values()], i / FPS):
            ids[owner[t.box]].add(t.id)
    assert len(ids["a"]) == 1 and len(ids["b"]) == 1 and ids["a"] != ids["b"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_track_is_dropped_when_its_buffer_expires(kind: str) -> None:
    tracker = make(kind, track_buffer=5)
    box = (100.0, 100.0, 140.0, 180.0)
    first = [tracker.update([Detection("vehicle", 0.9, box)], i / FPS) for i in range(5)][-1][0]
    for i in range(5, 10):  # five missed frames: lost, but still live
        assert tracker.update([], i / FPS) == []
    assert first.id in tracker.tracks
    tracker.update([], 1.0)  # the sixth
    assert tracker.tracks == {}
    tracker.update([Detection("vehicle", 0.9, box)], 1.1)
    again = tracker.update([Detection("vehicle", 0.9, box)], 1.2)
    assert [t.id for t in again] != [first.id]


@pytest.mark.parametrize("kind", KINDS)
def test_labels_follow_the_recent_vote(kind: str) -> None:
    tracker = make(kind)
    rng = random.Random(3)
    labels = ["person"] * 10 + ["bicycle"] + ["person"] * 5  # one odd frame does not flip it
    for i, label in enumerate(labels):
        (track,) = tracker.update([Detection(label, 0.8, moving_box(i, rng, vx=2))], i / FPS)
        assert track.label == "person"
    assert set(track.votes) == {"person", "bicycle"}
    for i in range(len(labels), len(labels) + 10):  # but a lasting change does
        (track,) = tracker.update([Detection("bicycle", 0.8, moving_box(i, rng, vx=2))], i / FPS)
    assert track.label == "bicycle"


@pytest.mark.parametrize("kind", KINDS)
def test_coast_keeps_a_still_track_through_skipped_frames(kind: str) -> None:
    tracker = make(kind, track_buffer=5)
    box = (200.0, 50.0, 260.0, 90.0)
    for i in range(3):
        (parked,) = tracker.update([Detection("vehicle", 0.9, box)], i / FPS)
    for i in range(3, 30):  # the motion gate skips it for 27 frames, far past the buffer
        tracker.coast([parked], i / FPS)
        tracker.update([], i / FPS)
        assert tracker.tracks.get(parked.id) is parked
    assert parked.last_seen == pytest.approx(2.9)
    (back,) = tracker.update([Detection("vehicle", 0.9, box)], 3.0)
    assert back is parked and not parked.still(3.0, after_s=5.0) and parked.still(3.0, after_s=2.0)
    # Without coasting the same gap ends the track.
    for i in range(31, 40):
        tracker.update([], i / FPS)
    assert parked.id not in tracker.tracks


def identified_street(seed: int, seconds: float) -> list[tuple[np.ndarray, list[tuple[object, str, Box]]]]:
    """Rendered street frames with a ground-truth identity for each visible box.

    The renderer labels boxes but not identities; each actor is drawn again on a scratch
    image to learn which boxes it owns (drawing is a pure function of the time)."""
    renderer = SceneRenderer(seed=seed, kind="street")
    frames = []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        image, labels = renderer.render(t)
        scratch = np.zeros_like(image)
        owner: dict[tuple[str, Box], object] = {}
        for actor in renderer.traffic.active(t) + renderer.planner.active(t):
            for k, (cls, box) in enumerate(actor.draw(scratch, renderer.backdrop.cam, t)):
                c = clip_box(box, renderer.width, renderer.height)
                owner[(cls, (round(c[0], 1), round(c[1], 1), round(c[2], 1), round(c[3], 1)))] = (
                    id(actor),
                    k,
                )
        frames.append((image, [(owner[(cls, box)], cls, box) for cls, box in labels]))
    return frames


@pytest.fixture(scope="module")
def street() -> list[tuple[np.ndarray, list[tuple[object, str, Box]]]]:
    return identified_street(seed=3, seconds=20.0)


def id_switches(tracker: Tracker, frames: list, drop: float, use_image: bool = True) -> tuple[int, int]:
    """(id switches, matched observations) with ground-truth boxes as detections, some dropped."""
    rng = random.Random(0)
    assigned: dict[object, list[int]] = {}
    observed = 0
    for i, (image, truth) in enumerate(frames):
        kept = [(gt, cls, box) for gt, cls, box in truth if rng.random() >= drop]
        owner = {box: gt for gt, _, box in kept}
        for track in tracker.update(
            [Detection(cls, 0.9, box) for _, cls, box in kept], i / FPS, image if use_image else None
        ):
            assigned.setdefault(owner[track.box], []).append(track.id)
            observed += 1
    switches = sum(sum(a != b for a, b in zip(ids, ids[1:], strict=False)) for ids in assigned.values())
    return switches, observed


def test_id_switches_on_a_rendered_street(street: list) -> None:
    results = {
        kind: id_switches(create_tracker(kind, FPS, 2.0), street, drop=0.15) for kind in ("iou", *KINDS)
    }
    total = sum(len(truth) for _, truth in street)
    for kind, (switches, observed) in results.items():
        print(
            f"street seed 3, 20 s at {FPS:g} fps, 15% dropped: {kind}: {switches} id switches in {observed} of {total} boxes"
        )
    assert results["bytetrack"][0] < results["iou"][0] and results["botsort"][0] < results["iou"][0]
    for kind in KINDS:
        switches, observed = results[kind]
        assert observed > 0.75 * total and switches < 0.02 * observed


def test_botsort_runs_on_street_frames(street: list) -> None:
    tracker = create_tracker("botsort", FPS, 2.0)
    switches, observed = id_switches(tracker, street, drop=0.0)
    assert observed > 0.9 * sum(len(truth) for _, truth in street) and switches <= 5


def test_botsort_compensates_a_shaking_drone() -> None:
    """A hovering, shaking drone: the whole view jumps by up to ~20 px a frame, more than a
    walker's size, so only camera-motion compensation keeps the boxes matched."""
    renderer = AerialRenderer(seed=3)
    rng = random.Random(1)
    frames = []
    for i in range(40):
        t = i / FPS
        centre = (1.5 * t + rng.uniform(-4, 4), 1.0 * t + rng.uniform(-4, 4))  # metres
        frames.append(renderer.render(t, heading=20.0, center=centre))

    def run(tracker: Tracker, with_image: bool) -> tuple[int, int]:
        ids: set[int] = set()
        reported = 0
        for i, (image, truth) in enumerate(frames):
            dets = [Detection(cls, 0.9, box) for cls, box in truth]
            out = tracker.update(dets, i / FPS, image if with_image else None)
            ids.update(t.id for t in out)
            reported += len(out)
        return len(ids), reported

    total = sum(len(truth) for _, truth in frames)
    gmc_ids, gmc_reported = run(create_tracker("botsort", FPS, 2.0), with_image=True)
    bare_ids, bare_reported = run(create_tracker("botsort", FPS, 2.0, gmc_method="none"), with_image=True)
    print(
        f"drone: with GMC {gmc_ids} ids, {gmc_reported}/{total} boxes tracked; without {bare_ids}, {bare_reported}"
    )
    assert gmc_reported > 0.9 * total and gmc_reported > 3 * bare_reported
    assert gmc_ids < bare_ids


# The ultralytics detector backend

# find_spec locates the wheel without importing it (and torch) at collection time.
BUS = Path(str(importlib.util.find_spec("ultralytics").origin)).parent / "assets" / "bus.jpg"


@pytest.fixture(scope="module")
def untrained_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("model")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)  # whatever ultralytics writes lands here, not in the repository
        YOLO("yolov8n.yaml").save(folder / "yolov8n-untrained.pt")  # built from the architecture: no download
    return folder / "yolov8n-untrained.pt"


def test_ultralytics_backend_loads_a_pt_and_returns_boxes_in_the_image(
    untrained_pt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    detector = create_detector(
        DetectorConfig(
            backend="ultralytics",
            model=untrained_pt,
            imgsz=320,
            thresholds={"default": 1e-5, "0": 1e-4},  # untrained: its scores are tiny
            label_map={"1": "vehicle"},
        )
    )
    assert len(detector.labels) == 80 and "vehicle" in detector.labels  # untrained: classes "0".."79"
    assert detector.thresholds[0] == pytest.approx(1e-4) and detector.thresholds[2] == pytest.approx(1e-5)
    image = cv2.imread(str(BUS))
    found = detector.detect(image, "cam")
    assert isinstance(found, list)
    h, w = image.shape[:2]
    for det in found:
        x1, y1, x2, y2 = det.box
        assert 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h
        assert det.score >= (1e-4 if det.label == "0" else 1e-5)
        assert det.label in detector.labels
    with pytest.raises(ValueError, match="empty"):
        detector.detect(np.zeros((0, 0, 3), np.uint8))
    print(f"untrained yolov8n on bus.jpg: {len(found)} detections")
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory


def test_ultralytics_backend_rejects_corrupt_and_missing_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    corrupt = tmp_path / "broken.pt"
    corrupt.write_bytes(b"not a checkpoint" * 64)
    with pytest.raises(ValueError, match=r"broken\.pt"):
        create_detector(DetectorConfig(backend="ultralytics", model=corrupt))
    with pytest.raises(ValueError, match=r"missing\.pt does not exist"):
        create_detector(DetectorConfig(backend="ultralytics", model=tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="model is required"):
        create_detector(DetectorConfig(backend="ultralytics"))
