"""The retention sweep: personal data is deleted once it is older than its setting.

One pass every `retention.every_s`: snapshots and clips (by age, then the size cap), the
blurred copies made for other roles, citizen photos (uploads/), case photos (photos/),
field photos no record took (field_photos/, rows and files), citizen report rows with their photos,
citizens' report media (uploads/media/: the files past uploads_days, their rows marked swept in
the same pass; a deleted report's rows with it), and client addresses in the audit log. Each part
has its own setting in the `retention:` section (days; 0 keeps forever).

The sweep never stops for good: a file vanishing between listing and stat (a clip's
`.part.mp4` renamed into place), a permission error or a store error is logged and
counted in the shared counters (Jobs.counters, shown by /api/health), and the rest of the pass and the next
pass go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from command_center.config import Config
from command_center.store.field_photo_records import field_photo_store
from command_center.store.report_media_records import report_media_store
from command_center.store.resident_records import iso
from vision.clips import enforce_retention, evidence_files, remove_file

if TYPE_CHECKING:
    from command_center.jobs import Jobs

log = logging.getLogger(__name__)
DAY = 86400.0
COUNTERS = ("retention_sweeps", "retention_files_removed", "retention_reports_removed",
            "retention_media_removed", "retention_audit_ips_scrubbed", "retention_errors")  # fmt: skip
BLURRED = "blurred"  # under data_dir: blurred copies of evidence (vision/privacy.py's cache)
FIELD_PHOTOS = "field_photos"  # under data_dir: photos of the rounds (api/field_photos.py), <grid>/<id>.jpg
# A field photo no record (check-in, visit, door plate) took within this many days: the form
# that took it was never sent, or sent without it. Its row and file are deleted.
UNUSED_FIELD_PHOTO_DAYS = 30


@dataclass
class SweepResult:
    files: int = 0
    reports: int = 0
    media: int = 0  # report media rows marked swept (their files deleted) or deleted with their report
    audit_ips: int = 0
    errors: int = 0


def remove_older_than(
    root: Path, max_age_s: float, now: float, on_error: Callable[[Path, OSError], None]
) -> int:
    """Files under root older than max_age_s deleted, then the folders they leave empty."""
    removed = 0
    for mtime, _size, path in evidence_files(root, on_error):
        if now - mtime <= max_age_s:
            break  # oldest first: the rest are newer
        removed += remove_file(path, on_error)
    if removed:
        with contextlib.suppress(OSError):
            folders = [p for p in root.rglob("*") if p.is_dir()]
            for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):  # deepest first
                with contextlib.suppress(OSError):  # not empty, or gone meanwhile: both fine
                    folder.rmdir()
    return removed


class Retention:
    """The sweep for one process. `files_only` for a detection worker, which holds evidence
    but no store of its own to sweep."""

    def __init__(
        self, config: Config, store: Any, counters: dict[str, int], files_only: bool = False
    ) -> None:
        self.config = config
        self.store = store
        self.counters = counters
        self.files_only = files_only
        for name in COUNTERS:
            counters.setdefault(name, 0)

    def register(self, jobs: Jobs) -> None:
        """Every node sweeps: each holds its own evidence files."""
        jobs.add("retention", self.run)

    async def run(self) -> None:
        """Forever: a sweep, then a pause. Nothing a sweep raises ends the loop."""
        while True:
            try:
                await asyncio.to_thread(self.sweep, time.time())
            except Exception:  # a bug in a part we did not guard: still sweep next time
                self.counters["retention_errors"] += 1
                log.exception("retention sweep failed")
            await asyncio.sleep(self.config.retention.every_s)

    def sweep(self, now: float) -> SweepResult:
        """One pass over every kind of data (blocking: run it on a worker thread)."""
        result = SweepResult()

        def on_error(path: Path, exc: OSError) -> None:
            result.errors += 1
            log.warning("retention: cannot remove %s: %s", path, exc)

        if not self.files_only:  # before the files by age: a media file goes with its row's mark
            self._media(now, result, on_error)
        self._files(now, result, on_error)
        if not self.files_only:
            self._reports(now, result, on_error)
            self._field_photos(now, result, on_error)
            self._audit(now, result)
        self.counters["retention_sweeps"] += 1
        self.counters["retention_files_removed"] += result.files
        self.counters["retention_reports_removed"] += result.reports
        self.counters["retention_media_removed"] += result.media
        self.counters["retention_audit_ips_scrubbed"] += result.audit_ips
        self.counters["retention_errors"] += result.errors
        return result

    def _files(self, now: float, result: SweepResult, on_error: Callable[[Path, OSError], None]) -> None:
        root, evidence, keep = self.config.server.data_dir, self.config.evidence, self.config.retention
        max_age = evidence.max_age_days * DAY
        for name in ("snapshots", "clips"):  # the size cap is shared between the two
            result.files += enforce_retention(
                root / name, max_age, int(evidence.max_gb * 1e9 / 2), now, on_error
            )
        result.files += remove_older_than(root / BLURRED, max_age, now, on_error)
        for name, days in (("uploads", keep.uploads_days), ("photos", keep.photos_days)):
            if days > 0:
                result.files += remove_older_than(root / name, days * DAY, now, on_error)

    def _reports(self, now: float, result: SweepResult, on_error: Callable[[Path, OSError], None]) -> None:
        days = self.config.retention.reports_days
        if days <= 0:
            return
        try:
            ids = self.store.delete_reports_before(_iso(now - days * DAY))
        except Exception as exc:
            result.errors += 1
            log.warning("retention: deleting old reports failed: %s", exc)
            return
        result.reports += len(ids)
        uploads = self.config.server.data_dir / "uploads"
        for report_id in ids:
            if report_id.replace("-", "").isalnum():  # never a path out of uploads/
                result.files += remove_file(uploads / f"{report_id}.jpg", on_error)
                result.files += remove_older_than(uploads / "media" / report_id, -1.0, now, on_error)
                with contextlib.suppress(OSError):
                    (uploads / "media" / report_id).rmdir()
        try:
            result.media += report_media_store(self.store).forget_reports(ids)
        except Exception as exc:
            result.errors += 1
            log.warning("retention: deleting the media rows of old reports failed: %s", exc)

    def _media(self, now: float, result: SweepResult, on_error: Callable[[Path, OSError], None]) -> None:
        """Citizens' report media past uploads_days: the rows marked swept (已按规定删除 on the
        case), then their files deleted; a file already gone is no error."""
        days = self.config.retention.uploads_days
        if days <= 0:
            return
        cutoff = datetime.fromtimestamp(now - days * DAY, UTC)
        try:
            swept = report_media_store(self.store).sweep_before(iso(cutoff), iso(datetime.fromtimestamp(now, UTC)))
        except Exception as exc:
            result.errors += 1
            log.warning("retention: marking old report media failed: %s", exc)
            return
        result.media += len(swept)
        root = self.config.server.data_dir / "uploads" / "media"
        for report_id, name in swept:
            path = root / report_id / name
            if path.parent.parent == root and path.name == name:  # never a path out of media/
                result.files += remove_file(path, on_error)

    def _audit(self, now: float, result: SweepResult) -> None:
        days = self.config.retention.audit_ip_days
        if days <= 0:
            return
        try:
            result.audit_ips += self.store.scrub_audit_ips_before(_iso(now - days * DAY))
        except Exception as exc:
            result.errors += 1
            log.warning("retention: blanking old audit addresses failed: %s", exc)

    def _field_photos(
        self, now: float, result: SweepResult, on_error: Callable[[Path, OSError], None]
    ) -> None:
        """Unused field photos past UNUSED_FIELD_PHOTO_DAYS: the row first (only while still
        unused: a record may take the photo meanwhile), then its file."""
        try:
            records = field_photo_store(self.store)
            old = records.unused_before(datetime.fromtimestamp(now - UNUSED_FIELD_PHOTO_DAYS * DAY, UTC))
            gone = [(i, grid) for i, grid in old if records.delete_unused(i)]
        except Exception as exc:
            result.errors += 1
            log.warning("retention: deleting unused field photos failed: %s", exc)
            return
        root = self.config.server.data_dir / FIELD_PHOTOS
        for photo_id, grid in gone:
            if photo_id.isalnum() and grid.isalnum():  # never a path out of field_photos/
                result.files += remove_file(root / grid / f"{photo_id}.jpg", on_error)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
