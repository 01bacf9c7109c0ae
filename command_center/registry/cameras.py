"""The registry's cameras: imported from a CSV or changed in the console, kept in the store,
and applied live to the cameras this process runs.

What runs is the *effective* set: the configuration's cameras overlaid by the stored ones
by id (a stored camera replaces a configured one of its id; a tombstone removes it), then
the stored ones the configuration lacks. Each node re-reads it when the "cameras" part of
the registry moves (registry/changes.py) and `CameraApplier` brings what runs in line:
a new camera starts, one whose source changed restarts (a fresh runner and pipeline), one
whose zones, rules, thresholds or place changed gets a new pipeline over the running
source, a removed one stops.

With sharding (detection workers holding cameras by leases, command_center/worker.py) a
serve node follows the set the same way but watches none; each worker follows it too and
hands its new camera list to its lease manager: an added camera is claimed by some
worker at the next scan, a removed one is stopped and its lease released.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from command_center.config import CameraConfig, Config
from command_center.importing.cameras import CameraEntry, read_cameras
from command_center.importing.problems import Problem
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult

if TYPE_CHECKING:
    from command_center.camera_status import Cameras
    from command_center.store import Store

log = logging.getLogger(__name__)
# Fields a running source does not depend on: a change to only these rebuilds the pipeline.
PIPELINE_ONLY = frozenset(
    {"name", "zones", "thresholds", "heading", "fov_deg", "range_m", "grid_code", "location", "models", "group"}
)
Locate = Callable[[float, float], str | None]  # (lon, lat) → the grid code there


def effective_cameras(configured: Sequence[CameraConfig], records: Sequence[dict[str, Any]]) -> list[CameraConfig]:
    """The configuration's cameras overlaid by the stored ones by id, minus tombstones."""
    stored: dict[str, CameraConfig | None] = {}
    for record in records:
        if record["deleted"]:
            stored[record["id"]] = None
            continue
        try:
            stored[record["id"]] = CameraConfig.model_validate(record["doc"])
        except ValidationError as exc:  # written by an older version, say: keep what was there
            log.error("stored camera %s no longer validates, left out: %s", record["id"], exc)
    out: list[CameraConfig] = []
    for cam in configured:
        if cam.id not in stored:
            out.append(cam)
        elif (replaced := stored.pop(cam.id)) is not None:
            out.append(replaced)
    out.extend(cam for cam in stored.values() if cam is not None)
    return out


def boot_cameras(config: Config, store: Store) -> list[CameraConfig]:
    """At start: config.cameras becomes the effective set; the configured ones are returned
    (what later changes overlay)."""
    configured = list(config.cameras)
    config.cameras[:] = effective_cameras(configured, store.list_camera_records())
    return configured


def needs_restart(running: CameraConfig, wanted: CameraConfig) -> bool:
    """Does the change reach the source (a reconnect), or only the pipeline?"""
    keep = set(CameraConfig.model_fields) - PIPELINE_ONLY
    return running.model_dump(include=keep) != wanted.model_dump(include=keep)


class CameraApplier:
    """Brings the cameras this process runs in line with the effective set (registry.on)."""

    def __init__(self, store: Store, cameras: Cameras, configured: Sequence[CameraConfig]) -> None:
        self.store = store
        self.cameras = cameras
        self.configured = list(configured)
        # The cameras this applier runs; others (a worker's live phone camera) are left alone.
        self.managed = {c.id for c in cameras.config.cameras}
        # One apply at a time, each reading the store inside: the node's own change and the
        # poll that sees its version may both run, and a slower one's older read must not be
        # applied after a newer one (a removed camera started again).
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            await self._apply()

    async def _apply(self) -> None:
        records = await asyncio.to_thread(self.store.list_camera_records)
        wanted = {c.id: c for c in effective_cameras(self.configured, records)}
        for cam_id in sorted(self.managed - set(wanted)):
            log.info("camera %s removed from the registry: stopping it", cam_id)
            await self.cameras.remove_camera(cam_id)
        for cam in wanted.values():
            running = self.cameras.config_of(cam.id)
            if running is None or needs_restart(running, cam):
                await self.cameras.put_camera(cam)
            elif running != cam:
                self.cameras.rebuild_pipeline(cam)
        self.managed = set(wanted)


def filed_under(cam: CameraConfig, locate: Locate) -> str:
    """The grid a camera belongs to: its own, else the one where it stands ("" if none)."""
    return cam.grid_code or locate(cam.location.lon, cam.location.lat) or ""


# importing a cameras file


def import_cameras(path: Path, context: ImportContext, options: ImportOptions) -> ImportResult:
    """Check a cameras CSV/XLSX and apply it in one transaction (registry/imports.py)."""
    from dispatch.city.index import GridIndex

    city = context.city
    result = ImportResult("cameras", path.name, applied=False)
    entries, problems = read_cameras(path, {g.code for g in city.grids}, city.bounds)
    index = GridIndex(city)
    locate: Locate = lambda lon, lat: (found.grid_code if (found := index.locate(lon, lat)) else None)  # noqa: E731
    existing = {c.id: c for c in effective_cameras(context.config.cameras, context.store.list_camera_records())}
    docs: dict[str, dict[str, Any]] = {}
    for entry in entries:
        doc, problem = _merged(entry, existing.get(entry.id), locate, options.district, path.name)
        if problem is not None:
            problems.append(problem)
        elif doc is not None:
            docs[entry.id] = doc
    result.problems = sorted(problems, key=Problem.sort_key)
    if problems and not options.skip_bad:
        return result
    added = sum(1 for i in docs if i not in existing)
    changed = {i: d for i, d in docs.items() if i not in existing or existing[i].model_dump(mode="json") != d}
    result.counts = {
        "added": added, "updated": len(changed) - added, "unchanged": len(docs) - len(changed),
        **({"skipped": len({p.row for p in problems})} if options.skip_bad else {}),
    }  # fmt: skip
    if context.progress is not None:
        context.progress(len(entries), len(entries))
    if options.dry_run or not changed:
        result.applied = bool(changed) and not options.dry_run
        return result
    context.store.upsert_cameras(changed.values(), options.actor)
    result.applied = True
    return result


def _merged(
    entry: CameraEntry, old: CameraConfig | None, locate: Locate, district: str, file: str
) -> tuple[dict[str, Any] | None, Problem | None]:
    """The row over the camera it updates (its zones, thresholds and fps stay), filed under
    its grid (the row's, else where it stands); a problem when outside the district."""
    doc = {**(old.model_dump(mode="json") if old is not None else {}), **entry.config}
    location = entry.config["location"]
    grid = entry.grid_code or locate(location["lon"], location["lat"])
    doc["grid_code"] = grid
    if district:
        if not (grid or "").startswith(district):
            column = "grid_code" if entry.grid_code else "lon"
            return None, Problem(file, entry.row, column, f"camera {entry.id} lies outside your district {district}")
        if old is not None and not filed_under(old, locate).startswith(district):
            return None, Problem(file, entry.row, "id", f"camera {entry.id} exists outside your district {district}")
    try:
        return CameraConfig.model_validate(doc).model_dump(mode="json"), None
    except ValidationError as exc:
        return None, Problem(file, entry.row, None, "; ".join(str(e["msg"]) for e in exc.errors()))
