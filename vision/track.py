"""A small IoU tracker: stable ids for objects across frames.

Greedy matching by IoU, with a centre-distance fallback for small, fast objects.
Good enough for the motion detector's blobs; ByteTrack and BoT-SORT (`vision.track_byte`)
replace it behind the same `Tracker` interface when a model detects.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vision.detectors.base import Box, Detection


@dataclass(slots=True)
class Track:
    id: int
    label: str
    score: float
    box: Box
    first_seen: float
    last_seen: float
    hits: int = 1
    # Decaying votes per label: a blob's shape-based label wobbles, and what the object
    # looked like recently should win over what it looked like when it appeared.
    votes: dict[str, float] = field(default_factory=dict)
    moved_at: float = 0.0  # when the box last shifted noticeably; still objects are re-checked less
    # Where the box was when it last moved. Shifts are measured from here, not from the previous
    # frame: a slow walker adds up to a move, while a jittery box around one spot never does.
    anchor: Box | None = None

    def still(self, now: float, after_s: float = 2.0) -> bool:
        return now - max(self.moved_at, self.first_seen) >= after_s

    @property
    def bottom_centre(self) -> tuple[float, float]:
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2, y2)


class Tracker(Protocol):
    """What the pipeline needs from a tracker; rules keep per-track state, so a `Track`
    object stays the same object for as long as its id lives."""

    tracks: dict[int, Track]  # the live ones, including those missed for a few frames

    def update(self, detections: list[Detection], ts: float, image: np.ndarray | None = None) -> list[Track]:
        """The tracks seen in this frame."""
        ...

    def coast(self, keep: list[Track], ts: float) -> None:
        """Keep `keep` alive, where they were, through a frame the detector did not look at them."""
        ...


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (N×4) with every box in `b` (M×4), as N×M."""
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _centre_close(a: Box, b: Box) -> bool:
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    reach = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]) / 2
    return abs(ax - bx) <= reach and abs(ay - by) <= reach


VOTE_DECAY = 0.85


def _shift(a: Box, b: Box) -> float:
    """How far the centre moved, relative to the box's size."""
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    size = max(a[2] - a[0], a[3] - a[1], 1.0)
    return max(abs(ax - bx), abs(ay - by)) / size


def coast_by(keep: list[Track], ts: float, last_ts: float | None) -> None:
    """Move each track's `last_seen` forward by the frame gap (it was not looked at, so it
    was neither seen nor missed). Renewing it to `ts` instead would keep a vanished still
    object alive for ever: it is only looked at every N frames, and coasted in between."""
    step = ts - last_ts if last_ts is not None else 0.0
    for track in keep:
        track.last_seen = min(ts, track.last_seen + max(step, 0.0))


def start_track(track_id: int, det: Detection, ts: float) -> Track:
    return Track(track_id, det.label, det.score, det.box, ts, ts, votes={det.label: det.score}, moved_at=ts)


def observe(track: Track, det: Detection, ts: float) -> None:
    """Fold a matched detection into a track: box, score, label votes and when it last moved.

    Shared by every tracker, so rules see the same label and stillness semantics whichever
    one assigns the ids."""
    if _shift(track.anchor or track.box, det.box) > 0.15:
        track.moved_at = ts
        track.anchor = det.box
    track.box = det.box
    track.score = max(det.score, track.score * 0.9)
    track.last_seen = ts
    track.hits += 1
    for label in track.votes:
        track.votes[label] *= VOTE_DECAY
    track.votes[det.label] = track.votes.get(det.label, 0.0) + det.score
    track.label = max(track.votes, key=track.votes.__getitem__)


class IoUTracker:
    def __init__(self, max_gap_s: float = 2.0, min_iou: float = 0.25) -> None:
        self.max_gap_s = max_gap_s
        self.min_iou = min_iou
        self.tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)
        self._last_ts: float | None = None

    def update(self, detections: list[Detection], ts: float, image: np.ndarray | None = None) -> list[Track]:
        """Match detections to tracks; returns the tracks seen in this frame. `image` is unused here."""
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        tids = list(self.tracks)
        if tids and detections:
            scores = iou_matrix(
                np.array([self.tracks[t].box for t in tids], np.float64), np.array([d.box for d in detections], np.float64)
            )
            # Greedy, best overlap first; stop once either side is used up.
            for flat in np.argsort(-scores, axis=None, kind="stable"):
                row, i = divmod(int(flat), len(detections))
                tid = tids[row]
                if tid in used_tracks or i in used_dets:
                    continue
                # Without overlap only a close detection of the same label continues a track: a
                # car passing over a manhole must not carry the manhole's track off with it.
                if scores[row, i] < self.min_iou and not (
                    self.tracks[tid].label == detections[i].label
                    and _centre_close(self.tracks[tid].box, detections[i].box)
                ):
                    continue
                observe(self.tracks[tid], detections[i], ts)
                used_tracks.add(tid)
                used_dets.add(i)
                if len(used_tracks) == len(tids) or len(used_dets) == len(detections):
                    break
        for i, det in enumerate(detections):
            if i not in used_dets:
                track = start_track(next(self._ids), det, ts)
                self.tracks[track.id] = track
                used_tracks.add(track.id)
        for tid in [tid for tid, t in self.tracks.items() if ts - t.last_seen > self.max_gap_s]:
            del self.tracks[tid]
        self._last_ts = ts
        return [self.tracks[tid] for tid in used_tracks if tid in self.tracks]

    def coast(self, keep: list[Track], ts: float) -> None:
        """Carry tracks through a frame the detector did not look at them: the time is not
        counted toward their gap, so a track lasts `max_gap_s` of looking without finding it."""
        coast_by(keep, ts, self._last_ts)
