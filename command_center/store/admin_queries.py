"""The admin console's listings: accounts and the audit log, filtered (api/auth.py), as
SQLAlchemy Core statements compiled per dialect like the rest of store/queries.py."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from command_center.store.queries import AUDIT_LISTED, _p, compile_sql, const
from command_center.store.schema import audit, users

LIKE_ESCAPE = "!"  # not a backslash: its quoting differs between the two databases


def like_pattern(text: str, before: str = "", after: str = "%") -> str:
    """A LIKE pattern matching `text` literally (its % and _ escaped) with wildcards around it."""
    quoted = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"{before}{quoted}{after}"


@cache
def audit_page_filtered(
    dialect: str, actor: bool, action: bool, *filters: str
) -> tuple[str, str]:
    """(count, page) of audit rows, newest first. `filters` names the further ones set, in
    any order: action_prefix, target, since (ts >=), until (ts <)."""
    where: list[ColumnElement[bool]] = []
    if actor:
        where.append(audit.c.actor == _p("actor"))
    if action:
        where.append(audit.c.action == _p("action"))
    if "action_prefix" in filters:
        where.append(audit.c.action.like(_p("action_prefix"), escape=LIKE_ESCAPE))
    if "target" in filters:
        where.append(audit.c.target == _p("target"))
    if "since" in filters:
        where.append(audit.c.ts >= _p("since"))
    if "until" in filters:
        where.append(audit.c.ts < _p("until"))
    count = sa.select(sa.func.count()).select_from(audit).where(*where)
    page = (
        sa.select(*(audit.c[n] for n in AUDIT_LISTED))
        .where(*where)
        .order_by(audit.c.seq.desc())
        .limit(_p("limit"))
        .offset(_p("offset"))
    )
    return compile_sql(count, dialect), compile_sql(page, dialect)


@cache
def users_page_filtered(dialect: str, *filters: str) -> tuple[str, str]:
    """(count, page) of users by name. `filters` names those set: q (a pattern on the username
    or worker id, lower case), role, disabled, prefix (a jurisdiction pattern: only accounts
    inside an area, never city-wide ones)."""
    where: list[ColumnElement[bool]] = []
    if "q" in filters:
        where.append(
            sa.or_(
                sa.func.lower(users.c.username).like(_p("q"), escape=LIKE_ESCAPE),
                sa.func.lower(sa.func.coalesce(users.c.worker_id, const(""))).like(_p("q"), escape=LIKE_ESCAPE),
            )
        )
    if "role" in filters:
        where.append(users.c.role == _p("role"))
    if "disabled" in filters:
        where.append(users.c.disabled == _p("disabled"))
    if "prefix" in filters:
        where.append(users.c.jurisdiction.like(_p("prefix"), escape=LIKE_ESCAPE))
    count = sa.select(sa.func.count()).select_from(users).where(*where)
    page = sa.select(*users.columns).where(*where).order_by(users.c.username).limit(_p("limit")).offset(_p("offset"))
    return compile_sql(count, dialect), compile_sql(page, dialect)
