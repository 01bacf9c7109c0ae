"""Cases: list, one, and the actions of the case loop."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from command_center.api.errors import ApiError, int_param, json_body
from command_center.runtime import Runtime
from command_center.store import CaseQuery
from dispatch.cases import ACTIONS, CaseState, InvalidTransition
from dispatch.dispatcher import CaseNotFound, ConcurrentUpdate

# Actions that are not for the HTTP API: the system registers and dispatches.
PUBLIC_ACTIONS = tuple(a for a in ACTIONS if a not in ("register", "dispatch"))
MAX_NOTE = 4000


def routes(rt: Runtime) -> list[Route]:
    async def list_cases(request: Request) -> JSONResponse:
        params = request.query_params
        state = params.get("state")
        if state is not None and state not in {s.value for s in CaseState}:
            raise ApiError(400, "bad query parameter 'state'", [s.value for s in CaseState])
        grid = params.get("grid")
        if grid is not None and not (grid.isdigit() and len(grid) <= 15):
            raise ApiError(400, "bad query parameter 'grid'", "a code prefix of up to 15 digits")
        query = CaseQuery(
            open_only=params.get("open", "").lower() in ("1", "true", "yes"),
            state=state,
            assignee=params.get("assignee"),
            grid_prefix=grid,
            limit=int_param(request, "limit", 100, 1, 1000),
            offset=int_param(request, "offset", 0, 0, 10_000_000),
        )
        cases, total = await asyncio.to_thread(rt.store.list_cases, query)
        return JSONResponse(
            {"items": [rt.case_view(c) for c in cases], "total": total, "limit": query.limit, "offset": query.offset}
        )

    async def get_case(request: Request) -> JSONResponse:
        case = await asyncio.to_thread(rt.store.get_case, request.path_params["id"])
        if case is None:
            raise ApiError(404, "case not found", request.path_params["id"])
        return JSONResponse(rt.case_view(case))

    async def act(request: Request) -> JSONResponse:
        case_id, action = request.path_params["id"], request.path_params["action"]
        if action not in PUBLIC_ACTIONS:
            raise ApiError(404, "unknown case action", {"action": action, "known": list(PUBLIC_ACTIONS)})
        body = await json_body(request)
        actor = body.get("actor", "officer")
        note = body.get("note", "")
        if not isinstance(actor, str) or not actor or len(actor) > 64:
            raise ApiError(400, "bad field 'actor'", "a non-empty string of up to 64 characters")
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            raise ApiError(400, "bad field 'note'", f"a string of up to {MAX_NOTE} characters")
        if action == "feedback" and not note.strip():
            raise ApiError(400, "feedback needs a note", "say what was done")
        changes: dict[str, object] = {}
        if action == "merge":
            into = body.get("into")
            if not isinstance(into, str) or into == case_id:
                raise ApiError(400, "merge needs 'into'", "the id of another case")
            if await asyncio.to_thread(rt.store.get_case, into) is None:
                raise ApiError(404, "case to merge into not found", into)
            changes["merged_into"] = into
        try:
            case = await rt.act(case_id, action, actor, note, **changes)
        except CaseNotFound:
            raise ApiError(404, "case not found", case_id) from None
        except InvalidTransition as exc:
            raise ApiError(
                409, "invalid transition", {"state": exc.state.value, "action": action, "allowed": exc.allowed}
            ) from None
        except ConcurrentUpdate as exc:
            raise ApiError(409, "case changed meanwhile", str(exc)) from None
        return JSONResponse(rt.case_view(case))

    return [
        Route("/api/cases", list_cases),
        Route("/api/cases/{id}", get_case),
        Route("/api/cases/{id}/{action}", act, methods=["POST"]),
    ]
