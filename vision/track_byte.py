"""ByteTrack and BoT-SORT (ultralytics' implementations) behind the `Tracker` interface.

ultralytics' trackers speak numpy arrays and class ids and count time in frames; the
pipeline and rules speak `Detection`s, label strings, seconds and long-lived `Track` objects.
These adapters translate, and fold each match into a `Track` with the same helper as
`IoUTracker`, so label votes, scores and stillness mean the same whichever tracker runs.
BoT-SORT adds camera-motion compensation from the frame itself: use it for drone feeds.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import yaml

from vision.detectors.base import Detection
from vision.track import IoUTracker, Track, Tracker, observe, start_track

TRACKER_KINDS = ("iou", "bytetrack", "botsort")


@dataclass(frozen=True, slots=True)
class _Batch:
    """The slice of ultralytics' `Boxes` that its trackers read: conf, cls, xywh, xyxy,
    len() and boolean-mask indexing."""

    xyxy: np.ndarray  # (N, 4) float32
    conf: np.ndarray  # (N,)
    cls: np.ndarray  # (N,)

    @property
    def xywh(self) -> np.ndarray:
        centre = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        return np.concatenate([centre, self.xyxy[:, 2:] - self.xyxy[:, :2]], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask: np.ndarray) -> _Batch:
        return _Batch(self.xyxy[mask], self.conf[mask], self.cls[mask])


def tracker_defaults(kind: str) -> dict[str, Any]:
    """The installed ultralytics' own defaults (bytetrack.yaml / botsort.yaml)."""
    import ultralytics

    path = Path(ultralytics.__file__).parent / "cfg" / "trackers" / f"{kind}.yaml"
    with path.open(encoding="utf-8") as fh:
        return dict(yaml.safe_load(fh))


def _require_lap() -> None:
    """ultralytics' trackers solve assignments with `lap`; without it they would try to
    pip-install it at run time, which a deployment must never do."""
    if importlib.util.find_spec("lap") is None:
        raise RuntimeError("ByteTrack/BoT-SORT need the 'lap' package (pip install 'lap>=0.5.12')")


class _UltralyticsTracker:
    kind: ClassVar[str]

    def __init__(
        self,
        fps: float = 30.0,
        max_gap_s: float = 2.0,
        *,
        track_high_thresh: float | None = None,
        track_low_thresh: float | None = None,
        new_track_thresh: float | None = None,
        track_buffer: int | None = None,
        match_thresh: float | None = None,
        fuse_score: bool | None = None,
        **extra: Any,
    ) -> None:
        """`track_buffer` is in frames; by default it is `max_gap_s` at `fps`, so a track
        outlives a gap as long (in seconds) as with `IoUTracker`. `extra` sets any other key
        of ultralytics' tracker yaml (e.g. `gmc_method` for BoT-SORT)."""
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        args = tracker_defaults(self.kind)
        given = {
            "track_high_thresh": track_high_thresh,
            "track_low_thresh": track_low_thresh,
            "new_track_thresh": new_track_thresh,
            "match_thresh": match_thresh,
            "fuse_score": fuse_score,
        }
        args.update({k: v for k, v in given.items() if v is not None})
        unknown = set(extra) - set(args)
        if unknown:
            raise ValueError(f"unknown {self.kind} settings: {', '.join(sorted(unknown))}")
        args.update(extra)
        args["track_buffer"] = (
            track_buffer if track_buffer is not None else max(1, math.ceil(max_gap_s * fps))
        )
        self.fps = fps
        self.args = SimpleNamespace(**args)
        self._impl = self._build(self.args)
        from ultralytics.trackers.basetrack import TrackState

        self._removed = TrackState.Removed
        self.tracks: dict[int, Track] = {}
        self._class_ids: dict[str, int] = {}
        self._coasting: set[int] = set()

    def _build(self, args: SimpleNamespace) -> Any:
        raise NotImplementedError

    def update(self, detections: list[Detection], ts: float, image: np.ndarray | None = None) -> list[Track]:
        """Match detections to tracks; returns the tracks seen in this frame. BoT-SORT uses
        `image` to compensate camera motion, and works without it as ByteTrack would."""
        held = self._hold_coasting()
        self._impl.update(self._batch(detections), image)
        seen: list[Track] = []
        for st in self._impl.tracked_stracks:
            # Unconfirmed tracks (one sighting, after the first frame) are not reported yet:
            # that is how ByteTrack keeps one-frame false positives out.
            if not st.is_activated or st.frame_id != self._impl.frame_id:
                continue
            det = detections[int(st.idx)]
            track = self.tracks.get(st.track_id)
            if track is None:
                track = self.tracks[st.track_id] = start_track(st.track_id, det, ts)
            else:
                observe(track, det, ts)
            seen.append(track)
        self._release(held)
        # ultralytics leaves a track it just removed in its lost pool for one more frame, where
        # the next update could match it and bring its id back: an expired track stays expired.
        self._impl.lost_stracks = [st for st in self._impl.lost_stracks if st.state != self._removed]
        live = {st.track_id for st in self._impl.tracked_stracks if st.is_activated}
        live.update(st.track_id for st in self._impl.lost_stracks)
        for tid in [tid for tid in self.tracks if tid not in live]:
            del self.tracks[tid]
        return seen

    def coast(self, keep: list[Track], ts: float) -> None:
        """Keep tracks alive, where they were, through the next update: the detector does not
        look at them, so a missing detection must neither age them nor move them."""
        for track in keep:
            if track.id in self.tracks:
                track.last_seen = ts
                self._coasting.add(track.id)

    def _hold_coasting(self) -> list[tuple[Any, bool]]:
        """Take coasting tracks out of ultralytics' pools for one update: there they would be
        predicted forward, marked lost and, after the buffer, removed."""
        if not self._coasting:
            return []
        impl = self._impl
        held = [(st, True) for st in impl.tracked_stracks if st.track_id in self._coasting]
        held += [(st, False) for st in impl.lost_stracks if st.track_id in self._coasting]
        impl.tracked_stracks = [st for st in impl.tracked_stracks if st.track_id not in self._coasting]
        impl.lost_stracks = [st for st in impl.lost_stracks if st.track_id not in self._coasting]
        self._coasting.clear()
        return held

    def _release(self, held: list[tuple[Any, bool]]) -> None:
        impl = self._impl
        for st, tracked in held:
            st.frame_id = impl.frame_id  # the lost-track buffer counts frames from here
            (impl.tracked_stracks if tracked else impl.lost_stracks).append(st)

    def _batch(self, detections: list[Detection]) -> _Batch:
        if not detections:
            empty = np.zeros((0,), dtype=np.float32)
            return _Batch(np.zeros((0, 4), dtype=np.float32), empty, empty)
        for det in detections:
            self._class_ids.setdefault(det.label, len(self._class_ids))
        return _Batch(
            np.array([d.box for d in detections], dtype=np.float32),
            np.array([d.score for d in detections], dtype=np.float32),
            np.array([self._class_ids[d.label] for d in detections], dtype=np.float32),
        )


class ByteTracker(_UltralyticsTracker):
    """ByteTrack: Kalman-predicted boxes, matched first to confident detections and then to
    weak ones, so an object that the detector scores low for a few frames keeps its id."""

    kind = "bytetrack"

    def _build(self, args: SimpleNamespace) -> Any:
        _require_lap()
        from ultralytics.trackers.byte_tracker import BYTETracker

        return BYTETracker(args)


class BotSortTracker(_UltralyticsTracker):
    """BoT-SORT: ByteTrack plus global motion compensation (`gmc_method`, default
    sparseOptFlow) estimated between consecutive frames: for cameras that move (drones)."""

    kind = "botsort"

    def _build(self, args: SimpleNamespace) -> Any:
        _require_lap()
        from ultralytics.trackers.bot_sort import BOTSORT

        if args.with_reid:
            # Re-identification needs an embedding model: none is shipped, and none is downloaded.
            raise ValueError("botsort: with_reid is not supported (it needs a ReID model)")
        return BOTSORT(args)


def create_tracker(kind: str = "iou", fps: float = 30.0, max_gap_s: float = 2.0, **settings: Any) -> Tracker:
    """A tracker by name (`RulesConfig.tracker`): `iou`, `bytetrack` or `botsort`.
    `settings` go to the ByteTrack/BoT-SORT adapters (thresholds, `track_buffer` in frames)."""
    if kind == "iou":
        if settings:
            raise ValueError(f"the iou tracker takes no settings, got {', '.join(sorted(settings))}")
        return IoUTracker(max_gap_s=max_gap_s)
    if kind == "bytetrack":
        return ByteTracker(fps, max_gap_s, **settings)
    if kind == "botsort":
        return BotSortTracker(fps, max_gap_s, **settings)
    raise ValueError(f"unknown tracker {kind!r}; known: {', '.join(TRACKER_KINDS)}")
