"""Settings changed in the console: the supervision thresholds (督办).

GET /api/settings/supervision   {warn_at, supervise_every_s, defaults, updated_by?, updated_at?}
PUT /api/settings/supervision   {warn_at (0–1), supervise_every_s (1–3600)}  city admins (auth/policy.py)

The configuration's values are the defaults; a stored setting overrides them, applied to
the next supervision sweep on every node (registry/work_calendar.py).
"""

from __future__ import annotations

import asyncio

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import principal_of
from command_center.registry import matters, work_calendar
from command_center.registry.work_calendar import SUPERVISION, SupervisionSettings


async def get_supervision(request: Request) -> JSONResponse:
    config = deps.config(request).dispatch
    found = await asyncio.to_thread(work_calendar.supervision_of, deps.store(request), config)
    defaults = {"warn_at": config.warn_at, "supervise_every_s": config.supervise_every_s}
    return JSONResponse(found | {"defaults": defaults})


async def put_supervision(request: Request) -> JSONResponse:
    principal = principal_of(request)
    try:
        settings = SupervisionSettings.model_validate(await json_body(request, required=True))
    except ValidationError as exc:
        fields = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
        raise ApiError(422, "bad settings", fields) from None
    store = deps.store(request)
    doc = settings.model_dump()
    await asyncio.to_thread(store.put_setting, SUPERVISION, doc, principal.user, matters.now_iso())
    detail = ", ".join(f"{k}={v}" for k, v in doc.items())
    await audit.record(store, request, principal, "settings.supervision", SUPERVISION, detail)
    await deps.registry(request).changed("settings")
    return await get_supervision(request)


routes: list[BaseRoute] = [
    Route("/api/settings/supervision", get_supervision, methods=["GET"]),
    Route("/api/settings/supervision", put_supervision, methods=["PUT"]),
]
