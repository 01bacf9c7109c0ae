"""Video verification (视频核查): a camera re-checks the scene of a video case.

When a grid worker reports a video case handled (state `feedback`) and its matter says
`verify: auto|suggest` (dispatch/catalog.py), the camera that raised it, or one whose view
covers the case's point (coverage.py), looks again: the problem's region, its labels, for
the matter's hold. The verdict (vision/verify.py) then, by the matter:
auto + cleared → the case is verified by actor `video`, the fresh frame among its photos;
auto + present → returned to the worker with that frame; unsure → nothing (people check);
suggest → the row waits for an officer (api/verifications.py confirms or rejects).

While a video case is open and before feedback, a `watch` check looks now and then: a
problem gone on its own flags the case `self_resolved`. A new video case near a case of
the same matter closed lately is flagged `recurred`.

Two halves, joined by the bus (topic `verifications`), also in one process:
- `Verifications` (a serve node) follows the cases, stores the rows (store/
  verification_records.py), publishes `verification.requested` / `.cancelled`, and takes
  `verification.decided` / `.clip` in to act on the case.
- `CameraChecks` (camera_checks.py; every process with vision: a serve node, a detection worker) applies
  requests to the pipelines of the cameras it holds (camera_status.Cameras), saves each
  verdict's frame as evidence under data_dir/snapshots/<id>.jpg (retention sweeps it with
  the incidents'), and publishes the verdict; the clip (data_dir/clips/<id>.mp4) follows.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from command_center import i18n
from command_center.camera_checks import CANCELLED, CLIP, DECIDED, REQUESTED, TOPIC, UPDATED
from command_center.coverage import distance_m, plan_check
from command_center.events import Event
from command_center.store.verification_records import AWAITING, VerificationRecords, verification_store
from dispatch.cases import ActorNotAllowed, Case, InvalidTransition, TimelineEntry
from dispatch.dispatcher import CaseNotFound, ConcurrentUpdate
from vision.spot_look import look_to_json, raised_look
from vision.verify import NO_LOOK_RULES

if TYPE_CHECKING:
    from command_center.bus import Bus
    from command_center.camera_status import Cameras
    from command_center.casework import CaseWork
    from command_center.config import Config
    from command_center.store import Store
    from vision.evidence import SnapshotStore

log = logging.getLogger(__name__)
ACTOR = "video"  # names.json actor.video: 视频智能发现
WATCH_STATES = frozenset({"dispatched", "accepted", "in_progress"})
NOTE_ACTION = "video_check"  # a timeline line that changes no state (names.json action.video_check)
NO_VERDICT_GRACE_S = 120.0  # a check with no verdict this long after its timeout: unsure
SWEEP_EVERY_S = 30.0
RECUR_LOOKBACK_DAYS = 30.0  # closed cases created at most this long before the window are looked at
COUNTERS = ("verifications_started", "verifications_decided", "verifications_errors")


def still_due(purpose: str, case_state: str) -> bool:
    """Does a check of this purpose still make sense for a case in this state?"""
    return case_state == "feedback" if purpose == "verify" else case_state in WATCH_STATES


def new_verification_id(now: float | None = None) -> str:
    return f"V{int((now or time.time()) * 1000):013d}-{secrets.token_hex(4)}"


def utc_iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).isoformat()


def explanation(row: dict[str, Any], outcome: str, facts: dict[str, Any]) -> str:
    """The verdict in words people read (zh), as the timeline and the desk show it:
    视频核查：禁停区内60秒未见车辆 / 视频核查：禁摆区内摊档仍在."""
    where = f"{row['zone_name']}内" if row.get("zone_name") else "画面内"
    label = row.get("label_name") or i18n.name("label", row.get("label"))
    if row.get("min_count", 1) > 1:
        label = (
            f"{row['min_count']}人以上聚集"
            if row.get("label") == "person"
            else f"{row['min_count']}个以上{label}"
        )
    if outcome == "cleared":
        return (
            f"视频核查：{where}{round(float(facts.get('absent_s') or row.get('hold_s') or 0))}秒未见{label}"
        )
    if outcome == "present":
        return f"视频核查：{where}{label}仍在"
    if facts.get("unchanged_frames"):  # the detector saw nothing, the picture says otherwise
        return f"视频核查：无法判定（{where}未识别到{label}，但画面与发现时相同，请人工核实）"
    return f"视频核查：无法判定（{round(float(facts.get('looked_s') or 0))}秒内画面不足或看不清）"


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the API and the bus show it (docs/VERIFICATION.md, "API"), without the camera's request."""
    out = {k: v for k, v in row.items() if k != "request"}
    out["awaiting"] = (
        row.get("mode") == "suggest" and row.get("state") in AWAITING and row.get("purpose") == "verify"
    )
    out.setdefault("outcome", None)
    out.setdefault("explanation", None)
    out.setdefault("after_url", None)
    out.setdefault("clip_url", None)
    out.setdefault("case_action", None)
    return out


class Verifications:
    """The serve node's half: cases in, requests out, verdicts in, case actions out."""

    def __init__(self, config: Config, store: Store, bus: Bus, casework: CaseWork, cameras: Cameras,
                 counters: dict[str, int], snapshots: SnapshotStore | None = None) -> None:  # fmt: skip
        self.config = config.verification
        self.snapshots = snapshots  # the incidents' evidence: their boxes' looks go with the checks
        self.records: VerificationRecords = verification_store(store)
        self.store = store
        self.bus = bus
        self.casework = casework
        self.cameras = cameras
        self.counters = counters
        for name in COUNTERS:
            counters.setdefault(name, 0)

    # the bus
    async def run(self, subscription: Any) -> None:
        """Forever: case announcements and verdicts, one at a time (an error is logged, not fatal)."""
        async for event in subscription:
            try:
                await self.handle(event)
            except Exception:
                self.counters["verifications_errors"] += 1
                log.exception("verification: handling %s failed", event.type)

    async def handle(self, event: Event) -> None:
        if event.type in ("case.created", "case.updated") and event.data.get("source") == "video":
            await self.case_changed(event.data, created=event.type == "case.created")
        elif event.type == DECIDED:
            await self.decided(event.data)
        elif event.type == CLIP:
            await self._update(event.data["id"], doc={"clip_url": event.data["clip_url"]})

    async def _publish(self, kind: str, data: dict[str, Any]) -> None:
        await self.bus.publish(Event(TOPIC, kind, data))

    async def announce(self, row: dict[str, Any]) -> None:
        """A row's change, for whoever follows them (the bus topic `verifications`)."""
        await self._publish(UPDATED, view(row))

    async def _update(self, verification_id: str, **changes: Any) -> dict[str, Any] | None:
        row = await asyncio.to_thread(self.records.update_verification, verification_id, **changes)
        if row is not None:
            await self._publish(UPDATED, view(row))
        return row

    # cases → checks
    async def case_changed(self, data: dict[str, Any], created: bool = False) -> None:
        case = Case.from_dict(data)
        if created and self.config.enabled:
            await self.check_recurrence(case)
        rows = await asyncio.to_thread(self.records.verifications_of, case.id)
        checking = [r for r in rows if r["state"] == "checking"]
        state = case.state.value
        for row in checking:  # checks the case has moved past
            if not still_due(row["purpose"], state):
                await self.cancel(row, f"case {state}")
        if not self.config.enabled:
            return
        policy = self._policy(case)
        if policy == "off":
            return
        if state == "feedback" and not self._verified_since_feedback(case, rows):
            await self.start(case, "verify", policy)
        elif state in WATCH_STATES and self.config.watch and not any(r["purpose"] == "watch" for r in rows):
            # One watch per case: once it decided (or was cancelled by feedback) it is not started again.
            await self.start(case, "watch", policy)

    def _policy(self, case: Case) -> str:
        try:
            return str(self.casework.dispatcher.matter_of(case).verify)
        except (KeyError, ValueError):
            return "off"

    @staticmethod
    def _verified_since_feedback(case: Case, rows: list[dict[str, Any]]) -> bool:
        """A verify check already made for the latest feedback (a later announcement of the
        same feedback, an escalation meanwhile, must not start another)."""
        fed = next((e.ts for e in reversed(case.timeline) if e.action == "feedback"), None)
        if fed is None:
            return any(r["purpose"] == "verify" for r in rows)
        return any(r["purpose"] == "verify" and datetime.fromisoformat(r["created_at"]) >= fed for r in rows)

    async def start(self, case: Case, purpose: str, policy: str) -> dict[str, Any] | None:
        """Store a row and ask the camera; None when no camera can see the case."""
        incident = None
        if case.incident_ids:
            incident = await asyncio.to_thread(self.store.get_incident, case.incident_ids[0])
        matter = self.casework.dispatcher.matter_of(case)
        planned = plan_check(self.config, list(self.cameras.config.cameras), (case.lon, case.lat), incident, matter,
                             purpose, self.cameras.config.rules.crowd_count)  # fmt: skip
        if planned is None:
            log.info("verification: no camera sees case %s; people check it", case.id)
            return None
        vid = new_verification_id()
        request = planned | {"id": vid}
        # Only the camera that raised the case may close it on its own: another one (covering
        # the spot) may not see that kind of thing at all, and would call it gone; a person confirms.
        own_camera = incident is not None and incident.get("camera_id") == request["camera_id"]
        if own_camera and incident is not None and incident.get("box") and request["rule"] not in NO_LOOK_RULES:
            # Its view of the spot when raised: a frame that still looks so holds back "cleared".
            found = await asyncio.to_thread(self._raised_look, incident)
            if found is not None:
                request["look"] = look_to_json(found)
        doc = {
            "request": request, "labels": request["labels"], "min_count": request["min_count"],
            "hold_s": request["hold_s"], "timeout_s": request["timeout_s"], "requested_at": time.time(),
            "matter_code": case.matter_code, "grid_code": case.grid_code,
            "rule": (incident or {}).get("rule"), "zone": request["zone"],
            "label": (incident or {}).get("label") or request["labels"][0],
            "zone_name": i18n.name("zone", request["zone"]) if request["zone"] else "",
            "label_name": i18n.name("label", (incident or {}).get("label") or request["labels"][0]),
            "incident_id": (incident or {}).get("id"),
            "before_url": (incident or {}).get("snapshot_url") or case.snapshot_url,
            "camera_name": getattr(self.cameras.config_of(request["camera_id"]), "name", None) or None,
        }  # fmt: skip
        mode = "auto" if purpose == "watch" else policy if own_camera else "suggest"
        row = {"id": vid, "case_id": case.id, "camera_id": request["camera_id"], "purpose": purpose,
               "mode": mode, "state": "checking", "doc": doc, "created_at": utc_iso()}  # fmt: skip
        await asyncio.to_thread(self.records.add_verification, row)
        self.counters["verifications_started"] += 1
        await self._publish(REQUESTED, request | {"requested_at": time.time()})
        stored = await asyncio.to_thread(self.records.get_verification, vid)
        if stored is not None:
            await self._publish(UPDATED, view(stored))
        return stored

    def _raised_look(self, incident: dict[str, Any]) -> tuple[Any, Any] | None:
        """The incident box's look in its evidence snapshot (vision/spot_look.py); None when
        the snapshot is gone (retention) or unreadable: the check then has the detector alone."""
        if self.snapshots is None:
            return None
        try:
            jpeg = self.snapshots.path(str(incident["id"])).read_bytes()
            x1, y1, x2, y2 = (float(v) for v in incident["box"])
        except (OSError, ValueError, TypeError, KeyError):
            return None
        return raised_look(jpeg, (x1, y1, x2, y2))

    async def cancel(self, row: dict[str, Any], why: str) -> None:
        await self._publish(CANCELLED, {"id": row["id"], "camera_id": row["camera_id"]})
        await self._update(row["id"], state="cancelled", doc={"cancelled": why}, decided_at=utc_iso(),
                           expect=("checking",))  # fmt: skip

    # verdicts → cases
    async def decided(self, data: dict[str, Any]) -> None:
        outcome = data["outcome"]
        facts = {k: data.get(k) for k in ("looked_s", "absent_s", "frames", "present_frames", "best_score",
                                          "unchanged_frames")}  # fmt: skip
        row = await asyncio.to_thread(self.records.get_verification, data["id"])
        if row is None or row["state"] != "checking":
            return  # cancelled meanwhile, or a verdict delivered twice
        doc = facts | {
            "outcome": outcome,
            "after_url": data.get("after_url"),
            "explanation": explanation(row, outcome, facts),
        }
        row = await self._update(row["id"], state=outcome, doc=doc, decided_at=utc_iso(data.get("ts")),
                                 decided_by=ACTOR, expect=("checking",))  # fmt: skip
        if row is None:
            return
        self.counters["verifications_decided"] += 1
        if row["purpose"] == "watch":
            if outcome == "cleared":
                await self.self_resolved(row)
        elif row["mode"] == "auto" and outcome in ("cleared", "present"):
            try:
                await self.act_on_case(row, ACTOR, "")
            except (InvalidTransition, ConcurrentUpdate, CaseNotFound, ActorNotAllowed) as exc:
                # The case moved on meanwhile (a person checked it): the row says so, nothing else.
                log.info("verification %s: case %s not acted on: %s", row["id"], row["case_id"], exc)

    async def act_on_case(self, row: dict[str, Any], actor: str, note: str, **expect: Any) -> Case:
        """The verdict applied to the case: verify (cleared) or return (present), the fresh
        frame among its photos. Raises what Dispatcher.step raises when the case moved on."""
        outcome = row.get("outcome") or row["state"]
        action = "verify" if outcome == "cleared" else "return"
        text = " ".join(t for t in (row.get("explanation") or "", note.strip()) if t)
        photos = [row["after_url"]] if row.get("after_url") else []
        try:
            case = await self.casework.act(row["case_id"], action, actor, text, photos=photos, **expect)
        except Exception as exc:
            await self._update(row["id"], doc={"case_action": None, "case_error": str(exc)[:300]})
            raise
        await self._update(row["id"], doc={"case_action": action})
        return case

    async def self_resolved(self, row: dict[str, Any]) -> None:
        """A watch saw the problem go: flag the case, and a timeline line (no state change)."""
        new = await asyncio.to_thread(
            self.records.add_flag, row["case_id"], "self_resolved", {"verification_id": row["id"]}, utc_iso()
        )
        if new:
            note = f"{row.get('explanation') or ''}（问题已自行消失，待网格员到场确认）"
            await self.note_on_case(row["case_id"], note)

    async def note_on_case(self, case_id: str, note: str) -> None:
        dispatcher = self.casework.dispatcher
        for _ in range(3):
            case = await asyncio.to_thread(self.store.get_case, case_id)
            if case is None or not case.is_open:
                return
            now = dispatcher.clock()
            entry = TimelineEntry(now, NOTE_ACTION, ACTOR, case.state, case.state, note)
            noted = replace(case, version=case.version + 1, updated_at=now, timeline=(*case.timeline, entry))
            if await asyncio.to_thread(dispatcher.repo.save_transition, noted, entry):
                await self.casework.publish_case(noted, created=False)
                return
        log.warning("verification: case %s kept changing; its note was not added", case_id)

    async def check_recurrence(self, case: Case) -> None:
        """A new video case where a case of its matter was closed lately: flag `recurred`."""
        cfg = self.config
        now = datetime.now(UTC)
        since = now - timedelta(days=cfg.recur_days + RECUR_LOOKBACK_DAYS)
        near = await asyncio.to_thread(
            self.records.closed_cases_near, case.matter_code, case.lon, case.lat, cfg.recur_radius_m, since
        )
        window = now - timedelta(days=cfg.recur_days)
        found = [
            c for c in near
            if c["id"] != case.id and c["updated_at"] and datetime.fromisoformat(c["updated_at"]) >= window
            and distance_m(c["lon"], c["lat"], case.lon, case.lat) <= cfg.recur_radius_m
        ]  # fmt: skip
        if not found:
            return
        earlier = max(found, key=lambda c: c["updated_at"])
        doc = {
            "earlier_case_id": earlier["id"],
            "distance_m": round(distance_m(earlier["lon"], earlier["lat"], case.lon, case.lat), 1),
        }
        if await asyncio.to_thread(self.records.add_flag, case.id, "recurred", doc, utc_iso()):
            await self.note_on_case(
                case.id, f"视频核查：同一地点{cfg.recur_days:g}天内已结案的同类问题复发（{earlier['id']}）"
            )

    # restarts and lost verdicts
    async def resume(self) -> None:
        """At start: checks left `checking` by a stop are asked for again (or cancelled when
        their case moved on meanwhile)."""
        for row in await asyncio.to_thread(self.records.checking):
            case = await asyncio.to_thread(self.store.get_case, row["case_id"])
            state = case.state.value if case else "gone"
            if not still_due(row["purpose"], state):
                await self.cancel(row, f"case {state}")
                continue
            request = row.get("request")
            if request:
                await self._update(row["id"], doc={"requested_at": time.time()})
                await self._publish(REQUESTED, request | {"requested_at": time.time()})

    async def sweep(self) -> None:
        """Forever: a check whose camera never answered (offline, its worker gone) ends unsure."""
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                await self.sweep_once(time.time())
            except Exception:
                self.counters["verifications_errors"] += 1
                log.exception("verification sweep failed")

    async def sweep_once(self, now: float) -> int:
        ended = 0
        for row in await asyncio.to_thread(self.records.checking):
            due = float(row.get("requested_at") or 0) + float(row.get("timeout_s") or 0) + NO_VERDICT_GRACE_S
            if now < due:
                continue
            await self._publish(CANCELLED, {"id": row["id"], "camera_id": row["camera_id"]})
            words = "视频核查：摄像机未给出结论（离线或不可用），请人工核查"
            if await self._update(row["id"], state="unsure", expect=("checking",), decided_at=utc_iso(now),
                                  decided_by=ACTOR, doc={"outcome": "unsure", "explanation": words}):  # fmt: skip
                ended += 1
        return ended

    # wiring
    def subscribe(self) -> Any:
        return self.bus.subscribe(["cases", TOPIC], "verification")

    async def start_service(self, subscription: Any) -> None:
        await self.resume()
        await self.run(subscription)
