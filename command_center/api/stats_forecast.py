"""Forecast and early warning (预测预警) of the statistics: GET /api/stats/forecast and
/api/stats/alerts (docs/STATS.md, "Forecast and alerts"). Roles and scope as the rest of
/api/stats (api/stats.py's `asked`: an area outside the jurisdiction is a 403).

- forecast: next week's cases (today and the six days after) of the area, per matter class
  and per child area, from a year of daily counts summed by the database
  (store/stats_series.py) and fitted by command_center/stats_forecast.py; with the model's
  error on the last 8 held-out weeks against seasonal-naive;
- alerts: today's cases so far per child area and class, and per ~100 m cell, against the
  same weekday of the last 8 weeks up to the same time of day (holidays left out of that
  baseline; on a holiday it is scaled by the area's past holidays), flagged where the
  Poisson chance of so many is below ALERT_P.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from scipy.stats import poisson
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import stats_forecast as model
from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.api.stats import CELL, CLASS_NAMES, area_json, asked, cases_url, records
from command_center.store.stats_facts import CLASS_CODES
from command_center.store.stats_queries import StatsQuery
from command_center.store.stats_series import PAST
from dispatch.city import LEVELS, Area
from dispatch.city.codes import significant_digits

HISTORY_DAYS = 364  # a year of days before today: the profile, the holidays, the held-out weeks
HISTORY_SHOWN = 56  # the chart's last 8 weeks
ALERT_P = 0.01
ALERT_LEAST = 3  # fewer cases today are never an alert
MOST_ALERTS = 50


def _today(request: Request) -> tuple[date, datetime]:
    now = deps.city_now(request)
    return now.date(), now


def _holidays(request: Request) -> frozenset[date]:
    return frozenset(deps.dispatcher(request).calendar.config.holidays)


def _children(request: Request, area: Area) -> tuple[int, list[Area]]:
    city = deps.city(request).city
    if area.level == "grid":
        return significant_digits("grid"), []
    kids = sorted((a for a in city.areas.values() if a.parent == area.code), key=lambda a: a.code)
    return significant_digits(LEVELS[LEVELS.index(area.level) + 1]), kids


def _klass(request: Request) -> str | None:
    raw = request.query_params.get("class") or None
    if raw is not None and raw not in CLASS_CODES:
        raise ApiError(400, "bad query parameter 'class'", list(CLASS_CODES))
    return raw


def _grid(rows: list[Any], first: date, n: int) -> dict[tuple[str, str], np.ndarray]:
    """Each (child, class)'s daily counts as an array of n days from `first`."""
    out: dict[tuple[str, str], np.ndarray] = {}
    for day, child, klass, cases in rows:
        series = out.setdefault((child, klass), np.zeros(n))
        series[(date.fromisoformat(day) - first).days] += float(cases)
    return out


def _sum(
    series: dict[tuple[str, str], np.ndarray], n: int, child: str | None = None, klass: str | None = None
) -> np.ndarray:
    total = np.zeros(n)
    for (c, k), values in series.items():
        if (child is None or c == child) and (klass is None or k == klass):
            total += values
    return total


def _week(y: np.ndarray, first: date, holidays: frozenset[date]) -> dict[str, float]:
    f = model.forecast(y, first, holidays)
    return {"last_week": int(y[-7:].sum()), "next_week": round(float(f.mean.sum()), 1),
            "lo": round(float(f.lo.sum()), 1), "hi": round(float(f.hi.sum()), 1)}  # fmt: skip


def _forecast_body(series: dict[tuple[str, str], np.ndarray], first: date, n: int, holidays: frozenset[date],
                   klass: str | None, children: list[Area], digits: int) -> dict[str, Any]:  # fmt: skip
    y = _sum(series, n, klass=klass)
    f = model.forecast(y, first, holidays)
    test = model.backtest(y, first, holidays)
    shown = [
        {"day": (first + timedelta(days=i)).isoformat(), "count": int(y[i])}
        for i in range(n - HISTORY_SHOWN, n)
    ]
    ahead = [{"day": (first + timedelta(days=n + i)).isoformat(), "count": round(float(f.mean[i]), 1),
              "lo": round(float(f.lo[i]), 1), "hi": round(float(f.hi[i]), 1)} for i in range(len(f.mean))]  # fmt: skip
    ours, naive = test["ours"], test["naive"]
    error = {
        "weeks": 8,
        "mape": ours.mape,
        "mase": ours.mase,
        "naive_mape": naive.mape,
        "naive_mase": naive.mase,
    }
    classes = [{"class": c, "class_name": CLASS_NAMES[c]} | _week(_sum(series, n, klass=c), first, holidays)
               for c in CLASS_CODES if klass in (None, c)]  # fmt: skip
    areas = [
        area_json(a) | _week(_sum(series, n, child=a.code[:digits], klass=klass), first, holidays)
        for a in children
    ]
    return {"history": shown, "forecast": ahead, "error": error, "classes": classes, "areas": areas}


async def forecast(request: Request) -> JSONResponse:
    ask, klass = asked(request), _klass(request)
    today, _ = _today(request)
    digits, children = _children(request, ask.area)
    first = today - timedelta(days=HISTORY_DAYS)
    query = StatsQuery(start=first, end=today - timedelta(days=1), prefix=ask.query.prefix)
    rows = await asyncio.to_thread(records(request).daily_counts, query, digits)
    series = _grid(rows, first, HISTORY_DAYS)
    body = await asyncio.to_thread(
        _forecast_body, series, first, HISTORY_DAYS, _holidays(request), klass, children, digits
    )
    return JSONResponse({"area": area_json(ask.area), "class": klass, "today": today.isoformat()} | body)


def _cuts(today: date, now: datetime) -> dict[str, str]:
    """Today and the same weekday of the last PAST weeks (d0 … d8), each up to now's time of day (c0 … c8)."""
    params = {}
    for i in range(PAST + 1):
        day = today - timedelta(days=7 * i)
        params[f"d{i}"] = day.isoformat()
        params[f"c{i}"] = datetime.combine(day, now.timetz()).astimezone(UTC).isoformat()
    return params


def _flag(observed: int, expected: float) -> dict[str, Any] | None:
    lam = max(expected, 0.5)  # never seen here before: still not alarming for one or two
    p = float(poisson.sf(observed - 1, lam))
    if observed < ALERT_LEAST or p >= ALERT_P:
        return None
    return {
        "observed": observed,
        "expected": round(expected, 2),
        "ratio": round(observed / lam, 2),
        "p": round(p, 6),
    }


def _baseline(counts: dict[str, int], days: list[str], holidays: frozenset[date]) -> float:
    usable = [d for d in days if date.fromisoformat(d) not in holidays] or days
    return sum(counts.get(d, 0) for d in usable) / len(usable)


def _area_alerts(rows: list[Any], params: dict[str, str], holidays: frozenset[date], scale: float,
                 names: dict[str, Area], query: StatsQuery) -> list[dict[str, Any]]:  # fmt: skip
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for day, child, klass, n in rows:
        counts.setdefault((child, klass), {})[day] = int(n)
    past = [params[f"d{i}"] for i in range(1, PAST + 1)]
    found = []
    for (child, klass), by_day in counts.items():
        flagged = _flag(by_day.get(params["d0"], 0), _baseline(by_day, past, holidays) * scale)
        area = names.get(child)
        if flagged is not None and area is not None:
            found.append(area_json(area) | {"class": klass, "class_name": CLASS_NAMES.get(klass, klass)} | flagged
                         | {"cases_url": cases_url(_on(query, params["d0"]), child)})  # fmt: skip
    return found


def _cell_alerts(rows: list[Any], params: dict[str, str], holidays: frozenset[date], scale: float,
                 query: StatsQuery) -> list[dict[str, Any]]:  # fmt: skip
    cells: dict[tuple[int, int], tuple[int, dict[str, int]]] = {}
    for x, y, day, n, today_n in rows:
        _, by_day = cells.setdefault((int(x), int(y)), (int(today_n), {}))
        if day is not None:
            by_day[day] = int(n)
    past = [params[f"d{i}"] for i in range(1, PAST + 1)]
    found = []
    for (x, y), (today_n, by_day) in cells.items():
        flagged = _flag(today_n, _baseline(by_day, past, holidays) * scale)
        if flagged is not None:
            found.append(
                {"lon": x / CELL, "lat": y / CELL}
                | flagged
                | {"cases_url": cases_url(_on(query, params["d0"]))}
            )
    return found


def _on(query: StatsQuery, day: str) -> StatsQuery:
    return StatsQuery(start=date.fromisoformat(day), end=date.fromisoformat(day), prefix=query.prefix)


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["p"], -r["ratio"]))[:MOST_ALERTS]


async def alerts(request: Request) -> JSONResponse:
    ask = asked(request)
    today, now = _today(request)
    digits, children = _children(request, ask.area)
    if not children:  # a grid: itself
        digits, children = len(ask.query.prefix), [ask.area]
    params = _cuts(today, now)
    stats, holidays = records(request), _holidays(request)
    area_rows, cell_rows = await asyncio.to_thread(stats.same_time, ask.query, params, digits)
    scale = 1.0
    if today in holidays:  # the same weekdays were working days: scale by the area's past holidays
        first = today - timedelta(days=HISTORY_DAYS)
        query = StatsQuery(start=first, end=today - timedelta(days=1), prefix=ask.query.prefix)
        rows = await asyncio.to_thread(stats.daily_counts, query, len(ask.query.prefix))
        scale = model.holiday_factor(_sum(_grid(rows, first, HISTORY_DAYS), HISTORY_DAYS), first, holidays)
    names = {a.code[:digits]: a for a in children}
    return JSONResponse({
        "area": area_json(ask.area), "day": today.isoformat(), "as_of": now.strftime("%H:%M"),
        "holiday": today in holidays, "baseline_weeks": PAST,
        "areas": _ranked(_area_alerts(area_rows, params, holidays, scale, names, ask.query)),
        "cells": _ranked(_cell_alerts(cell_rows, params, holidays, scale, ask.query)),
    })  # fmt: skip


routes: list[BaseRoute] = [
    Route("/api/stats/forecast", forecast),
    Route("/api/stats/alerts", alerts),
]
