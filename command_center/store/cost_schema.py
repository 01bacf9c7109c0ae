"""Budget lines of the cost–benefit accounting (成本—收益核算, docs/COSTS.md) as a table on
store/schema.py's `metadata`; migration 0027 makes the same table.

One row is one amount budgeted for an area (city, district, street, community or grid: its
15-digit code) in one month, in one category (staff by grade, equipment, services bought,
IoT running, video running, other). Amounts are integer fen (分): sums are exact on both
databases, and a yuan amount with two decimals maps to one integer. The attribution of the
amounts to matters reads this table with case_facts, patrol_checkins and care_visits
(store/cost_queries.py); nothing attributed is stored, so an edited line or a late case
changes the figures at once.

Like the other *_schema modules, not imported by schema.py: code that needs the table
imports this module.
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.care_schema import care_visits
from command_center.store.patrol_schema import patrol_checkins
from command_center.store.schema import metadata

cost_budget_lines = sa.Table(
    "cost_budget_lines",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # BL + 12 hex digits
    sa.Column("area_code", sa.Text, nullable=False),  # 15 digits
    sa.Column("prefix", sa.Text, nullable=False),  # the code's significant digits: its grids' codes start so
    sa.Column("month", sa.Text, nullable=False),  # YYYY-MM
    sa.Column("category", sa.Text, nullable=False),  # staff, equipment, services, iot, video, other
    sa.Column("grade", sa.Text, nullable=False),  # staff: 专职网格员A …; "" for the other categories
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    # one amount per area, month, category and grade: an import of the same key sets it again
    sa.Index("cost_budget_lines_key", "month", "area_code", "category", "grade", unique=True),
    # a month's lines above or inside an area: by month, then the prefix range
    sa.Index("cost_budget_lines_prefix", "month", "prefix"),
)

# The month's check-ins and visits, read by time (the attribution's work units): migration
# 0027 adds these to the patrol and care tables, which had no index leading with the time.
sa.Index("patrol_checkins_at", patrol_checkins.c.at, patrol_checkins.c.grid_code)
sa.Index("care_visits_at", care_visits.c.at, care_visits.c.membership_id)
