"""Emergency modes: start, tasks and timeline, end; kept in a JSON file under the data dir.

Plan tasks go to people (`assign`): a named member or a team, whose worker ids the task
keeps (`workers`: who receives it on their terminal); a task moves open → assigned →
acked (收到) → done (完成). Who may act on a task is the API's to check (it knows the
caller); here only what the mode allows. The timeline keeps structured entries, never
sentences (emergency/timeline.py writes them in the reader's language).

Several modes may run at once (two emergencies in different districts are common in a
city this size); where their areas overlap a camera takes the most sensitive of their
settings, and ending one leaves the other's in place. Everything a mode changed is
derived from the active modes (see Sensing.apply), so ending restores exactly and a
restart re-applies what was running.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from command_center.emergency.plans import CLASSES, Plan, Plans
from command_center.emergency.sensing import Sensing, Want

log = logging.getLogger(__name__)
RECENT = 50  # ended modes kept for the list and their CAP cancels
EVENT_KEYS = (
    "id", "class", "title", "center", "radius_m", "cameras", "drones", "tasks", "timeline", "started_at", "ended_at",
    "links", "task_assignees",
)  # fmt: skip
BRIEF_KEYS = ("id", "class", "title", "center", "radius_m", "area_name", "started_at", "ended_at")
Camera = tuple[str, float, float]  # id, lon, lat
# Who acts, for the timeline: {"actor": user or worker id, "actor_name", "actor_role", "actor_team"}.
# The page and the handover write each entry as a sentence from these (emergency/timeline.py).
Who = dict[str, Any]
# To whom a task goes: {"kind": "team"|"worker", "id", "name", "team" (a worker's team name),
# "workers": [worker ids who receive it]}.
Assignee = dict[str, Any]
OPEN_STATES = ("open", "assigned", "acked")


class EmergencyError(Exception):
    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine): exact enough for radii of metres to tens of km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(min(1.0, a)))


def links(mode_id: str) -> dict[str, str]:
    """Where a mode's handover and exports are (the end answer and event carry them)."""
    base = f"/api/emergency/{mode_id}"
    return {"handover": f"{base}/handover", "html": f"{base}/handover.html", "zip": f"{base}/export.zip",
            "cap": f"{base}/cap.xml"}  # fmt: skip


def event_view(mode: dict[str, Any], notify: Iterable[str] | None = None) -> dict[str, Any]:
    """The shape of emergency.* events (the wall relies on exactly these keys). The hub
    sends each worker in `task_assignees` their tasks on their own channel (hub_feed).
    `notify` None: the tasks did not change (a note), nobody is sent anything; else every
    worker holding one of the mode's tasks is, and those in `notify` (who just lost one)."""
    view = {key: mode[key] for key in EVENT_KEYS[:-2]}
    view["links"] = links(mode["id"])
    holders = {w for t in mode["tasks"] for w in t.get("workers") or ()}
    view["task_assignees"] = [] if notify is None else sorted(holders | set(notify))
    return view


def worker_tasks(mode: dict[str, Any], worker_id: str, teams: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The tasks of a mode that are `worker_id`'s: named to them, or to a team of theirs."""
    mine = set(teams)
    return [
        t for t in mode["tasks"]
        if worker_id in (t.get("workers") or ()) or ((t.get("assignee") or {}).get("kind") == "team"
                                                     and t["assignee"].get("id") in mine)
    ]  # fmt: skip


def new_task(
    task_id: str, title: str, kind: str, due_min: float, now: datetime, assignee: Assignee | None
) -> dict[str, Any]:
    """A plan task as a mode keeps it: `role` is its kind (交警, 现场处置...), `assignee` the
    member or team it went to, `state` open → assigned → acked → done."""
    return {
        "id": task_id, "title": title, "role": kind, "due_min": due_min,
        "due_at": (now + timedelta(minutes=due_min)).isoformat(),
        "assignee": _public(assignee) if assignee else None,
        "workers": list(assignee["workers"]) if assignee else [],
        "state": "assigned" if assignee else "open",
        "acked_by": None, "acked_by_name": None, "acked_at": None,
        "done": False, "done_by": None, "done_by_name": None, "done_at": None, "note": "",
    }  # fmt: skip


def _public(assignee: Assignee) -> dict[str, Any]:
    """An assignee as the task and the timeline show it (without its workers list)."""
    return {k: assignee.get(k) for k in ("kind", "id", "name", "team")}


def brief(mode: dict[str, Any]) -> dict[str, Any]:
    """What a worker's terminal needs of the mode around their task."""
    return {key: mode.get(key) for key in BRIEF_KEYS}


class EmergencyModes:
    def __init__(
        self,
        path: Path,
        plans: Plans,
        sensing: Sensing,
        configured: dict[str, float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.plans = plans
        self.sensing = sensing
        self._configured = configured  # the detector's thresholds, which plans lower
        self._clock = clock
        # Reentrant: changes hold it while they re-derive sensing from the active modes.
        self._lock = threading.RLock()
        self.modes: dict[str, dict[str, Any]] = self._load()
        self.sensing.apply(self._wants())  # after a restart: sense as the running modes want

    # queries
    # Queries and changes answer with copies: the API serialises them on the event loop
    # while a worker thread may be changing the same mode.
    def get(self, mode_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._get(mode_id))

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy([m for m in self.modes.values() if m["ended_at"] is None])

    def listing(self) -> list[dict[str, Any]]:
        """Active modes first, then the recently ended, newest first within each."""
        with self._lock:
            ordered = sorted(self.modes.values(), key=lambda m: (m["ended_at"] is None, m["started_at"]), reverse=True)
            return copy.deepcopy(ordered)

    # changes
    def start(
        self,
        cls: str,
        title: str,
        center: tuple[float, float],
        cameras: list[Camera],
        drones: list[str],
        actor: str,
        incident_id: str | None = None,
        grid_code: str | None = None,
        area_name: str | None = None,
        *,
        plan: Plan | None = None,
        assignees: list[Assignee | None] | None = None,
        who: Who | None = None,
    ) -> dict[str, Any]:
        """`plan`: the class's plan as admins set it (else the configured one); `assignees`:
        to whom each of its tasks goes, in order (None: nobody yet)."""
        if cls not in CLASSES:
            raise EmergencyError(400, "unknown emergency class", {"class": cls, "known": list(CLASSES)})
        plan = plan or self.plans.get(cls)
        lon, lat = center
        near = sorted(
            (distance_m(lon, lat, c_lon, c_lat), cam) for cam, c_lon, c_lat in cameras
            if distance_m(lon, lat, c_lon, c_lat) <= plan.radius_m
        )  # fmt: skip
        lowered = plan.lowered(self._configured)
        now = self._now()
        mode_id = f"em-{now:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
        given = list(assignees or [])
        mode: dict[str, Any] = {
            "id": mode_id,
            "class": cls,
            "title": title,
            "center": {"lon": lon, "lat": lat},
            "radius_m": plan.radius_m,
            "cameras": [cam for _, cam in near],
            "drones": list(drones) if plan.pin_drones else [],
            "tasks": [
                new_task(f"t{i}", t.title, t.role, t.due_min, now, given[i - 1] if i <= len(given) else None)
                for i, t in enumerate(plan.tasks, 1)
            ],
            "timeline": [],
            "started_at": now.isoformat(),
            "ended_at": None,
            "plan": plan.name,
            "plan_doc": plan.model_dump(mode="json"),  # its CAP fields, as they were at the start
            "incident_id": incident_id,
            "grid_code": grid_code,
            "area_name": area_name,
            "started_by": actor,
            # What this mode asks of each camera; kept so a restart re-applies the same.
            "sensing": {cam: {"fps": plan.detect_fps, "thresholds": lowered} for _, cam in near},
        }
        self._log(mode, who or {"actor": actor}, "start", "", plan=plan.name, cameras=len(near), radius_m=plan.radius_m)
        with self._lock:
            self.modes[mode_id] = mode
            self._trim()
            self.sensing.apply(self._wants())
            self._save()
            return copy.deepcopy(mode)

    def assign(self, mode_id: str, task_id: str, assignee: Assignee, who: Who) -> tuple[dict[str, Any], list[str]]:
        """Give a task to a member or a team: (the mode, the workers who no longer have it)."""
        with self._lock:
            mode = self._running(mode_id)
            task = self._task(mode, task_id)
            if task["done"]:
                raise EmergencyError(409, "task is already done", {"done_by": task["done_by"], "done_at": task["done_at"]})
            before = set(task.get("workers") or ())
            task.update(assignee=_public(assignee), workers=list(assignee["workers"]), state="assigned",
                        acked_by=None, acked_by_name=None, acked_at=None)  # fmt: skip
            self._log(mode, who, "task.assign", "", task=task_id, task_title=task["title"], target=_public(assignee))
            self._save()
            return copy.deepcopy(mode), sorted(before - set(assignee["workers"]))

    def ack(self, mode_id: str, task_id: str, who: Who) -> dict[str, Any]:
        """收到: the assignee has the task in hand."""
        with self._lock:
            mode = self._running(mode_id)
            task = self._task(mode, task_id)
            state = task.get("state", "done" if task["done"] else "open")  # a mode kept from before states
            if state not in ("open", "assigned"):
                raise EmergencyError(409, "task is already acknowledged or done",
                                     {"state": state, "by": task.get("acked_by") or task["done_by"]})  # fmt: skip
            task.update(state="acked", acked_by=who["actor"], acked_by_name=who.get("actor_name"),
                        acked_at=self._now().isoformat())  # fmt: skip
            self._log(mode, who, "task.ack", "", task=task_id, task_title=task["title"])
            self._save()
            return copy.deepcopy(mode)

    def task_done(self, mode_id: str, task_id: str, actor: str, note: str = "", who: Who | None = None) -> dict[str, Any]:
        with self._lock:
            mode = self._running(mode_id)
            task = self._task(mode, task_id)
            if task["done"]:
                raise EmergencyError(409, "task is already done", {"done_by": task["done_by"], "done_at": task["done_at"]})
            who = who or {"actor": actor}
            task.update(done=True, state="done", done_by=actor, done_by_name=who.get("actor_name"),
                        done_at=self._now().isoformat(), note=note)  # fmt: skip
            self._log(mode, who, "task.done", note, task=task_id, task_title=task["title"])
            self._save()
            return copy.deepcopy(mode)

    def note(self, mode_id: str, actor: str, text: str, who: Who | None = None) -> dict[str, Any]:
        with self._lock:
            mode = self._running(mode_id)
            self._log(mode, who or {"actor": actor}, "note", text)
            self._save()
            return copy.deepcopy(mode)

    def end(self, mode_id: str, actor: str, note: str = "", who: Who | None = None) -> dict[str, Any]:
        with self._lock:
            mode = self._running(mode_id)
            mode["ended_at"] = self._now().isoformat()
            mode["ended_by"] = actor
            self._log(mode, who or {"actor": actor}, "end", note)
            self.sensing.apply(self._wants())
            self._save()
            return copy.deepcopy(mode)

    # internals
    def _get(self, mode_id: str) -> dict[str, Any]:
        mode = self.modes.get(mode_id)
        if mode is None:
            raise EmergencyError(404, "emergency mode not found", mode_id)
        return mode

    @staticmethod
    def _task(mode: dict[str, Any], task_id: str) -> dict[str, Any]:
        task = next((t for t in mode["tasks"] if t["id"] == task_id), None)
        if task is None:
            raise EmergencyError(404, "task not found", {"mode": mode["id"], "task": task_id})
        return task

    def _running(self, mode_id: str) -> dict[str, Any]:
        mode = self._get(mode_id)
        if mode["ended_at"] is not None:
            raise EmergencyError(409, "emergency mode has ended", {"id": mode_id, "ended_at": mode["ended_at"]})
        return mode

    def _wants(self) -> dict[str, Want]:
        return Sensing.merge(
            [
                {cam: Want(float(w["fps"]), dict(w["thresholds"])) for cam, w in mode["sensing"].items()}
                for mode in self.modes.values()
                if mode["ended_at"] is None
            ]
        )

    def _log(self, mode: dict[str, Any], who: Who, action: str, text: str, **about: Any) -> None:
        """A structured entry (who, what, about which task): the page and the handover write
        it as a sentence in the reader's language (emergency/timeline.py)."""
        entry = {"ts": self._now().isoformat(), **who, "action": action, "text": text, **about}
        mode["timeline"].append(entry)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _trim(self) -> None:
        ended = sorted((m for m in self.modes.values() if m["ended_at"]), key=lambda m: m["ended_at"])
        for mode in ended[: max(0, len(ended) - RECENT)]:
            del self.modes[mode["id"]]

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {m["id"]: m for m in data.get("modes", [])}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Start without them rather than not at all; the file is kept for a person to read.
            aside = self.path.with_suffix(".corrupt")
            os.replace(self.path, aside)
            log.error("emergency modes in %s unreadable (%s); moved to %s", self.path, exc, aside)
            return {}

    def _save(self) -> None:
        """Write-then-rename with fsync: a crash leaves the old file or the new one, never half."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump({"modes": list(self.modes.values())}, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
