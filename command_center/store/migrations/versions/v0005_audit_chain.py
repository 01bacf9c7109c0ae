"""0005 audit_chain: tamper evidence for the audit log (store/audit_chain.py).

Each row keeps the previous row's hash and its own. Rows written before this revision are
chained here, once, in seq order, inside the migration's own transaction and lock: no
append can come between (on PostgreSQL the audit append lock is taken too).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from command_center.store import audit_chain
from command_center.store.queries import statements

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit", sa.Column("prev_hash", sa.Text))
    op.add_column("audit", sa.Column("hash", sa.Text))
    bind = op.get_bind()
    sql = statements(bind.dialect.name)  # today's audit table: it has not changed since this revision
    if sql.audit_lock:  # PostgreSQL: and no append comes between, from any process
        bind.exec_driver_sql(sql.audit_lock)

    def execute(statement: str, params: dict[str, Any]) -> Any:
        return bind.exec_driver_sql(statement, params)

    audit_chain.chain_existing(execute, sql)
