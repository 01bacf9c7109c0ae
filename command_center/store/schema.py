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
