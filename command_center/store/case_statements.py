"""The statements of a case listing (the desk's search, a worker's tasks, the wall's board):
a CaseQuery's filters, as a key of the statement compiled for them and its parameters.

Kept apart from store/queries.py, whose helpers (JSON fields, list parameters) they use.
"""

from __future__ import annotations

from datetime import UTC
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from command_center.store.case_query import CaseQuery
from command_center.store.queries import _in, _json_text, _open, _p, compile_sql, const, list_params, slots
from command_center.store.schema import case_timeline, cases

# LIKE patterns match the user's text literally: its wildcards escaped with "!" (a
# backslash is quoted differently by the two databases), as store/admin_queries.py does.
LIKE_ESCAPE = "!"


def _literal(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def case_filters(query: CaseQuery, dialect: str = "sqlite") -> tuple[tuple[str, ...], dict[str, Any]]:
    """The filters a CaseQuery sets (the key of its compiled statements) and their parameters."""
    params: dict[str, Any] = {}
    if query.state:
        params["state"] = query.state
    nobody = query.assignee == ""  # a worker without a worker id (finding 21): no case is theirs
    if query.assignee:
        params["assignee"] = query.assignee
    if query.grid_prefix:
        params["grid"] = query.grid_prefix + "%"
    if query.created_since is not None:
        params["since"] = query.created_since.astimezone(UTC).isoformat()
    if query.created_before is not None:
        params["before"] = query.created_before.astimezone(UTC).isoformat()
    if query.id_prefix:  # its beginning, or its end (the desk shows a case id's last characters)
        params["id"] = _literal(query.id_prefix) + "%"
        params["id_end"] = "%" + _literal(query.id_prefix)
    if query.matter_code:
        params["matter"] = query.matter_code
    if query.source:
        params["source"] = query.source
    if query.urgency:
        params["urgency"] = query.urgency
    if query.text:
        params["text"] = "%" + _literal(query.text) + "%"
    key = (("open",) if query.open_only else ()) + (("nobody",) if nobody else ()) + tuple(params)
    # One statement per padded length of a list (slots); both lists are short (a state list
    # always, a worker list by its callers: at most SHORT_LIST), so their parameters are the
    # same on either database.
    if query.states:
        key += (f"states{slots(len(query.states))}",)
        params |= list_params("st", list(query.states), dialect)
    if query.assignees:
        key += (f"assignees{slots(len(query.assignees))}",)
        params |= list_params("as", list(query.assignees), dialect)
    if query.unrouted:
        key += ("unrouted",)
    if query.order == "created":
        key += ("newest",)
    return key, params | {"limit": query.limit, "offset": query.offset}


def _case_where(key: tuple[str, ...], dialect: str) -> list[ColumnElement[bool]]:
    """The conditions of a case listing's key (case_filters)."""
    where: list[ColumnElement[bool]] = []
    if "open" in key:
        where.append(_open())
    if "state" in key:
        where.append(cases.c.state == _p("state"))
    for name, column, param in (("states", cases.c.state, "st"), ("assignees", cases.c.assignee, "as")):
        listed = next((k for k in key if k.startswith(name)), None)
        if listed:
            where.append(_in(column, param, int(listed.removeprefix(name)), dialect))
    if "nobody" in key:
        where.append(sa.false())
    if "assignee" in key:
        where.append(cases.c.assignee == _p("assignee"))
    if "unrouted" in key:  # registered and nobody's: the desk's queue
        where.extend((cases.c.state == const("registered"), cases.c.assignee.is_(None)))
    if "grid" in key:
        where.append(cases.c.grid_code.like(_p("grid")))
    if "since" in key:
        where.append(cases.c.created_at >= _p("since"))
    if "before" in key:  # exclusive: [since, before)
        where.append(cases.c.created_at < _p("before"))
    if "id" in key:
        where.append(sa.or_(cases.c.id.like(_p("id"), escape=LIKE_ESCAPE), cases.c.id.like(_p("id_end"), escape=LIKE_ESCAPE)))
    if "matter" in key:
        where.append(cases.c.matter_code == _p("matter"))
    if "source" in key:
        where.append(_json_text(cases.c.doc, "source", dialect) == _p("source"))
    if "urgency" in key:  # cases stored before urgencies existed are routine
        where.append(sa.func.coalesce(_json_text(cases.c.doc, "urgency", dialect), const("routine")) == _p("urgency"))
    if "text" in key:
        # The description is in the document; the notes are the timeline's rows.
        noted = sa.select(case_timeline.c.case_id).where(case_timeline.c.note.ilike(_p("text"), escape=LIKE_ESCAPE))
        described = _json_text(cases.c.doc, "description", dialect).ilike(_p("text"), escape=LIKE_ESCAPE)
        where.append(sa.or_(described, cases.c.id.in_(noted)))
    return where


@cache
def cases_page(dialect: str, key: tuple[str, ...]) -> tuple[str, str]:
    """(count, page) of cases: open first, then by deadline (or, `newest`, by creation, newest
    first), the id breaking ties so that pages never overlap or skip."""
    where = _case_where(key, dialect)
    count = sa.select(sa.func.count()).select_from(cases).where(*where)
    order = (
        (cases.c.created_at.desc(), cases.c.id.desc())
        if "newest" in key
        else (cases.c.is_open.desc(), cases.c.deadline.asc(), cases.c.id)
    )
    page = sa.select(cases.c.doc).where(*where).order_by(*order).limit(_p("limit")).offset(_p("offset"))
    return compile_sql(count, dialect), compile_sql(page, dialect)
