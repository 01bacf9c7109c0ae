"""Dismissals as feedback: repeated false positives at one place raise that place's bar.

A duty officer's dismissal names a camera, a zone and a label. After `per_raise`
dismissals of the same (camera, zone, label), that zone's score threshold for the
label rises to just above the highest dismissed score (capped), so what was
dismissed would not have fired. Thresholds are kept in a JSON file in the data dir,
visible through the API and surviving restarts.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

MARGIN = 0.01


class FalsePositiveTuner:
    def __init__(self, path: Path, per_raise: int = 3, cap: float = 0.9) -> None:
        self.path = path
        self.per_raise = per_raise
        self.cap = cap
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"dismissed": {}, "thresholds": {}}
        if path.exists():
            self._state = json.loads(path.read_text())

    @staticmethod
    def key(camera_id: str, zone: str, label: str) -> str:
        return f"{camera_id}|{zone}|{label}"

    def dismissed(self, camera_id: str, zone: str, label: str, score: float) -> float | None:
        """Record one false positive; returns the zone's new threshold when it rose."""
        key = self.key(camera_id, zone, label)
        with self._lock:
            scores = self._state["dismissed"].setdefault(key, [])
            scores.append(round(float(score), 4))
            raised = None
            if len(scores) % self.per_raise == 0:
                recent = scores[-self.per_raise :]
                current = self._state["thresholds"].get(key, 0.0)
                proposed = min(self.cap, max(recent) + MARGIN)
                if proposed > current:
                    self._state["thresholds"][key] = round(proposed, 4)
                    raised = self._state["thresholds"][key]
            self._save()
            return raised

    def thresholds(self, camera_id: str) -> dict[tuple[str, str], float]:
        """(zone, label) → minimum score, for one camera."""
        with self._lock:
            out = {}
            for key, value in self._state["thresholds"].items():
                cam, zone, label = key.split("|", 2)
                if cam == camera_id:
                    out[(zone, label)] = value
            return out

    def view(self, camera_id: str) -> list[dict[str, Any]]:
        return [
            {"zone": zone, "label": label, "min_score": score,
             "dismissals": len(self._state["dismissed"].get(self.key(camera_id, zone, label), []))}
            for (zone, label), score in sorted(self.thresholds(camera_id).items())
        ]  # fmt: skip

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._state, indent=1, sort_keys=True))
        tmp.replace(self.path)
