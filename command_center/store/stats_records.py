"""The statistics of a store (either database): store/stats_queries.py's statements run on the
store's own connections (StoreAccess), answers as plain sums and rows; the rates are
`figures`, computed from the sums with dispatch/kpi.py's definitions.

Also the upkeep of `case_daily` and its roll-ups: `refresh` (the stats job: the dirty days summed again)
and `rebuild` (everything, after a bulk load).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from command_center.store.access import StoreAccess
from command_center.store.stats_daily import (
    dirty_days,
    rebuild_all,
    refresh_days,
    refresh_rollups,
    stale_months,
)
from command_center.store.stats_facts import matter_class
from command_center.store.stats_hotspots import bounded_hotspots
from command_center.store.stats_queries import (
    DAILY_DEPTH,
    HOTSPOT_MOST,
    SUMS,
    StatsQuery,
    areas_sql,
    hotspots_sql,
    matters_sql,
    series_sql,
    street_areas_sql,
    summary_sql,
)
from command_center.store.stats_series import daily_sql, same_time_counts

STREET_DIGITS = 9  # case_monthly_street's area

Sums = dict[str, float]


@dataclass(frozen=True, slots=True)
class Hotspot:
    cell_x: int
    cell_y: int
    cases: int
    top_matter: str


class StatsStore(Protocol):
    """What the statistics API reads (both databases answer it alike)."""

    def summary(self, query: StatsQuery) -> Sums: ...

    def series(self, query: StatsQuery, by: str) -> list[tuple[str, str, int]]: ...

    def areas(self, query: StatsQuery, digits: int) -> dict[str, Sums]: ...

    def matters(self, query: StatsQuery) -> list[tuple[str, str, Sums]]: ...

    def hotspots(self, query: StatsQuery, most: int) -> list[Hotspot]: ...


def _sums(row: Any) -> Sums:
    return {
        name: (float(v) if name == "sum_close_min" else int(v or 0))
        for name, v in zip(SUMS, row, strict=True)
    }


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def figures(sums: Sums) -> dict[str, Any]:
    """cases, closed and the rates of dispatch/kpi.py from a row of sums."""
    cases, closed, deferred = int(sums["cases"]), int(sums["closed"]), int(sums["deferred"])
    due = cases - deferred
    return {
        "cases": cases,
        "closed": closed,
        "on_time_rate": _ratio(sums["closed_on_time"], due),
        "closure_rate": _ratio(closed, due),
        "rework_rate": _ratio(sums["reworked"], closed),
        "mean_close_min": round(sums["sum_close_min"] / closed, 2) if closed else None,
    }


class StatsRecords:
    """The statistics of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.dialect = store.dialect

    def _all(self, sql: str, params: dict[str, Any]) -> list[Any]:
        with self.store._reading() as db:
            return db.execute(sql, params).fetchall()

    def summary(self, query: StatsQuery) -> Sums:
        return _sums(self._all(summary_sql(self.dialect, query.daily, query.filters), query.params())[0])

    def series(self, query: StatsQuery, by: str) -> list[tuple[str, str, int]]:
        """(day, key, cases) per day and key (source or matter_class), in order."""
        rows = self._all(series_sql(self.dialect, query.daily, query.filters, by), query.params())
        if by == "source":
            return [(day, key, int(n)) for day, key, n in rows]
        classes: dict[tuple[str, str], int] = {}
        for day, matter, n in rows:  # a matter's class: its code's first digits (stats_facts.matter_class)
            point = (day, matter_class(matter))
            classes[point] = classes.get(point, 0) + int(n)
        return [(day, key, n) for (day, key), n in sorted(classes.items())]

    def areas(self, query: StatsQuery, digits: int) -> dict[str, Sums]:
        """The sums per child area (its first `digits` of code) that has cases."""
        daily = query.daily and digits <= DAILY_DEPTH  # the daily rows know districts, not streets
        if query.daily and digits == STREET_DIGITS and "matter" not in query.filters:  # a district's streets
            rows = self._all(street_areas_sql(self.dialect, query.filters), query.params())
        else:
            rows = self._all(areas_sql(self.dialect, daily, query.filters, digits), query.params())
        return {code: _sums(rest) for code, *rest in rows}

    def matters(self, query: StatsQuery) -> list[tuple[str, str, Sums]]:
        """(matter code, class code, sums), most cases first."""
        rows = self._all(matters_sql(self.dialect, query.daily, query.filters), query.params())
        return [(code, klass, _sums(rest)) for code, klass, *rest in rows]

    def hotspots(self, query: StatsQuery, most: int) -> list[Hotspot]:
        most = min(most, HOTSPOT_MOST)
        params = query.params() | {"most": most, "skip": 0}
        snapshot = getattr(
            self.store, "_snapshot", self.store._reading
        )  # PostgreSQL: one snapshot for the steps
        with snapshot() as db:
            if query.daily:  # the city or a district: candidates bounded by the monthly cells
                spots = bounded_hotspots(
                    db, self.dialect, params, query.filters, query.start, query.end, most
                )
                if spots is not None:
                    return [Hotspot(x, y, n, matter) for x, y, n, matter in spots]
            rows = db.execute(hotspots_sql(self.dialect, query.filters), params).fetchall()
        found: dict[tuple[int, int], Hotspot] = {}
        # Ordered by cell, then its matters by count (ties by code): a cell's first row names its top matter.
        for x, y, n, matter, _ in rows:
            found.setdefault((int(x), int(y)), Hotspot(int(x), int(y), int(n), matter))
        return list(found.values())

    def daily_counts(self, query: StatsQuery, digits: int) -> list[Any]:
        """(day, child area (first `digits`), class, cases) per day of the period (the forecast)."""
        daily = query.daily and digits <= DAILY_DEPTH  # the roll-ups know districts, not streets
        return self._all(daily_sql(self.dialect, daily, digits), query.params())

    def same_time(self, query: StatsQuery, cuts: dict[str, str], digits: int) -> tuple[list[Any], list[Any]]:
        """Today's and the same weekdays' cases up to the same time (store/stats_series.py)."""
        with self.store._reading() as db:
            return same_time_counts(db, self.dialect, query.params() | cuts, digits)

    # upkeep
    def refresh(self, most_days: int = 31, rollups: bool = True) -> int:
        """Sum the dirty days again (at most `most_days`, oldest first, a month per
        transaction), then (`rollups`) the monthly roll-ups of the months marked; how many days."""
        with self.store._reading() as db:
            days = dirty_days(db, most_days)
        months: dict[str, list[str]] = {}
        for day in days:
            months.setdefault(day[:7], []).append(day)
        for month_days in months.values():
            with self.store._writing() as db:
                refresh_days(db, self.dialect, month_days)
        if rollups:
            with self.store._reading() as db:
                stale = stale_months(db)
            for month in stale:
                with self.store._writing() as db:
                    refresh_rollups(db, self.dialect, month)
        return len(days)

    def rebuild(self) -> None:
        with self.store._writing() as db:
            rebuild_all(db)


def stats_store(store: object) -> StatsRecords:
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no statistics")
    return StatsRecords(store)
