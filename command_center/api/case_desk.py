"""The hall's case desk: search (GET /api/cases), a case's candidates for dispatch, and
bulk actions. One case's reading and actions stay in api/cases.py; bulk runs each case
through the same `cases.perform`, so each is checked, announced and audited alone."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.cases import MAX_NOTE, PUBLIC_ACTIONS, perform, visible_case
from command_center.api.errors import ApiError, int_param, json_body
from command_center.auth import Principal
from command_center.auth.middleware import principal_of
from command_center.city_map import CityMap
from command_center.store import CaseQuery
from command_center.store.case_query import ORDERS
from command_center.store.queries import SHORT_LIST
from command_center.store.verification_records import verification_store
from dispatch.assign import candidate_tiers
from dispatch.cases import OPEN_STATES, URGENCIES, CaseState
from dispatch.city import City, Worker

SOURCES = ("video", "iot", "citizen", "worker", "emergency")
STATES = tuple(s.value for s in CaseState)
OPEN = frozenset(s.value for s in OPEN_STATES)
FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False, "": False}
CASE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TEXT = 200
MAX_CANDIDATES = 200  # a street's workers at most; the desk shows the first ones
BULK_MAX = 200
# What a bulk action may pass on to each case's action (api/cases._action_params reads them).
BULK_PARAMS = frozenset({"worker", "matter", "department", "into", "hours", "days", "until"})
# "+08:00" arrives as " 08:00" when a client leaves the plus of a query string unescaped.
LOST_PLUS = re.compile(r" (\d{2}:?\d{2})$")


def _bad(name: str, expected: object) -> ApiError:
    return ApiError(400, f"bad query parameter {name!r}", expected)


def _choice(request: Request, name: str, known: tuple[str, ...]) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in known:
        raise _bad(name, list(known))
    return raw


def _text(request: Request, name: str, pattern: re.Pattern[str] | None = None, most: int = 64) -> str | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    if len(raw) > most or (pattern is not None and not pattern.match(raw)):
        raise _bad(name, f"up to {most} characters" + (f" matching {pattern.pattern}" if pattern else ""))
    return raw


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "").lower()
    if raw not in FLAGS:
        raise _bad(name, "1 or 0 (true, false)")
    return FLAGS[raw]


def _states(request: Request) -> tuple[bool, tuple[str, ...]]:
    """`state`: one state or a comma list; `open` stands for every open state. (open only, states)"""
    raw = request.query_params.get("state")
    if raw is None or raw == "":
        return False, ()
    names = [n.strip() for n in raw.split(",")]
    if not all(n in STATES or n == "open" for n in names):
        raise _bad("state", {"one or a comma list of": [*STATES, "open"]})
    wanted: set[str] = set()
    for name in names:
        wanted |= OPEN if name == "open" else {name}
    if wanted == OPEN:
        return True, ()  # the indexed is_open column, not a list of seven
    return False, tuple(sorted(wanted))


def _time(request: Request, name: str, zone: tzinfo, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or time; without a zone, the city's. A bare date as `until` means
    the end of that day (until is exclusive)."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(LOST_PLUS.sub(r"+\1", raw))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        if end_of_day and len(raw) == 10:
            moment += timedelta(days=1)
        # In UTC, as the store compares it: a time at either end of the calendar (0001-01-01,
        # 9999-12-31) has no UTC instant, and is refused here rather than fail there.
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _bad(name, "an ISO 8601 date or time, e.g. 2026-12-05 or 2026-12-05T08:00:00+08:00") from None


async def search_cases(request: Request) -> JSONResponse:
    """Cases by id, grid, matter, state, source, worker (`assignee` an id, `worker` a name),
    text, time and urgency; the unrouted queue; in the caller's jurisdiction (a worker:
    their own cases)."""
    zone = deps.dispatcher(request).tz
    open_only, states = _states(request)
    grid, assignee, assignees = _scope(request)
    query = CaseQuery(
        open_only=open_only or _flag(request, "open"),
        states=states,
        assignee=assignee,
        assignees=assignees,
        grid_prefix=grid,
        created_since=_time(request, "since", zone),
        created_before=_time(request, "until", zone, end_of_day=True),
        id_prefix=_text(request, "id", CASE_ID),
        matter_code=_text(request, "matter"),
        source=_choice(request, "source", SOURCES),
        urgency=_choice(request, "urgency", URGENCIES),
        text=_text(request, "q", most=MAX_TEXT),
        unrouted=_flag(request, "unrouted"),
        order=_choice(request, "order", ORDERS) or "deadline",
        limit=int_param(request, "limit", 100, 1, 1000),
        offset=int_param(request, "offset", 0, 0, 10_000_000),
    )
    store = deps.store(request)
    cases, total = await asyncio.to_thread(store.list_cases, query)
    # The desk's rows show 自行消失 / 复发 badges: the page's flags in one read.
    flags = await asyncio.to_thread(verification_store(store).flags_for, [c.id for c in cases])
    view = deps.casework(request).case_view
    items = [view(c) | ({"flags": flags[c.id]} if c.id in flags else {}) for c in cases]
    return JSONResponse({"items": items, "total": total, "limit": query.limit, "offset": query.offset})


def _scope(request: Request) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(grid prefix, assignee, assignees): the caller's jurisdiction narrowing `grid`; a
    worker's own cases only; the workers `worker` names. 403 outside the jurisdiction."""
    grid = _text(request, "grid", re.compile(r"^[0-9]{1,15}$"), 15)
    who, assignee = principal_of(request), _text(request, "assignee")
    if who.is_worker:
        if assignee not in (None, who.worker_id):
            raise ApiError(403, "forbidden", "a worker sees only the cases assigned to them")
        return grid, who.worker_id, ()
    try:
        grid = who.narrow(grid)
    except ValueError as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    named = _text(request, "worker")
    assignees = _workers_named(deps.city(request), named, who) if named else ()
    if named and not assignees:
        assignee = ""  # nobody of that name: no case (the store's "nobody" filter)
    return grid, assignee, assignees


def _workers_named(city: CityMap, text: str, who: Principal) -> tuple[str, ...]:
    """The ids of the workers of the caller's jurisdiction whose name holds `text` (or whose id
    or worker number it is): the first SHORT_LIST by name, a vague name narrowing nothing more."""
    found = [
        w for w in city.workers.values()
        if (text in w.name or text in (w.id, w.code)) and any(who.sees_area(g.grid_code) for g in city.grids_of(w.id))
    ]  # fmt: skip
    return tuple(w.id for w in sorted(found, key=lambda w: (w.name, w.id))[:SHORT_LIST])


def _tier_names(city: City, grid_code: str) -> list[str]:
    """What candidate_tiers' tiers are: the grid's own, then its parents' levels upward."""
    names = ["grid"]
    area = city.areas.get(grid_code)
    parent = area.parent if area else None
    while len(names) < 3 and parent is not None and parent in city.areas:
        names.append(city.areas[parent].level)
        parent = city.areas[parent].parent
    return names


async def candidates(request: Request) -> JSONResponse:
    """Who could take the case: its grid's workers, then the community's, then the street's
    (dispatch.assign's tiers); on duty first, then the least loaded; and the departments."""
    case = await visible_case(request, request.path_params["id"])
    city_map, dispatcher = deps.city(request), deps.dispatcher(request)
    city = city_map.city
    now = dispatcher.clock().astimezone(dispatcher.tz)
    found: dict[str, tuple[int, Worker]] = {}
    for tier, workers in enumerate(candidate_tiers(city, case.grid_code)):
        for worker in workers:
            found.setdefault(worker.id, (tier, worker))
    load = await asyncio.to_thread(deps.store(request).open_counts, list(found)) if found else {}
    names = _tier_names(city, case.grid_code)
    rows = []
    for worker_id, (tier, worker) in found.items():
        grids = city_map.grids_of(worker_id) or [worker]
        rows.append({
            "id": worker_id,
            "name": worker.name,
            "grids": [city.areas[g.grid_code].name for g in grids if g.grid_code in city.areas],
            "on_duty": any(g.on_duty(now) for g in grids),
            "load": load.get(worker_id, 0),
            "tier": names[min(tier, len(names) - 1)],
            "assigned": worker_id == case.assignee,
            "_rank": tier,
        })  # fmt: skip
    rows.sort(key=lambda r: (not r["on_duty"], r["load"], r["_rank"], r["name"], r["id"]))
    for row in rows:
        del row["_rank"]
    try:
        own = dispatcher.matter_of(case).department
    except (KeyError, ValueError):
        own = None
    return JSONResponse({
        "workers": rows[:MAX_CANDIDATES],
        "departments": sorted(dispatcher.departments),
        "department": own,  # the matter's own: a transfer's default
    })  # fmt: skip


def _bulk_body(body: dict[str, Any]) -> tuple[list[str], str, dict[str, Any]]:
    """(ids, action, the body each case's action gets), or 400 naming the field."""
    ids, action, note, params = body.get("ids"), body.get("action"), body.get("note", ""), body.get("params", {})
    if not isinstance(ids, list) or not 1 <= len(ids) <= BULK_MAX or not all(isinstance(i, str) and i for i in ids):
        raise ApiError(400, "bad field 'ids'", f"a list of 1 to {BULK_MAX} case ids")
    if action not in PUBLIC_ACTIONS:
        raise ApiError(400, "bad field 'action'", list(PUBLIC_ACTIONS))
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ApiError(400, "bad field 'note'", f"a string of up to {MAX_NOTE} characters")
    if not isinstance(params, dict) or set(params) - BULK_PARAMS:
        raise ApiError(400, "bad field 'params'", {"known": sorted(BULK_PARAMS)})
    return list(dict.fromkeys(ids)), action, {**params, "note": note}


async def bulk(request: Request) -> JSONResponse:
    """One action on many cases, each on its own: one failing (not visible, wrong state)
    does not stop the rest; each result says how it went."""
    ids, action, each = _bulk_body(await json_body(request, required=True))
    results: list[dict[str, Any]] = []
    for case_id in ids:
        try:
            case = await perform(request, case_id, action, dict(each))
        except ApiError as exc:
            results.append({"id": case_id, "ok": False, "status": exc.status_code, "error": exc.error})
            continue
        results.append({"id": case_id, "ok": True, "state": case.state.value})
    return JSONResponse({"results": results})


routes: list[BaseRoute] = [
    Route("/api/cases", search_cases, methods=["GET"]),
    Route("/api/cases/bulk", bulk, methods=["POST"]),
    Route("/api/cases/{id}/candidates", candidates, methods=["GET"]),
]
