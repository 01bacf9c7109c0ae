"""The camera half of video verification (视频核查): on every process with vision (a serve
node, a detection worker), check requests from the bus are applied to the pipelines of the
cameras it holds, a PTZ camera is first sent to its home preset (the view its zones are
drawn for, so the incident's region means the same place), and each verdict's frame is
saved as evidence and the verdict put on the bus for the case half (verification.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from command_center.events import Event

if TYPE_CHECKING:
    from command_center.bus import Bus
    from command_center.camera_status import Cameras
    from vision.evidence import SnapshotStore

log = logging.getLogger(__name__)
TOPIC = "verifications"
REQUESTED, CANCELLED, DECIDED, CLIP, UPDATED = (
    "verification.requested", "verification.cancelled", "verification.decided", "verification.clip", "verification.updated",
)  # fmt: skip


class CameraChecks:
    """Every process with vision: requests from the bus applied to the cameras it holds,
    verdicts saved and put on the bus. A request stays known until its verdict, its
    cancellation or its timeout, and is applied again to a camera this process starts
    holding (a lease moved) or whose pipeline was rebuilt (the registry changed it)."""

    def __init__(
        self, cameras: Cameras, bus: Bus, snapshots: SnapshotStore, counters: dict[str, int]
    ) -> None:
        self.cameras = cameras
        self.bus = bus
        self.snapshots = snapshots
        self.counters = counters
        self.pending: dict[str, tuple[dict[str, Any], float]] = {}  # id → (request, monotonic end)
        self.applied: dict[str, int] = {}  # id → id() of the pipeline that runs it
        self.loop: asyncio.AbstractEventLoop | None = None
        counters.setdefault("verifications_errors", 0)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def subscribe(self) -> Any:
        """Every process sees every request (a fan-out name on a Redis bus: bus/redis_options.py)."""
        return self.bus.subscribe([TOPIC], "camera-checks")

    async def run(self, subscription: Any) -> None:
        async for event in subscription:
            if event.type == REQUESTED:
                request = event.data
                # A request read again long after (a bus replaying its history) is over by now.
                left = (
                    float(request.get("requested_at") or time.time())
                    + float(request["timeout_s"])
                    - time.time()
                )
                if left > 0:
                    self.pending[request["id"]] = (request, time.monotonic() + left + 5.0)
                    self.apply()
            elif event.type == CANCELLED:
                self.forget(event.data["id"], event.data.get("camera_id"))

    async def keep(self, every_s: float = 1.0) -> None:
        """Forever: pending requests applied where they are not running yet."""
        while True:
            await asyncio.sleep(every_s)
            try:
                self.apply()
            except Exception:
                self.counters["verifications_errors"] += 1
                log.exception("camera checks: applying requests failed")

    def apply(self) -> None:
        now = time.monotonic()
        for vid, (request, end) in list(self.pending.items()):
            if now > end:
                self.forget(vid, request["camera_id"])
                continue
            cam_id = request["camera_id"]
            entry = self.cameras.vision.cameras.get(cam_id)
            if cam_id not in self.cameras.watched or entry is None:
                continue
            runner, pipeline, _ = entry
            if self.applied.get(vid) == id(pipeline):
                continue
            check = self._check_request(request, runner)
            if check is None:
                continue  # no frame yet to size a strip by: next time
            self.applied[vid] = id(pipeline)
            if check.preset and self.loop is not None:
                self.loop.run_in_executor(None, self._move_then_check, pipeline, check)
                continue
            with contextlib.suppress(ValueError):  # already running there
                pipeline.add_check(check)

    def _move_then_check(self, pipeline: Any, check: Any) -> None:
        """A PTZ camera goes home first (a thread: ONVIF asks the camera), then looks. One that
        cannot move is not checked at all: pointed elsewhere, it would see the spot empty."""
        try:
            self.cameras.goto_preset(check.camera_id, check.preset)
        except Exception as exc:
            self.counters["verifications_errors"] += 1
            log.warning("verification %s: camera %s could not go to preset %r: %s", check.id, check.camera_id, check.preset, exc)
            return  # the request times out unanswered: the service records it unsure
        with contextlib.suppress(ValueError):  # add_check takes its own lock: safe from here
            pipeline.add_check(check)

    @staticmethod
    def _check_request(request: dict[str, Any], runner: Any) -> Any:
        from vision.spot_look import look_from_json
        from vision.verify import CheckRequest

        look = look_from_json(request.get("look"))  # the spot's look when raised, if it came along
        region = request.get("region")
        if region is None:
            latest = runner.latest
            if latest is None:
                return None
            height, width = latest.image.shape[:2]
            left, right = request["strip"]
            region = [left * width, 0.0, right * width, float(height)]
        return CheckRequest(
            id=request["id"], camera_id=request["camera_id"], region=_box(region),
            labels=frozenset(request["labels"]), min_count=int(request["min_count"]), hold_s=float(request["hold_s"]),
            timeout_s=float(request["timeout_s"]), purpose=request["purpose"], every_s=float(request["every_s"]),
            zone=request.get("zone") or "", rule=request.get("rule") or "", preset=request.get("preset"),
            look=look[0] if look else None, look_box=look[1] if look else None,
        )  # fmt: skip

    def forget(self, vid: str, cam_id: str | None) -> None:
        self.pending.pop(vid, None)
        self.applied.pop(vid, None)
        entry = self.cameras.vision.cameras.get(cam_id or "")
        if entry is not None:
            entry[1].cancel_check(vid)

    # from the vision thread and the clip writer
    def on_verdict(self, verdict: Any) -> None:
        """VisionWorker's on_verdict (the vision thread): on to the event loop."""
        if self.loop is not None:
            asyncio.run_coroutine_threadsafe(self.decided(verdict), self.loop)

    async def decided(self, verdict: Any) -> None:
        request = verdict.request
        self.pending.pop(request.id, None)
        self.applied.pop(request.id, None)
        after_url = None
        try:
            await asyncio.to_thread(self.snapshots.save, request.id, verdict.snapshot_jpeg)
            after_url = f"/api/verifications/{request.id}/after.jpg"
        except Exception:
            self.counters["verifications_errors"] += 1
            log.exception("verification %s: saving its frame failed", request.id)
        data = {
            "id": request.id, "camera_id": request.camera_id, "purpose": request.purpose, "outcome": verdict.outcome,
            "ts": verdict.ts, "looked_s": round(verdict.looked_s, 1), "absent_s": round(verdict.absent_s, 1),
            "frames": verdict.frames, "present_frames": verdict.present_frames, "best_score": verdict.best_score,
            "unchanged_frames": verdict.unchanged_frames, "after_url": after_url,
        }  # fmt: skip
        await self.bus.publish(Event(TOPIC, DECIDED, data))

    def clip_ready(self, verification_id: str) -> None:
        """The clip writer's thread: the verification's clip is encoded."""
        if self.loop is not None:
            data = {"id": verification_id, "clip_url": f"/api/verifications/{verification_id}/clip.mp4"}
            asyncio.run_coroutine_threadsafe(self.bus.publish(Event(TOPIC, CLIP, data)), self.loop)


def _box(raw: Any) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in raw)
    return (x1, y1, x2, y2)
