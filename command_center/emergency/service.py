"""Emergency modes: start, tasks and timeline, end; kept in a JSON file under the data dir.

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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from command_center.emergency.plans import CLASSES, Plans
from command_center.emergency.sensing import Sensing, Want

log = logging.getLogger(__name__)
RECENT = 50  # ended modes kept for the list and their CAP cancels
EVENT_KEYS = (
    "id", "class", "title", "center", "radius_m", "cameras", "drones", "tasks", "timeline", "started_at", "ended_at",
)  # fmt: skip
Camera = tuple[str, float, float]  # id, lon, lat


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


def event_view(mode: dict[str, Any]) -> dict[str, Any]:
    """The shape of emergency.* events (the wall relies on exactly these keys)."""
    return {key: mode[key] for key in EVENT_KEYS}


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
    ) -> dict[str, Any]:
        if cls not in CLASSES:
            raise EmergencyError(400, "unknown emergency class", {"class": cls, "known": list(CLASSES)})
        plan = self.plans.get(cls)
        lon, lat = center
        near = sorted(
            (distance_m(lon, lat, c_lon, c_lat), cam) for cam, c_lon, c_lat in cameras
            if distance_m(lon, lat, c_lon, c_lat) <= plan.radius_m
        )  # fmt: skip
        lowered = plan.lowered(self._configured)
        now = self._now()
        mode_id = f"em-{now:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
        mode: dict[str, Any] = {
            "id": mode_id,
            "class": cls,
            "title": title,
            "center": {"lon": lon, "lat": lat},
            "radius_m": plan.radius_m,
            "cameras": [cam for _, cam in near],
            "drones": list(drones) if plan.pin_drones else [],
            "tasks": [
                {
                    "id": f"t{i}", "title": t.title, "role": t.role, "due_min": t.due_min,
                    "due_at": (now + timedelta(minutes=t.due_min)).isoformat(),
                    "done": False, "done_by": None, "done_at": None,
                }
                for i, t in enumerate(plan.tasks, 1)
            ],  # fmt: skip
            "timeline": [],
            "started_at": now.isoformat(),
            "ended_at": None,
            "plan": plan.name,
            "incident_id": incident_id,
            "grid_code": grid_code,
            "area_name": area_name,
            "started_by": actor,
            # What this mode asks of each camera; kept so a restart re-applies the same.
            "sensing": {cam: {"fps": plan.detect_fps, "thresholds": lowered} for _, cam in near},
        }
        self._log(mode, actor, "start", f"{plan.name}: {len(near)} cameras within {plan.radius_m:.0f} m")
        with self._lock:
            self.modes[mode_id] = mode
            self._trim()
            self.sensing.apply(self._wants())
            self._save()
            return copy.deepcopy(mode)

    def task_done(self, mode_id: str, task_id: str, actor: str, note: str = "") -> dict[str, Any]:
        with self._lock:
            mode = self._running(mode_id)
            task = next((t for t in mode["tasks"] if t["id"] == task_id), None)
            if task is None:
                raise EmergencyError(404, "task not found", {"mode": mode_id, "task": task_id})
            if task["done"]:
                raise EmergencyError(409, "task is already done", {"done_by": task["done_by"], "done_at": task["done_at"]})
            task.update(done=True, done_by=actor, done_at=self._now().isoformat())
            self._log(mode, actor, "task.done", f"{task['title']}" + (f": {note}" if note else ""), task_id)
            self._save()
            return copy.deepcopy(mode)

    def note(self, mode_id: str, actor: str, text: str) -> dict[str, Any]:
        with self._lock:
            mode = self._running(mode_id)
            self._log(mode, actor, "note", text)
            self._save()
            return copy.deepcopy(mode)

    def end(self, mode_id: str, actor: str, note: str = "") -> dict[str, Any]:
        with self._lock:
            mode = self._running(mode_id)
            mode["ended_at"] = self._now().isoformat()
            self._log(mode, actor, "end", note or "emergency mode ended; sensing restored")
            self.sensing.apply(self._wants())
            self._save()
            return copy.deepcopy(mode)

    # internals
    def _get(self, mode_id: str) -> dict[str, Any]:
        mode = self.modes.get(mode_id)
        if mode is None:
            raise EmergencyError(404, "emergency mode not found", mode_id)
        return mode

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

    def _log(self, mode: dict[str, Any], actor: str, action: str, text: str, task: str | None = None) -> None:
        entry = {"ts": self._now().isoformat(), "actor": actor, "action": action, "text": text}
        if task is not None:
            entry["task"] = task
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
