"""Video verification (vision/verify.py): a scene check decides cleared / present / unsure
from raw detections, and the pipeline runs checks as the vision thread's frames come.

SceneCheck's rules on made-up detections first (every branch of the decision), then the
real thing: rendered frames of a stall, the project's model behind the motion gate, once
resolved (cleared) and once left standing (present), through VisionWorker with its clips."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from scenes import SceneRenderer
from streams.base import Frame
from tests.helpers import ROOT
from vision.clips import ClipRecorder
from vision.detectors.base import Detection
from vision.gate import MotionGate
from vision.incident import Incident
from vision.pipeline import CameraPipeline, VisionWorker
from vision.verify import CheckRequest, SceneCheck, Verdict, check_bars, overlaps, padded, request_for

MODEL = ROOT / "models" / "grid-yolo.onnx"
needs_model = pytest.mark.skipif(not MODEL.exists(), reason=f"{MODEL} (the project's trained model) is not there")
IMAGE = np.zeros((120, 160, 3), np.uint8)
REGION = (40.0, 40.0, 100.0, 100.0)
STALL = Detection("stall", 0.9, (50.0, 50.0, 90.0, 95.0))


def request(**options: object) -> CheckRequest:
    base: dict[str, object] = {"id": "V1", "camera_id": "cam", "region": REGION, "labels": frozenset({"stall"}), "hold_s": 10.0, "timeout_s": 60.0}
    return CheckRequest(**{**base, **options})  # type: ignore[arg-type]


def feed(check: SceneCheck, frames: list[list[Detection]], fps: float = 5.0, t0: float = 0.0) -> tuple[Verdict | None, float]:
    """Frames in order until a verdict; the verdict (or None) and the last frame's time."""
    ts = t0
    for i, detections in enumerate(frames):
        ts = t0 + i / fps
        verdict = check.update(detections, ts, 1e9 + ts, IMAGE)
        if verdict is not None:
            return verdict, ts
    return None, ts


def test_cleared_after_the_region_stays_empty_for_hold_s() -> None:
    check = SceneCheck(request(), 0.0, {"stall": 0.24}, fps=5.0)
    verdict, ts = feed(check, [[STALL]] * 10 + [[]] * 100)  # there for 2 s, then gone
    assert verdict is not None and verdict.outcome == "cleared"
    assert ts == pytest.approx(12.0)  # first empty frame at 2.0 s, + hold 10 s
    assert verdict.absent_s == pytest.approx(10.0) and verdict.looked_s == pytest.approx(12.0)
    assert (verdict.frames, verdict.present_frames, verdict.best_score) == (61, 10, 0.9)
    assert verdict.ts == pytest.approx(1e9 + 12.0)  # the deciding frame's wall clock
    snapshot = cv2.imdecode(np.frombuffer(verdict.snapshot_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert snapshot is not None and snapshot.shape == IMAGE.shape
    assert check.finished and check.update([], 13.0, 13.0, IMAGE) is None  # decided once


def test_a_sighting_restarts_the_absence_run() -> None:
    check = SceneCheck(request(), 0.0, {"stall": 0.24})
    frames: list[list[Detection]] = [[]] * 40 + [[STALL]] + [[]] * 100  # seen once after 8 s of nothing
    verdict, ts = feed(check, frames)
    assert verdict is not None and verdict.outcome == "cleared"
    assert ts == pytest.approx(8.2 + 10.0)


def test_too_few_frames_prove_nothing() -> None:
    """A camera that delivers a frame every 2 s where 5 fps was promised never clears."""
    check = SceneCheck(request(timeout_s=40.0), 0.0, {"stall": 0.24}, fps=5.0)
    verdict, _ = feed(check, [[]] * 30, fps=0.5)
    assert verdict is not None and verdict.outcome == "unsure"  # 40 s: timeout
    assert verdict.frames == 21


def test_present_when_matched_in_half_the_frames_of_the_last_hold() -> None:
    check = SceneCheck(request(), 0.0, {"stall": 0.24})
    verdict, ts = feed(check, [[STALL], [STALL], []] * 40)  # seen in 2 of 3 frames
    assert verdict is not None and verdict.outcome == "present"
    assert ts == pytest.approx(10.0) and verdict.absent_s == 0.0
    sparse = SceneCheck(request(timeout_s=20.0), 0.0, {"stall": 0.24})
    verdict, ts = feed(sparse, [[STALL], [], []] * 60)  # 1 in 3: neither present nor ever empty long enough
    assert verdict is not None and verdict.outcome == "unsure" and ts == pytest.approx(20.0)


def test_matching_uses_a_lower_bar_the_labels_and_the_region() -> None:
    bars = check_bars(frozenset({"stall"}), {"stall": 0.4, "default": 0.35})
    assert bars == {"stall": pytest.approx(0.24)}
    assert check_bars(frozenset({"garbage"}), {"default": 0.4}) == {"garbage": pytest.approx(0.24)}
    check = SceneCheck(request(), 0.0, bars)
    weak = Detection("stall", 0.25, STALL.box)  # under the incident threshold (0.4), over the check's bar
    assert check.matching([weak]) == [weak]
    assert check.matching([Detection("stall", 0.2, STALL.box)]) == []
    assert check.matching([Detection("person", 0.9, STALL.box)]) == []
    assert check.matching([Detection("stall", 0.9, (120.0, 10.0, 150.0, 30.0))]) == []  # elsewhere
    # Footprint outside (a stall seen standing just below), yet overlapping well: matches.
    low = Detection("stall", 0.9, (45.0, 60.0, 95.0, 115.0))
    assert check.matching([low]) == [low] and overlaps(low.box, REGION)
    # A weak sighting keeps a case open: no "cleared" while it shows; but sending the work back
    # ("present") takes sightings at the incident's own bar.
    verdict, _ = feed(SceneCheck(request(timeout_s=15.0), 0.0, bars), [[weak]] * 100)
    assert verdict is not None and verdict.outcome == "unsure"
    strong = Detection("stall", 0.45, STALL.box)
    verdict, _ = feed(SceneCheck(request(timeout_s=15.0), 0.0, bars), [[strong]] * 100)
    assert verdict is not None and verdict.outcome == "present"


def test_fallen_person_checks_look_for_lying_people_and_ignore_passers_by() -> None:
    fallen = request(labels=frozenset({"person"}), rule="fallen_person")
    lying = Detection("person", 0.7, (45.0, 80.0, 95.0, 98.0))
    walker = Detection("person", 0.9, (60.0, 40.0, 75.0, 98.0))  # upright: someone walking by
    check = SceneCheck(fallen, 0.0, {"person": 0.24})
    assert check.matching([lying, walker]) == [lying]
    # A lying person whose track moves (getting up and away) is passing; one still is not.
    assert check.matching([lying], passing=[lying]) == []
    verdict, _ = feed(SceneCheck(fallen, 0.0, {"person": 0.24}), [[walker]] * 100)
    assert verdict is not None and verdict.outcome == "cleared"  # nobody lying for 10 s
    # Crowds and fire never discount movers: people shuffle, flames flicker.
    crowd = SceneCheck(request(labels=frozenset({"person"}), rule="crowding"), 0.0, {"person": 0.24})
    assert crowd.matching([walker], passing=[walker]) == [walker]


def test_parking_checks_ignore_cars_driving_through() -> None:
    parking = request(labels=frozenset({"vehicle"}), rule="illegal_parking")
    passing = Detection("vehicle", 0.9, (30.0, 50.0, 110.0, 90.0))
    parked = Detection("vehicle", 0.9, (45.0, 60.0, 95.0, 95.0))
    frames = [([passing], [passing]) if i % 10 < 4 else ([], []) for i in range(100)]  # traffic
    check = SceneCheck(parking, 0.0, {"vehicle": 0.24})
    verdicts = [check.update(d, i / 5, i / 5, IMAGE, p) for i, (d, p) in enumerate(frames)]
    assert [v.outcome for v in verdicts if v] == ["cleared"]
    check = SceneCheck(parking, 0.0, {"vehicle": 0.24})  # the parked car stays, traffic passes
    verdicts = [check.update(d + [parked], i / 5, i / 5, IMAGE, p) for i, (d, p) in enumerate(frames)]
    assert [v.outcome for v in verdicts if v] == ["present"]


def test_min_count_for_crowds() -> None:
    people = [Detection("person", 0.8, (42.0 + 6 * i, 50.0, 48.0 + 6 * i, 90.0)) for i in range(8)]
    crowd = request(labels=frozenset({"person"}), min_count=8)
    verdict, _ = feed(SceneCheck(crowd, 0.0, {"person": 0.24}), [people] * 60)
    assert verdict is not None and verdict.outcome == "present"
    # Five seen of a crowd of eight: not a crowd by the rule, yet not gone either (a detector
    # that misses people must not clear a crowd): no verdict until the timeout says unsure.
    verdict, ts = feed(SceneCheck(crowd, 0.0, {"person": 0.24}), [people[:5]] * 400)
    assert verdict is not None and verdict.outcome == "unsure" and ts == pytest.approx(60.0)
    verdict, ts = feed(SceneCheck(crowd, 0.0, {"person": 0.24}), [people[:3]] * 60)  # 3 left: dispersed
    assert verdict is not None and verdict.outcome == "cleared" and ts == pytest.approx(10.0)


def test_watch_checks_only_ever_say_cleared() -> None:
    watch = SceneCheck(request(purpose="watch", timeout_s=30.0), 0.0, {"stall": 0.24})
    verdict, _ = feed(watch, [[STALL]] * 200)  # there all along: no "present", and silence at the timeout
    assert verdict is None and watch.finished
    gone = SceneCheck(request(purpose="watch"), 0.0, {"stall": 0.24})
    verdict, _ = feed(gone, [[STALL]] * 100 + [[]] * 100)
    assert verdict is not None and verdict.outcome == "cleared"


def test_every_s_samples_frames() -> None:
    check = SceneCheck(request(every_s=2.0, timeout_s=100.0), 0.0, {"stall": 0.24}, fps=5.0)
    assert check.min_absent_frames == 3  # half of what one look per 2 s promises in 10 s
    looked = [check.due(i / 5) and check.update([], i / 5, i / 5, IMAGE) is None for i in range(26)]
    assert [i for i, due in enumerate(looked) if due] == [0, 10, 20]  # 0 s, 2 s, 4 s
    verdict, ts = feed(check, [[]] * 100, t0=5.2)
    assert verdict is not None and verdict.outcome == "cleared" and ts == pytest.approx(10.0)
    assert verdict.frames == 6


def test_requests_refuse_nonsense_and_come_from_incidents() -> None:
    with pytest.raises(ValueError, match="empty region"):
        request(region=(10.0, 10.0, 10.0, 50.0))
    with pytest.raises(ValueError, match="no labels"):
        request(labels=frozenset())
    incident = Incident("cam", 1e9, "crowding", "plaza", "crowd", 0.8, (100.0, 100.0, 200.0, 160.0), 0.0, 0.0, 7, b"")
    made = request_for(incident, "V9", min_count=8, hold_s=30.0)
    assert made.labels == frozenset({"person"}) and made.min_count == 8 and made.zone == "plaza"
    assert made.rule == "crowding"
    assert made.region == padded(incident.box) == (70.0, 82.0, 230.0, 178.0)


def test_pipeline_checks_are_added_listed_and_cancelled_from_another_thread() -> None:
    from vision.detectors import MotionDetector

    pipeline = CameraPipeline("cam", MotionDetector(), [], (0.0, 0.0))
    adder = threading.Thread(target=lambda: pipeline.add_check(request()))
    adder.start()
    adder.join()
    assert list(pipeline.checks) == ["V1"]
    with pytest.raises(ValueError, match="already running"):
        pipeline.add_check(request())
    with pytest.raises(ValueError, match="not cam"):
        pipeline.add_check(request(id="V2", camera_id="other"))
    pipeline.process(Frame(IMAGE, 0.0, 0, 0.0))  # the check starts with this frame
    assert pipeline.cancel_check("V1") and not pipeline.cancel_check("V1")
    assert dict(pipeline.checks) == {}
    for i in range(1, 80):  # cancelled: no verdict, ever
        pipeline.process(Frame(IMAGE, i / 5, i, i / 5))
    assert pipeline.take_verdicts() == []


def stall_scene(seed: int = 5) -> tuple[SceneRenderer, float]:
    """A street whose only event is a stall; the time it has stood open for 8 s."""
    scene = SceneRenderer(seed, kind="street", kinds=("stall",), event_every_s=600.0, first_event_s=5.0)
    return scene, scene.events_until(6.0)[0]["active_s"][0] + 8.0


@needs_model
@pytest.mark.parametrize("handled", [True, False])
def test_a_rendered_stall_is_cleared_when_removed_and_present_when_not(handled: bool, tmp_path: Path) -> None:
    """Through VisionWorker.step (the vision thread's own path) with clips: the verdict goes to
    on_verdict, and its clip is written under the verification's id."""
    from vision.detectors.onnx import OnnxDetector

    scene, t_check = stall_scene()
    detector = OnnxDetector(MODEL, thresholds={"default": 0.24})
    pipeline = CameraPipeline("cam", detector, [], (0.0, 0.0), gate=MotionGate(region_size=320))
    pipeline.thresholds = {"default": 0.4}  # incidents as deployed; checks at 0.6 × that
    written: list[str] = []
    clips = ClipRecorder(tmp_path, pre_s=1.0, post_s=0.4, on_ready=lambda cid, _p: written.append(cid))
    verdicts: list[Verdict] = []
    worker = VisionWorker({"cam": (None, pipeline, 5.0)}, lambda _i: None, clips, on_verdict=verdicts.append)  # type: ignore[dict-item]
    t = t_check - 2.0
    for i in range(10):  # the camera has been watching: background learned, the stall tracked
        worker.step([("cam", Frame(scene.render(t + i / 5)[0], t + i / 5, i, 1e9 + t + i / 5))])
    _, truth = scene.render(t_check)
    stall = next(box for label, box in truth if label == "stall")
    if handled:
        scene.resolve(0, t_check)
    else:
        scene.persist(0)
    pipeline.add_check(CheckRequest("V-stall", "cam", padded(stall), frozenset({"stall"}), hold_s=3.0, timeout_s=10.0))
    for i in range(10, 40):
        ts = t + i / 5
        worker.step([("cam", Frame(scene.render(ts)[0], ts, i, 1e9 + ts))])
        if verdicts and ts > verdicts[0].ts - 1e9 + 1.0:  # the clip's post-roll has come
            break
    assert [v.outcome for v in verdicts] == ["cleared" if handled else "present"]
    verdict = verdicts[0]
    assert verdict.looked_s == pytest.approx(3.0, abs=0.25) and dict(pipeline.checks) == {}
    if handled:
        assert verdict.present_frames == 0 and verdict.absent_s >= 3.0
    else:  # the gate alone skips a still stall; the check made the detector look every frame
        assert verdict.present_frames >= 0.8 * verdict.frames and verdict.best_score > 0.5
    deadline = time.monotonic() + 20
    while not written and time.monotonic() < deadline and clips.enabled:
        time.sleep(0.1)
    assert written == (["V-stall"] if clips.enabled else [])


class CountingBatches:
    """The real detector, counting its batch calls."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.labels = inner.labels  # type: ignore[attr-defined]
        self.calls = 0

    def detect(self, image: np.ndarray, stream_id: str = "") -> list[Detection]:
        return self.inner.detect(image, stream_id)  # type: ignore[attr-defined]

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Detection]]:
        self.calls += 1
        return self.inner.detect_batch(images)  # type: ignore[attr-defined]


@needs_model
def test_cameras_batch_through_their_own_detectors() -> None:
    from vision.detectors.onnx import OnnxDetector

    shared = OnnxDetector(MODEL)
    one, other = CountingBatches(shared), CountingBatches(shared)
    detectors = {"a": one, "b": one, "c": other}
    pipelines = {n: CameraPipeline(n, d, [], (0.0, 0.0), gate=MotionGate(region_size=320)) for n, d in detectors.items()}
    worker = VisionWorker({n: (None, p, 5.0) for n, p in pipelines.items()}, lambda _i: None)  # type: ignore[misc]
    image = SceneRenderer(3, kind="plaza").render(30.0)[0]
    worker.step([(n, Frame(image, 0.0, 0, 0.0)) for n in pipelines])
    # The first frame is whole (the gate learns the background): one batch per detector.
    assert (one.calls, other.calls) == (1, 1) and worker.batches == 2
