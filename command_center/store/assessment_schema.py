"""Performance assessment (绩效考核, docs/ASSESSMENT.md) as tables, on store/schema.py's
`metadata`; migration 0026 makes the same. Not imported by schema.py: the modules that use
the tables import this one.

- `assessment_runs`: one row per frozen month: the scheme it was scored with (its canonical
  text, version hash and label), the cut-off day, and the digest of its results;
- `assessment_scores`: per month, level and subject the score, rank and the raw indicator
  values with their points (JSON), as frozen;
- `assessment_honours`: honours awarded for a month (金牌网格员 …);
- `assessment_notices`: what the top and bottom workers (and the honoured) are told, read on
  the terminal;
- `assessment_appeals`: an officer's contest of one case's effect on one subject's month, and
  an admin's decision. An approved one takes the case out of that subject's indicators.
Times are UTC ISO text.
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import SEQ, metadata

assessment_runs = sa.Table(
    "assessment_runs",
    metadata,
    sa.Column("month", sa.Text, primary_key=True),  # YYYY-MM
    sa.Column("scheme_version", sa.Text, nullable=False),
    sa.Column("scheme_label", sa.Text, nullable=False),
    sa.Column("scheme", sa.Text, nullable=False),  # Scheme.canonical(): a recompute scores with it
    sa.Column("cutoff_day", sa.Text, nullable=False),  # closures up to this city day count
    sa.Column("digest", sa.Text, nullable=False),
    sa.Column("subjects", sa.Integer, nullable=False),
    sa.Column("frozen_at", sa.Text, nullable=False),
    sa.Column("frozen_by", sa.Text, nullable=False),
    sa.Column("recomputed_at", sa.Text),
)

assessment_scores = sa.Table(
    "assessment_scores",
    metadata,
    sa.Column("month", sa.Text, primary_key=True),
    sa.Column("level", sa.Text, primary_key=True),
    sa.Column("subject", sa.Text, primary_key=True),  # a worker id, or an area's 15-digit code
    sa.Column("cases", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),  # {"values": {...}, "points": {...}}
    sa.Index("assessment_scores_rank", "month", "level", "rank"),
)

assessment_honours = sa.Table(
    "assessment_honours",
    metadata,
    sa.Column("month", sa.Text, primary_key=True),
    sa.Column("level", sa.Text, primary_key=True),
    sa.Column("subject", sa.Text, primary_key=True),
    sa.Column("honour", sa.Text, primary_key=True),
)

assessment_notices = sa.Table(
    "assessment_notices",
    metadata,
    sa.Column("id", SEQ, primary_key=True, autoincrement=True),
    sa.Column("month", sa.Text, nullable=False),
    sa.Column("worker_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # top, bottom, honour
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("assessment_notices_worker", "worker_id", "month"),
)

assessment_appeals = sa.Table(
    "assessment_appeals",
    metadata,
    sa.Column("id", SEQ, primary_key=True, autoincrement=True),
    sa.Column("month", sa.Text, nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("subject_key", sa.Text, nullable=False),  # what the indicators group by: an id or a code prefix
    sa.Column("case_id", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),  # pending, approved, rejected
    sa.Column("filed_by", sa.Text, nullable=False),
    sa.Column("filed_at", sa.Text, nullable=False),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", sa.Text),
    sa.Column("note", sa.Text),
    sa.Index("assessment_appeals_month", "month", "state"),
    sa.Index("assessment_appeals_case", "case_id", "month"),
)
