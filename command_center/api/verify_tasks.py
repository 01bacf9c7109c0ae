"""Verification tasks (基础数据定期核实任务): GET /api/basedata/tasks?state=open|overdue|done
&area=&worker=&limit=&offset= lists them, each with its record in words (a building's
name and address, a household's building and room) and the record's version, so the
terminal can mark it 核实无误 in one PATCH.

Who sees what, as the rest of the base data (api/basedata_views.py `scope_of`): a grid
worker their own tasks in their grids (`worker` other than themselves: 403); officers and
admins their jurisdiction, narrowed by `area` (outside it: 403), of one worker if asked.

`closed_by_recheck` is the hook api/basedata.py calls when a record is PATCHed with
`"verified": true`: the record's open task closes in the same request, on time or late.

Mounted before api/basedata.py's routes: /api/basedata/{kind} would take "tasks" as a kind.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from basedata.verify_tasks import TaskState, state
from command_center.api import deps
from command_center.api.basedata_views import KINDS, area_param, scope_of, today
from command_center.api.errors import ApiError, int_param, text_param
from command_center.auth.middleware import principal_of
from command_center.store.verify_task_records import Closed, verify_task_store
from command_center.store.verify_task_views import TaskQuery

log = logging.getLogger(__name__)
STATES: tuple[TaskState, ...] = get_args(TaskState)
PLURAL = {kind: plural for plural, kind in KINDS.items()}  # the URL's name of each kind (PATCH path)
MAX_WORKER_ID = 64


def _state(request: Request) -> TaskState:
    raw = request.query_params.get("state", "open")
    for known in STATES:
        if raw == known:
            return known
    raise ApiError(400, "bad query parameter 'state'", list(STATES))


def _worker(request: Request) -> str | None:
    """A worker's own id whatever they ask (another's: 403); staff: the `worker` asked, if any."""
    who = principal_of(request)
    asked = text_param(request, "worker", MAX_WORKER_ID)
    if not who.is_worker:
        return asked
    if asked is not None and asked != who.worker_id:
        raise ApiError(403, "forbidden", "a worker sees only their own tasks")
    return who.worker_id or ""


def _label(row: dict[str, Any]) -> str:
    """The record in words as the city writes them: a household as its building and room."""
    parts = (
        [row.get("name"), row.get("room")] if row["kind"] in ("household", "person") else [row.get("name")]
    )
    words = " ".join(str(p) for p in parts if p)
    return words or str(row.get("address") or row["record_key"])  # a record since removed: its key


def view(request: Request, row: dict[str, Any], on: date) -> dict[str, Any]:
    """A task as the API shows it: names for the grid, the worker and the record."""
    city = deps.city(request)
    area = city.city.areas.get(row["grid_code"])
    worker = city.workers.get(row["worker_id"]) if row["worker_id"] else None
    due_on = date.fromisoformat(row["due_on"])
    closed = row["closed_at"] is not None
    return {
        "id": int(row["id"]),
        "kind": row["kind"],
        "record_id": row["record_key"],
        "record_path": f"/api/basedata/{PLURAL.get(row['kind'], row['kind'])}/{row['record_key']}",
        "label": _label(row),
        "address": row["address"],
        "version": row["version"],
        "grid_code": row["grid_code"],
        "grid_name": None if area is None else str(area.name),
        "worker_id": row["worker_id"],
        "worker_name": None if worker is None else worker.name,
        "due_on": row["due_on"],
        "opened_on": row["opened_on"],
        "state": state(due_on, closed, on),
        "days_overdue": 0 if closed else max((on - due_on).days, 0),
        "closed_at": row["closed_at"],
        "closed_on": row["closed_on"],
        "closed_by": row["closed_by"],
        "on_time": None if row["on_time"] is None else bool(row["on_time"]),
    }


async def list_tasks(request: Request) -> JSONResponse:
    asked = _state(request)
    area = area_param(request)
    worker = _worker(request)
    limit, offset = int_param(request, "limit", 100, 1, 500), int_param(request, "offset", 0, 0, 10_000_000)
    scope = scope_of(request, area)
    on = today(request)
    query = TaskQuery(scope.prefixes, asked, worker)
    records = verify_task_store(deps.store(request))
    rows, total = await asyncio.to_thread(records.list, query, on, limit, offset)
    items = [view(request, row, on) for row in rows]
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset, "state": asked,
                         "today": on.isoformat()})  # fmt: skip


async def closed_by_recheck(request: Request, kind: str, key: str, by: str) -> Closed | None:
    """A record re-checked through the API closes its open task (api/basedata.py's PATCH
    with `"verified": true`, after the record is stored). Should this fail, the record
    stays re-checked and the next sweep closes the task from the record's new check date."""
    records = verify_task_store(deps.store(request))
    try:
        return await asyncio.to_thread(records.close, kind, key, today(request), by)
    except Exception:  # the re-check is stored and answered; the sweep's settle closes the task
        log.exception("the open task of %s %s could not be closed", kind, key)
        return None


routes: list[BaseRoute] = [Route("/api/basedata/tasks", list_tasks, methods=["GET"])]
