"""0024 case stats: the statistics' tables (store/stats_schema.py, docs/STATS.md).

- `case_facts`: one row per case, plain columns the statistics read (no JSON, no timeline);
- `case_daily`: the facts summed per creation day, district, matter and source;
- `case_daily_dirty`: the (day, case) pairs written since their day was summed.

Stored cases are back-filled here: their documents and timelines read in batches of
BATCH in id order, the facts computed by the same function the stores write them with
(store/stats_facts.py: dispatch/kpi.py's meanings need the timeline, which SQL over JSON
would repeat in two dialects), then `case_daily` summed once in SQL.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

COORDINATE: sa.types.TypeEngine[float] = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")
BATCH = 2000


def upgrade() -> None:
    op.create_table(
        "case_facts",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("created_day", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("matter_code", sa.Text, nullable=False),
        sa.Column("matter_class", sa.Text, nullable=False),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("is_open", sa.Integer, nullable=False),
        sa.Column("counted", sa.Integer, nullable=False),
        sa.Column("closed", sa.Integer, nullable=False),
        sa.Column("closed_at", sa.Text),
        sa.Column("closed_day", sa.Text),
        sa.Column("on_time", sa.Integer),
        sa.Column("reworked", sa.Integer, nullable=False),
        sa.Column("deferred", sa.Integer, nullable=False),
        sa.Column("accept_min", COORDINATE),
        sa.Column("close_min", COORDINATE),
        sa.Column("cell_x", sa.Integer, nullable=False),
        sa.Column("cell_y", sa.Integer, nullable=False),
        sa.Column("lon", COORDINATE),
        sa.Column("lat", COORDINATE),
    )
    op.create_index(
        "case_facts_day",
        "case_facts",
        ["created_day", "grid_code", "matter_code", "source", "counted", "cell_x", "cell_y"],
    )
    op.create_index("case_facts_grid", "case_facts", ["grid_code", "created_day"])
    op.create_table(
        "case_daily",
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("district", sa.Text, primary_key=True),
        sa.Column("matter_code", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("matter_class", sa.Text, nullable=False),
        *(
            sa.Column(name, sa.Integer, nullable=False)
            for name in ("cases", "closed", "closed_on_time", "deferred", "reworked")
        ),
        sa.Column("sum_close_min", COORDINATE, nullable=False),
        sa.Column("n_close", sa.Integer, nullable=False),
        sqlite_with_rowid=False,  # (store/stats_schema.py: a period's rows in one sweep)
    )
    op.create_table(
        "case_daily_dirty",
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    _backfill()


def _backfill() -> None:
    from command_center.store.stats_daily import rebuild_all
    from command_center.store.stats_facts import FACT_FIELDS, fact_params
    from dispatch.cases import Case

    bind = op.get_bind()
    insert = sa.text(
        f"INSERT INTO case_facts ({', '.join(FACT_FIELDS)}) VALUES ({', '.join(':' + n for n in FACT_FIELDS)})"
    )
    after = ""
    while True:
        docs = bind.execute(sa.text("SELECT id, doc FROM cases WHERE id > :after ORDER BY id LIMIT :n"),
                            {"after": after, "n": BATCH}).fetchall()  # fmt: skip
        if not docs:
            break
        timelines: dict[str, list[dict[str, Any]]] = {}
        steps = bind.execute(
            sa.text("SELECT case_id, ts, action, actor, from_state, to_state, note FROM case_timeline "
                    "WHERE case_id >= :lo AND case_id <= :hi ORDER BY case_id, seq"),
            {"lo": docs[0][0], "hi": docs[-1][0]},
        )  # fmt: skip
        for case_id, ts, action, actor, from_state, to_state, note in steps:
            timelines.setdefault(case_id, []).append(
                {
                    "ts": ts,
                    "action": action,
                    "actor": actor,
                    "from_state": from_state,
                    "to_state": to_state,
                    "note": note,
                }
            )
        # Days in China's zone (stats_facts.DEFAULT_ZONE): a migration does not read the
        # deployment's config, so a city elsewhere upgrading a pre-0024 database has its older
        # cases counted on China's days (the cases written after, on its own).
        facts = [fact_params(Case.from_dict(json.loads(doc) | {"timeline": timelines.get(case_id, [])}))
                 for case_id, doc in docs]  # fmt: skip
        bind.execute(insert, facts)
        after = docs[-1][0]
    rebuild_all(_Driver(bind), rollups=False)  # (0028 makes and fills the roll-ups)


class _Driver:
    """The migration's connection as store/access.Connection (text SQL, named parameters)."""

    def __init__(self, bind: sa.engine.Connection) -> None:
        self.bind = bind

    def execute(self, sql: str, params: dict[str, Any] | None = None, /) -> Any:
        return self.bind.execute(sa.text(sql), params or {})
