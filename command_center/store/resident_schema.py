"""Residents (居民) as tables, on store/schema.py's `metadata`; migration 0025 makes the same.

Kept apart from staff `users`: a resident has no username, role or password, and no staff
query reads these tables. The phone is sealed with the base-data cipher (AES-GCM, key outside
the database), found by its keyed index (HMAC) and shown masked; a sign-in code is kept only
as a keyed hash. Like store/field_photo_schema.py, not imported by schema.py: the modules that
use the tables import this one. Times are UTC ISO text (they order and compare as text).
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import metadata

residents = sa.Table(
    "residents",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # RS + 16 hex digits
    sa.Column("phone_index", sa.Text, nullable=False, unique=True),  # FieldCipher.index("phone", …)
    sa.Column("phone_sealed", sa.Text, nullable=False),  # FieldCipher.seal: v1:<base64>
    sa.Column("phone_masked", sa.Text, nullable=False),  # 138****5678
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("last_seen", sa.Text, nullable=False),
    sa.Column("blocked", sa.Integer, nullable=False, server_default=sa.text("0")),
    # bumped by signing out: every token issued before is refused (residents/tokens.py)
    sa.Column("token_version", sa.Integer, nullable=False, server_default=sa.text("0")),
)

resident_codes = sa.Table(
    "resident_codes",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("phone_index", sa.Text, nullable=False),
    sa.Column("address_hash", sa.Text, nullable=False),  # the client address, keyed-hashed: only counted
    sa.Column("code_hash", sa.Text, nullable=False),  # residents/codes.code_hash
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Text, nullable=False),
    sa.Column("tries", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("used_at", sa.Text),
    # the limits' questions (codes to this phone / from this address in the last hour) and the sweep's
    sa.Index("resident_codes_phone", "phone_index", "created_at"),
    sa.Index("resident_codes_address", "address_hash", "created_at"),
    sa.Index("resident_codes_created", "created_at"),
)

# Which resident made a report (Open311 or the citizens' page while signed in); an anonymous
# report has no row and is followed by its receipt code alone.
resident_reports = sa.Table(
    "resident_reports",
    metadata,
    sa.Column("report_id", sa.Text, primary_key=True),
    sa.Column("resident_id", sa.Text, nullable=False),
    sa.Column("case_id", sa.Text),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("resident_reports_resident", "resident_id", "created_at"),
)

# 满意度: a resident's rating of a closed case, once per report. The assessment reads it per
# case (`case_id`), e.g. the average stars of a grid's closed cases in a month.
case_ratings = sa.Table(
    "case_ratings",
    metadata,
    sa.Column("report_id", sa.Text, primary_key=True),
    sa.Column("case_id", sa.Text, nullable=False),
    sa.Column("resident_id", sa.Text, nullable=False),
    sa.Column("stars", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("rated_at", sa.Text, nullable=False),
    sa.Index("case_ratings_case", "case_id"),
)
