"""Video verification: the camera that raised a case looks again and says whether the
problem is gone (视频核查).

A `SceneCheck` judges the RAW detections of each frame it examines (never tracks: a track
coasts through frames the detector did not look at, and would keep a removed stall alive,
or a passing car dead). Matching is deliberately generous, because the two mistakes cost
very differently: a wrong "present" sends a worker back or a person to look, a wrong
"cleared" closes a case while the stall is still on the pavement. So:

- a detection matches at a LOWER score than raising an incident takes (`CHECK_BAR` × the
  incident threshold), and anywhere it overlaps the padded region of the incident;
- "cleared" needs the region empty of matches for `hold_s` without a break, over at least
  half the frames the camera's frame rate promises in that time (a stalled camera proves
  nothing);
- "present" needs `hold_s` of looking and matches AT THE INCIDENT'S OWN BAR in at least half
  the frames of the last `hold_s`: sending work back takes the evidence that raised it, so a
  faint look-alike left where the stall stood blocks "cleared" without making it "present";
  anything else until `timeout_s` is "unsure" (a person decides);
- a counting check (a crowd: `min_count` people) calls a frame empty only below half that
  count, so a detector that misses a few people never makes a crowd "gone";
- what the rule means narrows what matches, never more than that: a fallen person is a
  lying (wide) person box, and for a parked car or a fallen person a detection of a moving
  track is a passer-by (the pipeline names them; see STATIONARY_RULES);
- with the incident's look of its box (`CheckRequest.look`, vision/spot_look.py), a frame with
  no match whose box still looks as it did is no absence either: the pixels hold back a
  "cleared" the detector's silence alone would give.

The lower bar only helps if the detector reports such scores: give the shared detector
thresholds of CHECK_BAR × the incident thresholds, and each camera (`CameraPipeline.thresholds`)
the incident thresholds themselves, so incidents stay as they were (`evaluate_verify`
measures both ways). And a "cleared" is only worth something for an object the camera's
model can see: ask a camera to verify what it raised, not any reported problem.

A "watch" check follows an open case (is the stall gone yet?): it only ever reports
"cleared". It never says "present" (the case is open anyway), and at its timeout it ends
silently: `update` returns None and `finished` turns True, so the caller drops it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vision.detectors.base import Box, Detection
from vision.evidence import draw_box, encode_jpeg
from vision.incident import Incident
from vision.spot_look import unchanged

CHECK_BAR = 0.6  # a check's score bar: this share of the incident threshold of the label
DEFAULT_THRESHOLD = 0.35  # the detector's default incident threshold (vision.config)
MIN_IOU = 0.1  # a detection overlapping the region this much matches, wherever it stands
PRESENT_SHARE = 0.5  # "present": matched at the incident's bar in this share of the last hold_s's frames
# Counting checks (crowds): a frame is empty only below this share of min_count. A detector
# that misses a few of nine people must not make a crowd "gone"; in between, frames are
# neither empty nor a sighting (they break an absence run, and do not count as present).
EMPTY_SHARE = 0.5
FRAMES_SHARE = 0.5  # "cleared": at least this share of the frames fps × hold_s promises
PAD_SHARE = 0.3  # region padding: this share of the box's size on each side...
PAD_MIN_PX = 16.0  # ...and at least this many pixels

LYING_MIN_RATIO = 0.8  # fallen person: a person box at least this wide for its height (the rule: 1.2)
# Rules whose problem stands still by definition (a parked car, a person lying): a detection
# of a track that is moving (it shifted within the last 2 s) is a passer-by, not the problem.
# Not crowds or fire: people in a crowd shuffle, flames and smoke flicker.
STATIONARY_RULES = frozenset({"illegal_parking", "fire_lane", "fallen_person"})
# What the object of each rule is, when the incident's own label is not a detector class.
RULE_LABELS: dict[str, frozenset[str]] = {
    "crowding": frozenset({"person"}),
    "fire": frozenset({"fire", "smoke"}),  # smoke outlives flames: the fire is out when both are gone
    "smoke": frozenset({"fire", "smoke"}),
    "fallen_person": frozenset({"person"}),
}

# Rules whose problem is people coming and going: the look of a crowd's box is no witness of
# the spot (a dispersed crowd's place crossed by others may look alike), so no look is compared.
NO_LOOK_RULES = frozenset({"crowding"})

Outcome = Literal["cleared", "present", "unsure"]


@dataclass(frozen=True, slots=True)
class CheckRequest:
    id: str  # the verification id (also names its evidence files)
    camera_id: str
    region: Box  # source pixels: where the problem was (incident box, padded: `padded`)
    labels: frozenset[str]  # what caused it (product labels, e.g. {"stall"})
    min_count: int = 1  # present when at least this many match (crowding: the rule's count)
    hold_s: float = 60.0  # cleared when nothing matches for this long
    timeout_s: float = 300.0  # then: unsure
    purpose: Literal["verify", "watch"] = "verify"  # watch: an open case; report only "cleared"
    every_s: float = 0.0  # look at most this often (watch checks: e.g. 2 s, to spare the detector)
    zone: str = ""  # the rule's zone name (for the explanation)
    preset: str | None = None  # PTZ preset to move to first (carried, not acted on here)
    rule: str = ""  # the rule that raised it: fallen_person looks for lying people; see STATIONARY_RULES
    # How the problem's own box looked when it was raised (vision/spot_look.py), on this camera's
    # view: a frame where it still looks so is no evidence of absence. None: not compared.
    look: np.ndarray | None = field(default=None, compare=False, repr=False)
    look_box: Box | None = None

    def __post_init__(self) -> None:
        x1, y1, x2, y2 = self.region
        if not (x2 > x1 and y2 > y1):
            raise ValueError(f"check {self.id}: empty region {self.region}")
        if not self.labels:
            raise ValueError(f"check {self.id}: no labels to look for")
        if self.min_count < 1 or self.hold_s <= 0 or self.timeout_s <= 0 or self.every_s < 0:
            raise ValueError(f"check {self.id}: min_count ≥ 1, hold_s > 0, timeout_s > 0 and every_s ≥ 0")
        if (self.look is None) != (self.look_box is None):
            raise ValueError(f"check {self.id}: a look needs its box, and a look box its look")


@dataclass(frozen=True, slots=True)
class Verdict:
    request: CheckRequest
    outcome: Outcome
    ts: float  # wall clock of the deciding frame
    looked_s: float  # from the first examined frame to the decision
    absent_s: float  # the absence run that decided (0 for present)
    frames: int  # frames examined
    present_frames: int
    best_score: float  # the strongest matching detection seen (0 if none)
    snapshot_jpeg: bytes = field(repr=False)  # the deciding frame with the region and matching boxes drawn
    unchanged_frames: int = 0  # frames with no match whose spot still looked as when raised


def padded(box: Box, share: float = PAD_SHARE, min_px: float = PAD_MIN_PX) -> Box:
    """An incident's box grown on each side by `share` of its size (at least `min_px`): a
    stall packed up and set down a metre away is still the same stall."""
    x1, y1, x2, y2 = box
    dx, dy = max((x2 - x1) * share, min_px), max((y2 - y1) * share, min_px)
    return (x1 - dx, max(0.0, y1 - dy), x2 + dx, y2 + dy)


def labels_for(rule: str, label: str) -> frozenset[str]:
    """The detector labels that mean an incident's problem is still there."""
    return RULE_LABELS.get(rule, frozenset({label}))


def request_for(
    incident: Incident,
    check_id: str,
    min_count: int = 1,
    hold_s: float = 60.0,
    timeout_s: float = 300.0,
    purpose: Literal["verify", "watch"] = "verify",
    every_s: float = 0.0,
    preset: str | None = None,
    look: tuple[np.ndarray, Box] | None = None,
) -> CheckRequest:
    """A check of an incident's problem: its padded box and its rule's labels (crowding: pass
    the rule's count as min_count); `look`: its box's look when raised and the box it was
    taken over (vision/spot_look.raised_look), if kept."""
    return CheckRequest(
        id=check_id, camera_id=incident.camera_id, region=padded(incident.box),
        labels=labels_for(incident.rule, incident.label), min_count=min_count, hold_s=hold_s,
        timeout_s=timeout_s, purpose=purpose, every_s=every_s, zone=incident.zone, preset=preset, rule=incident.rule,
        look=look[0] if look else None, look_box=look[1] if look else None,
    )  # fmt: skip


def overlaps(box: Box, region: Box, min_iou: float = MIN_IOU) -> bool:
    """Does a detection belong to the region: its footprint (bottom centre) inside, or IoU ≥ min_iou?"""
    cx, bottom = (box[0] + box[2]) / 2, box[3]
    if region[0] <= cx <= region[2] and region[1] <= bottom <= region[3]:
        return True
    ix = max(0.0, min(box[2], region[2]) - max(box[0], region[0]))
    iy = max(0.0, min(box[3], region[3]) - max(box[1], region[1]))
    inter = ix * iy
    union = (box[2] - box[0]) * (box[3] - box[1]) + (region[2] - region[0]) * (region[3] - region[1]) - inter
    return union > 0 and inter / union >= min_iou


def check_bars(labels: frozenset[str], incident_threshold: Mapping[str, float]) -> dict[str, float]:
    """The check's score bar per label: CHECK_BAR × the incident threshold (by label, else
    `default`, else DEFAULT_THRESHOLD)."""
    default = incident_threshold.get("default", DEFAULT_THRESHOLD)
    return {label: CHECK_BAR * incident_threshold.get(label, default) for label in labels}


def detector_floor(incident_thresholds: Mapping[str, float]) -> dict[str, float]:
    """The thresholds to give a shared detector so that checks see their lower bar; give each
    camera the incident thresholds (`CameraPipeline.thresholds`) to keep incidents as they were."""
    return {label: CHECK_BAR * value for label, value in incident_thresholds.items()}


class SceneCheck:
    """One check on one camera: fed every frame it is due, it decides once (a Verdict)."""

    def __init__(
        self,
        request: CheckRequest,
        started_ts: float,
        bars: Mapping[str, float] | None = None,
        fps: float = 5.0,
    ) -> None:
        self.request = request
        self.started_ts = started_ts  # the frame clock (monotonic) of the first frame it could see
        self.bars = dict(bars) if bars is not None else check_bars(request.labels, {})
        # Frames a cleared verdict must rest on: half of what the camera (or every_s) promises.
        rate = min(fps, 1.0 / request.every_s) if request.every_s > 0 else fps
        self.min_absent_frames = max(2, math.ceil(FRAMES_SHARE * rate * request.hold_s))
        self.empty_below = max(1, math.ceil(EMPTY_SHARE * request.min_count))
        self.frames = 0
        self.present_frames = 0
        self.best_score = 0.0
        self.unchanged_frames = 0
        self.finished = False  # decided, or a watch check that timed out
        self._first_ts: float | None = None
        self._last_ts: float | None = None
        self._absent_since: float | None = None
        self._absent_frames = 0
        self._recent: deque[tuple[float, bool]] = deque()  # (ts, matched) of the last hold_s

    def due(self, ts: float) -> bool:
        """Should the detector look for this check in a frame at `ts` (every_s sampling)?"""
        return not self.finished and (self._last_ts is None or ts - self._last_ts >= self.request.every_s - 1e-6)

    def matching(self, detections: Sequence[Detection], passing: Sequence[Detection] = ()) -> list[Detection]:
        req = self.request
        lying = req.rule == "fallen_person"
        movers = passing if req.rule in STATIONARY_RULES else ()
        return [
            d
            for d in detections
            if d.label in req.labels
            and d.score >= self.bars.get(d.label, 0.0)
            and overlaps(d.box, req.region)
            and not (lying and d.box[2] - d.box[0] < LYING_MIN_RATIO * (d.box[3] - d.box[1]))
            and d not in movers
        ]

    def update(
        self,
        detections: list[Detection],
        ts: float,
        wall_ts: float,
        image: np.ndarray,
        passing: Sequence[Detection] = (),
    ) -> Verdict | None:
        """One frame's raw detections (source pixels; ts: the frame clock, wall_ts: wall clock);
        `passing`: those of them that belong to moving tracks (see STATIONARY_RULES).
        A verdict once decided; None while looking, for frames not due, and after the end."""
        if not self.due(ts):
            return None
        req = self.request
        self._last_ts = ts
        if self._first_ts is None:
            self._first_ts = ts
        found = self.matching(detections, passing)
        # Two bars: anything at the low bar keeps the case from clearing, but sending the work
        # back to the worker takes what would have raised the incident in the first place.
        strong = [d for d in found if d.score >= self.bars.get(d.label, 0.0) / CHECK_BAR - 1e-6]
        matched = len(strong) >= req.min_count
        self.frames += 1
        if found:
            self.best_score = max(self.best_score, max(d.score for d in found))
        if matched:
            self.present_frames += 1
        # The spot looking as it did when the problem was raised is no absence: it holds back
        # "cleared" (and so ends "unsure" at the timeout: a person decides), never makes one.
        still = len(found) < self.empty_below and unchanged(req.look, image, req.look_box)
        self.unchanged_frames += still
        if len(found) >= self.empty_below or still:
            self._absent_since, self._absent_frames = None, 0
        else:
            if self._absent_since is None:
                self._absent_since = ts
            self._absent_frames += 1
        self._recent.append((ts, matched))
        while self._recent and ts - self._recent[0][0] > req.hold_s:
            self._recent.popleft()
        outcome = self._decide(ts)
        if outcome is None:
            return None
        self.finished = True
        if outcome == "unsure" and req.purpose == "watch":
            return None  # a watch check only ever reports "cleared"; its caller drops it
        return Verdict(
            request=req, outcome=outcome, ts=wall_ts, looked_s=ts - self._first_ts,
            absent_s=0.0 if outcome == "present" else self.absent_s(ts), frames=self.frames,
            present_frames=self.present_frames, best_score=round(self.best_score, 3),
            snapshot_jpeg=self._snapshot(image, outcome, found), unchanged_frames=self.unchanged_frames,
        )  # fmt: skip

    def absent_s(self, ts: float) -> float:
        return 0.0 if self._absent_since is None else ts - self._absent_since

    def _decide(self, ts: float) -> Outcome | None:
        req = self.request
        if self.absent_s(ts) >= req.hold_s and self._absent_frames >= self.min_absent_frames:
            return "cleared"
        looked = ts - (self._first_ts if self._first_ts is not None else ts)
        if req.purpose == "verify" and looked >= req.hold_s and self._recent:
            share = sum(m for _, m in self._recent) / len(self._recent)
            if share >= PRESENT_SHARE:
                return "present"
        if ts - self.started_ts >= req.timeout_s:
            return "unsure"
        return None

    def _snapshot(self, image: np.ndarray, outcome: Outcome, found: list[Detection]) -> bytes:
        canvas = image.copy()
        colour = {"cleared": (80, 200, 80), "present": (0, 0, 255), "unsure": (0, 200, 255)}[outcome]
        draw_box(canvas, self.request.region, f"{outcome} {self.request.zone}".strip(), colour=colour)
        for d in found:
            draw_box(canvas, d.box, f"{d.label} {d.score:.2f}", colour=(0, 0, 255))
        return encode_jpeg(canvas, 85)
