"""Citizens' report media and follows as tables, on store/schema.py's `metadata`; migrations
0030 and 0034 make the same (store/migrations/versions/v0030_report_media.py, v0034_…).

`report_media`: one row per photo, voice note or video clip of a report; the file lies under
the data folder (uploads/media/<report id>/<media id>.<ext>), the row says what it is (kind
and MIME judged from the bytes), its size and length, and the case it went to (staff read a
case's media by it); `removed_at` once the retention sweep deleted the file (the row stays,
so that the case shows 已按规定删除 where it was). `case_follows`: a resident following an
open case instead of reporting it again (同一问题？关注它); one row per (case, resident).
Times are UTC ISO text.
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import metadata

report_media = sa.Table(
    "report_media",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # M + 12 hex digits
    sa.Column("report_id", sa.Text, nullable=False),
    sa.Column("case_id", sa.Text),
    sa.Column("kind", sa.Text, nullable=False),  # photo, voice, video
    sa.Column("mime", sa.Text, nullable=False),
    sa.Column("file", sa.Text, nullable=False),  # the file's name in the report's folder
    sa.Column("bytes", sa.Integer, nullable=False),
    sa.Column("duration_s", sa.Float),  # voice and video
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("removed_at", sa.Text),  # the retention sweep deleted the file then (0034)
    sa.Index("report_media_report", "report_id"),
    sa.Index("report_media_case", "case_id"),
    sa.Index("report_media_created", "created_at"),  # the sweep's cut-off
)

case_follows = sa.Table(
    "case_follows",
    metadata,
    sa.Column("case_id", sa.Text, primary_key=True),
    sa.Column("resident_id", sa.Text, primary_key=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("case_follows_resident", "resident_id", "created_at"),
)
