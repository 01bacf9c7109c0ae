"""Every table the stores keep, defined once for SQLite and PostgreSQL (SQLAlchemy Core).

This is the schema as the latest migration (store/migrations/versions) leaves it;
tests/test_store_upgrade.py checks the two agree on both databases. Queries are built
from these tables in store/queries.py.

Times are ISO 8601 text (UTC) and documents JSON text, as they always were: their
comparison and ordering is the same on both databases.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()

# A row counter: SQLite's INTEGER PRIMARY KEY AUTOINCREMENT (the rowid, never reused),
# PostgreSQL's BIGSERIAL.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# REAL is 4 bytes in PostgreSQL: ~1 m of error on a longitude. Coordinates need 8 there;
# SQLite's REAL already is 8.
COORDINATE: sa.types.TypeEngine[float] = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("ts", sa.Text, nullable=False),
    sa.Column("camera_id", sa.Text),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Index("incidents_ts", "ts"),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("is_open", sa.Integer, nullable=False),
    sa.Column("matter_code", sa.Text, nullable=False),
    sa.Column("grid_code", sa.Text, nullable=False),
    sa.Column("assignee", sa.Text),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("deadline", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Column("lon", COORDINATE),
    sa.Column("lat", COORDINATE),
    sa.Index("cases_open_matter", "is_open", "matter_code", "created_at"),
    sa.Index("cases_assignee", "assignee", "is_open"),
    sa.Index("cases_open_matter_lon", "is_open", "matter_code", "lon"),
)

case_timeline = sa.Table(
    "case_timeline",
    metadata,
    sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Text, nullable=False),
    sa.Column("ts", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("from_state", sa.Text, nullable=False),
    sa.Column("to_state", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Index("case_timeline_case", "case_id", "seq"),
    sqlite_autoincrement=True,
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("case_id", sa.Text),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Index("reports_created", "created_at"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.Text, primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("jurisdiction", sa.Text, nullable=False, server_default=sa.text("''")),
    sa.Column("worker_id", sa.Text),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("disabled", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("token_version", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("last_login_at", sa.Text),  # migration 0010: the console's user list shows them
    sa.Column("last_login_ip", sa.Text),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("ip", sa.Text, nullable=False),
    sa.Column("detail", sa.Text),
    # the hash chain (store/audit_chain.py)
    sa.Column("prev_hash", sa.Text),
    sa.Column("hash", sa.Text),
    sa.Index("audit_actor", "actor", "seq"),
    sqlite_autoincrement=True,
)

publish_keys = sa.Table(
    "publish_keys",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("stream", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=sa.text("''")),
    sa.Column("secret_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("rotated_at", sa.Text),
    sa.Column("revoked_at", sa.Text),
    sa.Index("publish_keys_stream", "stream"),
)

CASE_TABLES = ("cases", "case_timeline")

# The registry (command_center/registry): one row per part (roster, cameras, matters,
# calendar, settings, grids, users) whose version each change bumps; every node polls
# these few rows and re-reads a part whose version moved (registry/changes.py).
registry_versions = sa.Table(
    "registry_versions",
    metadata,
    sa.Column("part", sa.Text, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("changed_at", sa.Text, nullable=False),
)

# The matter catalogue's versions (registry/matters.py): a district (or the city, district
# "") proposes adding or changing a matter, the city approves or rejects; an approved
# version applies to cases created from its effective day. `doc` is the whole Matter.
matter_versions = sa.Table(
    "matter_versions",
    metadata,
    sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("district", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("change", sa.Text, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Column("effective_from", sa.Text, nullable=False),
    sa.Column("proposed_by", sa.Text, nullable=False),
    sa.Column("proposed_at", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", sa.Text),
    sa.Column("decision_note", sa.Text),
    sa.UniqueConstraint("code", "district", "version", name="matter_versions_version"),
    sa.Index("matter_versions_status", "status", "district"),
    sqlite_autoincrement=True,
)

# The working calendar's days beyond the configuration's (registry/work_calendar.py):
# kind "holiday" (a day off) or "workday" (a weekend day worked, 调休).
holidays = sa.Table(
    "holidays",
    metadata,
    sa.Column("day", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)

# Settings changed in the console (e.g. "supervision": warn_at, supervise_every_s), each a
# JSON document over the configuration's values.
settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)

# The registry's cameras (registry/cameras.py): added, changed or imported in the console
# or from a CSV, overlaid by id on the configuration's; `doc` is the whole CameraConfig
# (zones, heading, grid). A deleted row is kept as a tombstone (deleted = 1): it hides a
# configured camera of the same id, so a removal holds across restarts.
cameras = sa.Table(
    "cameras",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Column("grid_code", sa.Text),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    sa.Column("deleted", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Index("cameras_grid", "grid_code"),
)

# The roster (command_center/registry/roster.py). A worker is a person; which grid they
# work is history: one row per (worker, grid, shift) from when to when (valid_to NULL:
# now), so "who worked this grid last March" has an answer after any re-import.
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("code", sa.Text, nullable=False),  # the worker number people see (网格员编号)
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("phone", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # full_time, part_time
    sa.Column("level", sa.Text, nullable=False),  # professional, basic
    sa.Column("active", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.Column("photo", sa.Text),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    sa.Index("workers_code", "code"),
)

worker_grids = sa.Table(
    "worker_grids",
    metadata,
    sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
    sa.Column("worker_id", sa.Text, nullable=False),
    sa.Column("grid_code", sa.Text, nullable=False),
    sa.Column("shift", sa.Text, nullable=False),  # day, night, all
    sa.Column("valid_from", sa.Text, nullable=False),
    sa.Column("valid_to", sa.Text),
    sa.Column("source", sa.Text, nullable=False),  # "import:roster.csv by admin", "admin:alice"
    sa.Index("worker_grids_grid", "grid_code", "valid_to"),
    sa.Index("worker_grids_worker", "worker_id", "valid_to"),
    sqlite_autoincrement=True,
)

worker_leave = sa.Table(
    "worker_leave",
    metadata,
    sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
    sa.Column("worker_id", sa.Text, nullable=False),
    sa.Column("starts", sa.Text, nullable=False),
    sa.Column("ends", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=sa.text("''")),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("worker_leave_worker", "worker_id", "ends"),
    sqlite_autoincrement=True,
)

# The grid map every node loads (imported or re-drawn): GeoJSON text, areas of every
# level, no workers. The latest row wins; older rows are the map's history.
city_maps = sa.Table(
    "city_maps",
    metadata,
    sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
    sa.Column("saved_at", sa.Text, nullable=False),
    sa.Column("saved_by", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sqlite_autoincrement=True,
)

# Grid workers' photos for the public worker card (三公开): re-encoded JPEGs (at most 600 px,
# no metadata: command_center/worker_photos.py), in the store so that every node serves them.
worker_photos = sa.Table(
    "worker_photos",
    metadata,
    sa.Column("worker_id", sa.Text, primary_key=True),
    sa.Column("jpeg", sa.LargeBinary, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),  # ms since the epoch: changes the photo's URL
    sa.Column("updated_by", sa.Text, nullable=False),
)

# Emergency teams (应急队, command_center/emergency/teams.py): each street's team, seeded from
# its professional grid workers, edited by admins. A team still as seeded has updated_by
# "system": a roster import re-seeds those, never one an admin has edited.
emergency_teams = sa.Table(
    "emergency_teams",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("street_code", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    sa.Index("emergency_teams_street", "street_code"),
)

emergency_team_members = sa.Table(
    "emergency_team_members",
    metadata,
    sa.Column("team_id", sa.Text, primary_key=True),
    sa.Column("worker_id", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),  # leader, member
    sa.Index("emergency_team_members_worker", "worker_id"),
)

# Response plans (预案) as admins changed them: one validated Plan document per emergency
# class, over configs/plans.yaml; in the store so that every node starts modes alike.
emergency_plans = sa.Table(
    "emergency_plans",
    metadata,
    sa.Column("emergency_class", sa.Text, primary_key=True),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)

# Video verification (视频核查, command_center/verification.py): one row per check a camera
# makes of a case's scene. purpose: verify (after feedback: is the problem gone?) or watch
# (an open case: did it go away on its own?). mode: auto (the verdict acts on the case) or
# suggest (an officer confirms it). state: checking → cleared | present | unsure; a
# suggested verdict then becomes confirmed or rejected; cancelled when the case moved on.
# doc: the request (region, labels, hold) and the decision's facts (label, zone, absent
# seconds, frames seen) and evidence URLs (before, after, clip): the pages word them.
verifications = sa.Table(
    "verifications",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("case_id", sa.Text, nullable=False),
    sa.Column("camera_id", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("decided_at", sa.Text),
    sa.Column("decided_by", sa.Text),
    sa.Index("verifications_case", "case_id"),
    sa.Index("verifications_state", "state", "created_at"),
)

# Flags on cases the video raised: self_resolved (the camera saw an open case's problem
# go away before anyone reported it handled), recurred (a closed case's problem came back
# at the same spot within the window; doc names the earlier case).
case_flags = sa.Table(
    "case_flags",
    metadata,
    sa.Column("case_id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Index("case_flags_kind", "kind", "created_at"),
)

# Suggested classes of reports (自动输出事件分类建议) and what the reporter or officer chose:
# the feedback that retrains the report classifier. suggested: JSON [[matter_code, score], ...]
# best first; chosen_code: the matter kept (null until someone chose).
report_suggestions = sa.Table(
    "report_suggestions",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # citizen, worker, officer
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("has_photo", sa.Boolean, nullable=False),
    sa.Column("suggested", sa.Text, nullable=False),
    sa.Column("chosen_code", sa.Text),
    sa.Column("chosen_by", sa.Text),
    sa.Column("chosen_at", sa.Text),
    sa.Column("case_id", sa.Text),
    sa.Index("report_suggestions_chosen", "chosen_at"),
)
