"""Hotspots (热点预警): GET /api/hotspots, GET /api/hotspots/series, and the live alerts.

The rule lives in dispatch.hotspots. The endpoints recount from stored cases on each
call; `watch` keeps a tracker fed from the bus and publishes a `hotspot` event on the
`hotspots` channel when an area turns hot.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.basedata_analysis import per_residents
from command_center.api.errors import ApiError, bounded_float_param, int_param
from command_center.api.kpi import ZONE_SLACK
from command_center.auth.middleware import principal_of
from command_center.events import Event
from command_center.store import CaseQuery
from dispatch.city import LEVELS, City, Level
from dispatch.hotspots import (
    HotspotRule,
    HotspotTracker,
    Occurrence,
    area_key,
    counts,
    find_hotspots,
    occurrences_of,
)

if TYPE_CHECKING:
    from command_center.bus import Bus
    from command_center.city_map import CityMap
    from command_center.config import Config
    from command_center.store import Store

log = logging.getLogger(__name__)
MAX_SPAN = timedelta(days=92)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NAMED = {"hour": "1h", "hourly": "1h", "day": "1d", "daily": "1d", "week": "7d"}


async def hotspots(request: Request) -> JSONResponse:
    rule, level, at = _query(request)
    by = request.query_params.get("by", "area")
    if by not in ("area", "matter"):
        raise ApiError(400, "bad query parameter 'by'", ["area", "matter"])
    by_matter = by == "matter"
    # per=1000: each area's count per 1,000 of its residents (base data), the highest rate first
    per = int_param(request, "per", 1000, 1, 1_000_000) if "per" in request.query_params else None
    occurrences = await _history(deps.store(request), deps.config(request), rule, at)
    principal = principal_of(request)  # a district officer sees their district's hotspots
    found = [h for h in find_hotspots(occurrences, at, rule, level, by_matter) if principal.sees_area(h.code)]
    limit = int_param(request, "limit", 100, 1, 10_000)
    city = deps.city(request).city
    items = [_view(city, h.to_dict()) for h in (found if per else found[:limit])]
    if per:
        items = (await per_residents(request, items, level, per))[:limit]
    return JSONResponse(
        {
            "at": at.isoformat(),
            "rule": rule.to_dict(),
            "level": level,
            "by": "matter" if by_matter else "area",
            "per": per,
            "total": len(found),
            "items": items,
        }
    )


async def series(request: Request) -> JSONResponse:
    """Counts per window for one area, in all and per matter: the chart behind an alert."""
    code = request.query_params.get("code")
    area = deps.city(request).city.areas.get(code or "")
    if area is None:
        raise ApiError(404 if code else 400, "area not found" if code else "missing query parameter 'code'", code)
    rule, _, at = _query(request)
    occurrences = await _history(deps.store(request), deps.config(request), rule, at)
    mine = [o for o in occurrences if area_key(o.grid_code, area.level) == area.code]
    total = counts(mine, at, rule, area.level).get((area.code, None))
    per_matter = counts(mine, at, rule, area.level, by_matter=True)
    empty = [0] * (rule.baseline + 1)
    return JSONResponse(
        {
            "code": area.code,
            "name": area.name,
            "level": area.level,
            "at": at.isoformat(),
            "rule": rule.to_dict(),
            "series": total.tolist() if total is not None else empty,
            "matters": {m: s.tolist() for (_, m), s in sorted(per_matter.items(), key=lambda kv: str(kv[0][1]))},
        }
    )


async def watch(bus: Bus, store: Store, config: Config, city_map: CityMap, rule: HotspotRule | None = None) -> None:
    """Feed a tracker from case events and publish each area that turns hot.

    It subscribes before reading history, and skips events no newer than that history,
    so a case filed during start-up is counted once.
    """
    tracker = HotspotTracker(rule)
    subscription = bus.subscribe(["cases"], "hotspots")
    now = datetime.now(UTC)
    history = await _history(store, config, tracker.rule, now, strict=False)
    tracker.seed(history)
    cutoff = max((o.ts for o in history), default=now - tracker.rule.span)
    seen = 0
    async for event in subscription:
        try:
            occ = _intake_of(event)
            if occ is None or occ.ts <= cutoff:
                continue
            hot = tracker.add(occ)
            if hot is not None:  # named on the map of the moment (a re-drawn map swaps in)
                await bus.publish(Event("hotspots", "hotspot", _view(city_map.city, hot.to_dict())))
            seen += 1
            if seen % 1000 == 0:
                tracker.prune(occ.ts)
        except Exception:  # one odd event must not end the alerts
            log.exception("hotspot tracking of %s", event.type)


def _intake_of(event: Event) -> Occurrence | None:
    """The intake a case event stands for: a new case, or a duplicate attached to one."""
    data = event.data
    timeline = data.get("timeline") or []
    if event.type == "case.created":
        entry = next((e for e in timeline if e.get("action") == "report"), None)
        ts = entry["ts"] if entry else data.get("created_at")
    elif event.type == "case.updated" and timeline and timeline[-1].get("action") == "attach":
        ts = timeline[-1]["ts"]
    else:
        return None
    if not ts or not data.get("grid_code"):
        return None
    return Occurrence(datetime.fromisoformat(ts), data["grid_code"], data.get("matter_code") or "")


async def _history(
    store: Store, config: Config, rule: HotspotRule, at: datetime, strict: bool = True
) -> list[Occurrence]:
    """The intakes the rule looks at, from cases created in its span (in SQL), at most
    limits.query_max_cases of them: past that an API call is refused (narrow the window or
    the baseline), and the live tracker seeds from the cases due soonest and says so."""
    # Duplicates attach to a case only within the dedupe window after it was filed.
    since = at - rule.span - timedelta(minutes=config.dispatch.dedupe_window_min)
    query = CaseQuery(created_since=since, created_before=at + ZONE_SLACK, limit=0)
    cap = config.limits.query_max_cases
    _, total = await asyncio.to_thread(store.list_cases, query)
    if total > cap:
        if strict:
            detail = {"cases": total, "limit": cap, "hint": "a shorter 'window' or fewer 'baseline' windows"}
            raise ApiError(400, "too many cases in this span", detail)
        log.warning("hotspot history: %d cases in the span, seeding from %d", total, cap)
    cases, _ = await asyncio.to_thread(store.list_cases, replace(query, limit=cap))
    return occurrences_of(cases)


def _view(city: City, hot: dict[str, Any]) -> dict[str, Any]:
    area = city.areas.get(hot["code"])
    hot["name"] = area.name if area else None
    hot["centre"] = {"lon": area.lon, "lat": area.lat} if area else None
    return hot


def _query(request: Request) -> tuple[HotspotRule, Level, datetime]:
    params = request.query_params
    window = parse_window(params.get("window", "1h"))
    baseline = int_param(request, "baseline", 24, 1, 1000)
    if window * (baseline + 1) > MAX_SPAN:
        raise ApiError(400, "window × (baseline + 1) is too long", f"at most {MAX_SPAN.days} days")
    k = bounded_float_param(request, "k", 3.0, 0.0, 100.0)
    min_count = int_param(request, "min_count", 3, 1, 1_000_000)
    level = params.get("level", "grid")
    if level not in LEVELS[1:]:
        raise ApiError(400, "bad query parameter 'level'", list(LEVELS[1:]))
    raw_at = params.get("at")
    try:
        at = datetime.fromisoformat(raw_at) if raw_at else datetime.now(UTC)
    except ValueError:
        raise ApiError(400, "bad query parameter 'at'", "an ISO 8601 time") from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return HotspotRule(window, baseline, k, min_count), level, at


def parse_window(raw: str) -> timedelta:
    """'1h', '30m', '1d', '90s', 'hour', 'day', or plain seconds; one minute to 31 days."""
    text = _NAMED.get(raw.strip().lower(), raw.strip().lower())
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text)
    if match is None:
        raise ApiError(400, "bad query parameter 'window'", "e.g. 1h, 30m, 1d, hour, day, or seconds")
    value = timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])
    if not timedelta(minutes=1) <= value <= timedelta(days=31):
        raise ApiError(400, "bad query parameter 'window'", "between 1 minute and 31 days")
    return value



routes: list[BaseRoute] = [
    Route("/api/hotspots", hotspots),
    Route("/api/hotspots/series", series),
]
