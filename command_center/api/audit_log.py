"""GET /api/audit: the audit log, newest first, with filters (city administrators; the policy says)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.errors import ApiError, int_param, text_param


def _utc_param(request: Request, name: str) -> str | None:
    """An ISO time query parameter as UTC ISO text, comparable with the audit rows' ts."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ApiError(
            400, f"bad query parameter {name!r}", "an ISO 8601 time, e.g. 2024-05-01T08:00:00+08:00"
        ) from None
    return when.isoformat()


async def audit_log(request: Request) -> JSONResponse:
    """Newest first. `action` ending in "." is a prefix ("user." → every user change)."""
    limit = int_param(request, "limit", 100, 1, 1000)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    action = text_param(request, "action")
    prefix = action if action and action.endswith(".") else None
    filters = {"action_prefix": prefix, "target": text_param(request, "target"),
               "since": _utc_param(request, "since"), "until": _utc_param(request, "until")}  # fmt: skip
    items, total = await asyncio.to_thread(
        deps.store(request).list_audit,
        limit,
        offset,
        text_param(request, "actor"),
        None if prefix else action,
        **filters,
    )
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})


routes: list[BaseRoute] = [Route("/api/audit", audit_log)]
