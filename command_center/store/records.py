"""What both stores do alike outside the cases: incidents, citizen reports, users, the
audit log, publish keys and the health ping, written once.

These are plain statements (store/queries.py, compiled per dialect) with the same
parameters and the same rows back on either database. Only how a store reaches its
connection differs, so each store gives three context managers and `RecordStore` does
the rest with what they yield:

- `_reading()`: a connection to read on;
- `_writing()`: a transaction for writes that must go together (inside a group commit,
  a savepoint: a failed one undoes only itself);
- `_writing_one()`: for one write statement, atomic by itself (SQLite: no BEGIN;
  PostgreSQL: still a savepoint in a group commit, where a failed statement would
  otherwise abort the whole transaction).

SQLite gives its one connection behind its lock (and BEGIN IMMEDIATE for `_writing`);
PostgreSQL a pooled connection (or its batch's) that turns a hung server into
StoreUnavailable. Where the databases differ in SQL, the difference is data in
queries.Statements, not a branch here. The case methods stay in each store: their
caching, group commit and snapshot reads really differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from command_center.store import admin_queries, audit_chain, queries
from command_center.store.access import StoreAccess
from command_center.store.camera_records import CameraRecords
from command_center.store.columns import USER_DEFAULTS
from command_center.store.matter_records import MatterRecords
from command_center.store.photo_records import PhotoRecords
from command_center.store.queries import AUDIT_LISTED, KEY_FIELDS, USER_FIELDS, Statements
from command_center.store.roster_records import RosterRecords
from command_center.store.version_records import VersionRecords


def _doc(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    return doc


class RecordStore(RosterRecords, CameraRecords, MatterRecords, PhotoRecords, VersionRecords, StoreAccess):
    sql: Statements

    # incidents
    def add_incident(self, incident: dict[str, Any]) -> None:
        with self._writing_one() as db:
            db.execute(self.sql.insert_incident, {
                "id": incident["id"], "ts": incident["ts"], "camera_id": incident.get("camera_id"),
                "state": incident["state"], "doc": json.dumps(incident),
            })  # fmt: skip

    def update_incident(self, incident_id: str, **fields: Any) -> dict[str, Any] | None:
        # PostgreSQL locks the row it read (FOR UPDATE); SQLite has no FOR UPDATE ("") and
        # needs none: its write transaction already excludes every other writer.
        read = self.sql.incident_doc_for_update or self.sql.incident_doc
        with self._writing() as db:
            row = db.execute(read, {"id": incident_id}).fetchone()
            if row is None:
                return None
            doc = _doc(row[0]) | fields
            db.execute(
                self.sql.update_incident, {"state": doc["state"], "doc": json.dumps(doc), "id": incident_id}
            )
            return doc

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        with self._reading() as db:
            row = db.execute(self.sql.incident_doc, {"id": incident_id}).fetchone()
        return _doc(row[0]) if row else None

    def list_incidents(
        self,
        limit: int = 50,
        offset: int = 0,
        state: str | None = None,
        grid_prefix: str | None = None,
        camera_id: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        count, page = queries.incidents_page(self.dialect, bool(state), bool(grid_prefix), bool(camera_id))
        params = {"state": state, "grid": f"{grid_prefix}%", "camera": camera_id, "limit": limit, "offset": offset}
        with self._reading() as db:
            total: int = db.execute(count, params).fetchone()[0]
            rows = db.execute(page, params).fetchall()
        return [_doc(r[0]) for r in rows], total

    # citizen reports (Open311 service requests)
    def add_report(self, report: dict[str, Any]) -> None:
        with self._writing_one() as db:
            db.execute(self.sql.insert_report, {
                "id": report["id"], "created_at": report["requested_datetime"], "case_id": report.get("case_id"),
                "doc": json.dumps(report, ensure_ascii=False),
            })  # fmt: skip

    def get_report(self, report_id: str) -> dict[str, Any] | None:
        with self._reading() as db:
            row = db.execute(self.sql.report_doc, {"id": report_id}).fetchone()
        return _doc(row[0]) if row else None

    def list_reports(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self._reading() as db:
            rows = db.execute(self.sql.list_reports, {"limit": limit, "offset": offset}).fetchall()
        return [_doc(r[0]) for r in rows]

    def delete_reports_before(self, ts_iso: str) -> list[str]:
        with self._writing() as db:
            rows = db.execute(self.sql.delete_reports_before, {"ts": ts_iso}).fetchall()
        return [r[0] for r in rows]

    # users and the audit log (command_center.auth, command_center.audit)
    def add_users(self, users: Iterable[dict[str, Any]]) -> int:
        """Insert the users not there yet (by username); how many were new."""
        rows = [{k: u.get(k, USER_DEFAULTS.get(k)) for k in USER_FIELDS} for u in users]
        added = 0
        with self._writing() as db:
            for row in rows:  # one by one: an insert-or-ignore's rowcount says if it was new
                added += db.execute(self.sql.insert_user, row).rowcount
        return added

    def get_user(self, username: str) -> dict[str, Any] | None:
        with self._reading() as db:
            row = db.execute(self.sql.get_user, {"username": username}).fetchone()
        return dict(zip(USER_FIELDS, row, strict=True)) if row else None

    def get_users(self, usernames: list[str]) -> list[dict[str, Any]]:
        """The rows of those of `usernames` that exist (any order)."""
        if not usernames:
            return []
        sql = queries.users_named(self.dialect, len(usernames))
        with self._reading() as db:
            rows = db.execute(sql, queries.list_params("name", list(usernames), self.dialect)).fetchall()
        return [dict(zip(USER_FIELDS, r, strict=True)) for r in rows]

    def update_user(self, username: str, **fields: Any) -> None:
        unknown = set(fields) - set(USER_FIELDS[1:])
        if unknown:
            raise ValueError(f"unknown user fields: {sorted(unknown)}")
        with self._writing_one() as db:
            db.execute(queries.update_user(self.dialect, tuple(fields)), {**fields, "key": username})

    def list_users(
        self, limit: int = 100, offset: int = 0, **filters: Any
    ) -> tuple[list[dict[str, Any]], int]:
        """By name; `filters` (None: not set): q (in the username or worker id), role,
        disabled (bool), prefix (accounts whose jurisdiction starts with it; never city-wide)."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if filters.get("q"):
            params["q"] = admin_queries.like_pattern(str(filters["q"]).lower(), "%")
        if filters.get("role"):
            params["role"] = filters["role"]
        if filters.get("disabled") is not None:
            params["disabled"] = int(bool(filters["disabled"]))
        if filters.get("prefix"):
            params["prefix"] = admin_queries.like_pattern(str(filters["prefix"]))
        count, page = admin_queries.users_page_filtered(self.dialect, *sorted(set(params) - {"limit", "offset"}))
        with self._reading() as db:
            total: int = db.execute(count, params).fetchone()[0]
            rows = db.execute(page, params).fetchall()
        return [dict(zip(USER_FIELDS, r, strict=True)) for r in rows], total

    def add_audit(self, entry: dict[str, Any]) -> None:
        # Appends serialise across processes on a lock held to the commit, so the last
        # hash read and the new row go in together and the chain cannot fork. PostgreSQL:
        # an advisory lock (audit_lock); SQLite: its write transaction (BEGIN IMMEDIATE)
        # is the lock already, and audit_lock is "".
        with self._writing() as db:
            if self.sql.audit_lock:
                db.execute(self.sql.audit_lock)
            audit_chain.append(db.execute, self.sql, entry)

    def list_audit(
        self, limit: int = 100, offset: int = 0, actor: str | None = None, action: str | None = None, **more: str | None
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first. `more` (None: not set): action_prefix, target, since and until (ISO
        times in UTC as the rows' ts; since inclusive, until exclusive)."""
        extra = {k: v for k, v in more.items() if v}
        if "action_prefix" in extra:
            extra["action_prefix"] = admin_queries.like_pattern(extra["action_prefix"] or "")
        count, page = admin_queries.audit_page_filtered(self.dialect, bool(actor), bool(action), *sorted(extra))
        params = {"actor": actor, "action": action, "limit": limit, "offset": offset, **extra}
        with self._reading() as db:
            total: int = db.execute(count, params).fetchone()[0]
            rows = db.execute(page, params).fetchall()
        return [dict(zip(AUDIT_LISTED, r, strict=True)) for r in rows], total

    def iter_audit(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        after = -1
        while True:
            with self._reading() as db:  # a page at a time: the connection is free between pages
                rows = audit_chain.page(db.execute, self.sql, after, batch)
            if not rows:
                return
            yield from rows
            after = rows[-1]["seq"]

    def scrub_audit_ips_before(self, ts_iso: str) -> int:
        # ip is outside the hash chain (audit_chain.py): blanking it breaks nothing.
        with self._writing() as db:
            return db.execute(self.sql.scrub_audit_ips, {"ts": ts_iso}).rowcount

    def ping(self) -> None:
        with self._reading() as db:
            db.execute(self.sql.ping).fetchone()

    # publish keys (command_center.auth.publish_keys)
    def add_publish_key(self, key: dict[str, Any]) -> None:
        with self._writing_one() as db:
            db.execute(self.sql.insert_key, {k: key.get(k) for k in KEY_FIELDS})

    def get_publish_key(self, key_id: str) -> dict[str, Any] | None:
        with self._reading() as db:
            row = db.execute(self.sql.get_key, {"id": key_id}).fetchone()
        return dict(zip(KEY_FIELDS, row, strict=True)) if row else None

    def list_publish_keys(self) -> list[dict[str, Any]]:
        with self._reading() as db:
            rows = db.execute(self.sql.list_keys).fetchall()
        return [dict(zip(KEY_FIELDS, r, strict=True)) for r in rows]

    def update_publish_key(self, key_id: str, **fields: Any) -> bool:
        """Change a key that is not revoked; False when there is none (or it is revoked)."""
        unknown = set(fields) - set(KEY_FIELDS[1:])
        if unknown:
            raise ValueError(f"unknown publish key fields: {sorted(unknown)}")
        sql = queries.update_key(self.dialect, tuple(fields))
        with self._writing_one() as db:
            return db.execute(sql, {**fields, "key": key_id}).rowcount == 1
