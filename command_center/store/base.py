"""The store Protocol: incidents and cases, durable. Backends: sqlite (default) and postgresql."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from command_center.store.camera_records import CameraStore
from command_center.store.case_query import CaseQuery
from command_center.store.matter_records import MatterStore
from command_center.store.photo_records import PhotoStore
from command_center.store.roster_records import RosterStore
from dispatch.cases import Case, TimelineEntry


class StoreUnavailable(RuntimeError):
    """The store did not answer in time: no pooled connection came free within the bound,
    a connection could not be opened, or a statement went unanswered (a hung server, a
    network that drops packets). The API answers 503 with Retry-After instead of hanging."""

    def __init__(self, detail: str, retry_after_s: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class Store(RosterStore, CameraStore, MatterStore, PhotoStore, Protocol):
    # incidents: plain JSON documents, owned by the composition root
    def add_incident(self, incident: dict[str, Any]) -> None: ...

    def update_incident(self, incident_id: str, **fields: Any) -> dict[str, Any] | None: ...

    def get_incident(self, incident_id: str) -> dict[str, Any] | None: ...

    def list_incidents(
        self,
        limit: int = 50,
        offset: int = 0,
        state: str | None = None,
        grid_prefix: str | None = None,
        camera_id: str | None = None,
    ) -> tuple[list[dict], int]:
        """Newest first; by state, by a grid code prefix and by camera (None: any)."""
        ...

    # citizen reports (Open311 service requests); their status comes from their case
    def add_report(self, report: dict[str, Any]) -> None: ...

    def get_report(self, report_id: str) -> dict[str, Any] | None: ...

    def list_reports(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]: ...

    def delete_reports_before(self, ts_iso: str) -> list[str]:
        """Delete the reports filed before `ts_iso` (UTC ISO 8601); their ids (for their uploads)."""
        ...

    # users (command_center.auth) and the audit log (command_center.audit)
    def add_users(self, users: Iterable[dict[str, Any]]) -> int: ...

    def get_user(self, username: str) -> dict[str, Any] | None: ...

    def get_users(self, usernames: list[str]) -> list[dict[str, Any]]:
        """The rows of those of `usernames` that exist, any order (at most a few hundred names)."""
        ...

    def update_user(self, username: str, **fields: Any) -> None: ...

    def list_users(self, limit: int = 100, offset: int = 0, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        """By name; filters q, role, disabled, prefix (records.py)."""
        ...

    def add_audit(self, entry: dict[str, Any]) -> None: ...

    def list_audit(
        self, limit: int = 100, offset: int = 0, actor: str | None = None, action: str | None = None, **more: str | None
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first; more filters: action_prefix, target, since, until (records.py)."""
        ...

    # The audit log is a hash chain (store/audit_chain.py): add_audit appends under a lock
    # that serialises appends across processes; list_audit rows carry their `hash`.
    def iter_audit(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every audit row with prev_hash and hash, in seq order, read `batch` at a time."""
        ...

    def scrub_audit_ips_before(self, ts_iso: str) -> int:
        """Blank the ip of audit rows older than `ts_iso` (outside the chain); how many."""
        ...

    def ping(self) -> None:
        """A cheap query; raises when the store cannot answer (for /api/health)."""
        ...

    # per-device publish keys (command_center.auth.publish_keys): rows hold the secret's hash only
    def add_publish_key(self, key: dict[str, Any]) -> None: ...

    def get_publish_key(self, key_id: str) -> dict[str, Any] | None: ...

    def list_publish_keys(self) -> list[dict[str, Any]]: ...

    def update_publish_key(self, key_id: str, **fields: Any) -> bool: ...

    # the registry's part versions (store/version_records.py, registry/changes.py)
    def bump_registry(self, part: str) -> int: ...

    def registry_versions(self) -> dict[str, int]: ...

    # cases: dispatch.repository.CaseRepository plus listing
    def insert_case(self, case: Case) -> None: ...

    def get_case(self, case_id: str) -> Case | None: ...

    def save_transition(self, case: Case, entry: TimelineEntry) -> bool: ...

    def open_cases_of_matter(
        self, matter_code: str, since: datetime, near: tuple[float, float, float] | None = None
    ) -> list[Case]: ...

    def prefetch_open_cases(self, wanted: list[tuple[str, datetime, tuple[float, float, float]]]) -> None:
        """Inside a batch: the dedupe reads to come (dispatch.repository); SQLite ignores it."""
        ...

    def open_counts(self, worker_ids: Iterable[str]) -> dict[str, int]: ...

    def open_counts_by_grid(self, prefix: str = "") -> dict[str, int]: ...

    def list_cases(self, query: CaseQuery) -> tuple[list[Case], int]: ...

    def batch(self) -> AbstractContextManager[None]:
        """Group commit: this thread's writes inside share one transaction (one fsync);
        nothing inside is durable until the block ends, so acknowledge after it. Nested
        blocks are part of the outer one."""
        ...

    def close(self) -> None: ...
