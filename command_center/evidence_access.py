"""Serving evidence (snapshots, clips, case photos): blurred for roles that do not need
identities, and every view audited.

Officers and admins enforce, so they see originals; the roles in
`privacy.blur_for_roles` (by default grid workers) get faces and plates blurred
(vision/privacy.py). Blurred copies are made on first request and cached under
data_dir/blurred/, which the retention sweep keeps bounded like other evidence. If a
copy cannot be made, the answer is 503, never the original: blurring fails closed.

A view writes an `evidence.view` audit row, at most one per user, item and
`privacy.view_audit_every_s`: the wall loads the same thumbnails again and again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse

from command_center import audit
from command_center.api.errors import ApiError
from command_center.auth.middleware import principal_of
from command_center.config import PrivacyConfig
from command_center.retention import BLURRED
from command_center.store import Store
from vision.privacy import BlurCache, Blurrer

log = logging.getLogger(__name__)
MAX_REMEMBERED = 50_000  # (user, item) pairs kept for the audit dedupe before old ones are dropped


class ViewLog:
    """Which (user, item) was audited when: one row per window, not one per thumbnail load."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def due(self, user: str, item: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            last = self._seen.get((user, item))
            if last is not None and now - last < self.every_s:
                return False
            if len(self._seen) >= MAX_REMEMBERED:
                self._seen = {k: t for k, t in self._seen.items() if now - t < self.every_s}
            self._seen[(user, item)] = now
            return True


class EvidenceAccess:
    def __init__(self, privacy: PrivacyConfig, data_dir: Path) -> None:
        self.blur_roles = frozenset(privacy.blur_for_roles) if privacy.blur else frozenset()
        self.cache = BlurCache(data_dir / BLURRED, Blurrer(faces=privacy.faces, plates=privacy.plates))
        self.views = ViewLog(privacy.view_audit_every_s)

    def blurs_for(self, role: str) -> bool:
        return role in self.blur_roles

    async def serve(
        self, store: Store, request: Request, src: Path, target: str, what: str, media_type: str
    ) -> FileResponse:
        """The file at src (which exists) as this caller may see it; the view audited.

        target: the incident or case id; what: "snapshot", "clip" or "photo <id>"."""
        who = principal_of(request)
        blurred = self.blurs_for(who.role)
        path = src
        if blurred:
            key = f"{what.split()[0]}s/{target}" + (f"/{what.split()[1]}" if " " in what else "")
            make = self.cache.clip if media_type == "video/mp4" else self.cache.image
            try:
                path = await asyncio.to_thread(make, src, key)
            except FileNotFoundError:
                raise ApiError(404, f"{what.split()[0]} not found", target) from None
            except Exception as exc:  # no model, a broken file, ffmpeg missing: never the original instead
                log.warning("blurring %s of %s failed: %s", what, target, exc)
                raise ApiError(503, "this evidence cannot be shown blurred right now", target) from None
        if self.views.due(who.user, f"{target} {what}"):
            await audit.record(
                store, request, who, "evidence.view", target, what + (" (blurred)" if blurred else "")
            )
        # The same URL answers differently by role: no shared cache may keep it.
        headers = {"Cache-Control": "private, max-age=300", "Vary": "Authorization, Cookie"}
        if blurred:
            headers["X-Evidence-Blurred"] = "faces,plates"
        return FileResponse(path, media_type=media_type, headers=headers)
