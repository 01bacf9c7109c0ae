"""A generated year of cases for the statistics (`command-center stats generate`, the tests and
`bench stats`): written straight into `cases`, `case_timeline` and `case_facts` in bulk,
then `case_daily` summed once.

Realistic enough to read like a city's year: more cases on working days than at weekends
(Mondays most), a summer swell, far fewer over the Spring Festival and Golden Week; by the hour (a morning and an
afternoon peak, little at night); a skewed matter mix (a few matters make most cases);
sources by matter (video for what the cameras see, IoT and emergencies for their own);
a few grids far busier than the rest, and recurring spots (half of a grid's cases at its
three usual places). Outcomes: most cases closed, mostly on time; some reworked, deferred,
merged, cancelled; the last days' cases still open. Every case is a real `Case` with the
timeline entries the figures read (dispatch, accept, defer, return, close), and its facts
are computed by the stores' own function (store/stats_facts.py).

Deterministic for a seed. Bulk: SQLite executemany in transactions of CHUNK cases; on
PostgreSQL COPY.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tqdm import tqdm

from command_center.store.access import StoreAccess
from command_center.store.columns import case_columns, timeline_params
from command_center.store.queries import CASE_FIELDS, TIMELINE_FIELDS, copy_into
from command_center.store.stats_facts import DEFAULT_ZONE, FACT_FIELDS, fact_params, fact_statements
from command_center.store.stats_records import stats_store
from dispatch.cases import Case, CaseState, TimelineEntry
from dispatch.catalog import Catalog
from dispatch.city import City

CHUNK = 20_000
SAMPLE_CATALOG = Path(__file__).resolve().parent.parent / "configs" / "matters.yaml"
S = CaseState
# Days off with few cases (2026's public holidays: New Year, Spring Festival, Qingming, Labour
# Day, Dragon Boat, Mid-Autumn and National Day).
HOLIDAYS = {(1, 1), *((2, d) for d in range(15, 24)), (4, 5), *((5, d) for d in range(1, 6)), (6, 19),
            (9, 25), *((10, d) for d in range(1, 9))}  # fmt: skip
# Mondays busiest (the weekend's finds reported), Fridays lighter, weekends far fewer.
WEEKDAY_WEIGHTS = (1.1, 1.03, 1.0, 0.97, 0.92, 0.74, 0.68)
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 8, 12, 13, 12, 10, 8, 9, 11, 12, 11, 9, 7, 5, 4, 3, 2, 1)
SOURCES = ("citizen", "worker", "video", "iot", "emergency")
ACTORS = ("W1", "W2", "hall")


@dataclass(frozen=True, slots=True)
class Place:
    grid_code: str
    lon: float
    lat: float


def _day_weights(year: int) -> list[tuple[date, float]]:
    days, day = [], date(year, 1, 1)
    while day.year == year:
        weight = WEEKDAY_WEIGHTS[day.weekday()]
        if (day.month, day.day) in HOLIDAYS:
            weight = 0.45
        weight *= 1.0 + 0.25 * (day.month in (6, 7, 8))  # summer: more garbage, stalls, noise
        # and a smooth yearly swell peaking in late July (the forecast's seasonality to find)
        weight *= 1.0 + 0.12 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 205) / 365)
        days.append((day, weight))
        day += timedelta(days=1)
    return days


def _places(city: City, rng: random.Random) -> tuple[list[Place], list[float], dict[str, list[Place]]]:
    """Each grid's point and weight (a few busy), and its three recurring spots."""
    grids = [Place(a.code, a.lon, a.lat) for a in city.grids]
    weights = [rng.paretovariate(1.6) for _ in grids]
    spots = {
        g.grid_code: [Place(g.grid_code, g.lon + rng.uniform(-0.002, 0.002), g.lat + rng.uniform(-0.002, 0.002)) for _ in range(3)]
        for g in grids
    }  # fmt: skip
    return grids, weights, spots


def _source(matter: Any, rng: random.Random) -> str:
    if matter.klass == "突发事件" and rng.random() < 0.3:
        return "emergency"
    if (matter.rules or matter.labels) and rng.random() < 0.45:
        return "video"
    if rng.random() < 0.04:
        return "iot"
    return "citizen" if rng.random() < 0.55 else "worker"


def _entry(ts: datetime, action: str, frm: CaseState, to: CaseState, actor: str = "W1") -> TimelineEntry:
    return TimelineEntry(ts, action, actor, frm, to)


def _outcome(
    created: datetime, limit_h: float, now: datetime, rng: random.Random
) -> tuple[CaseState, list[TimelineEntry], int]:
    """The case's state, its timeline entries and its returns (rework)."""
    dispatched = created + timedelta(minutes=rng.uniform(0.5, 20))
    steps = [_entry(created, "register", S.REPORTED, S.REGISTERED, "system"),
             _entry(dispatched, "dispatch", S.REGISTERED, S.DISPATCHED, "system")]  # fmt: skip
    roll = rng.random()
    if roll < 0.015:
        return (
            S.MERGED,
            [*steps, _entry(dispatched + timedelta(minutes=5), "merge", S.DISPATCHED, S.MERGED, "hall")],
            0,
        )
    if roll < 0.03:
        return (
            S.CANCELLED,
            [*steps, _entry(dispatched + timedelta(minutes=3), "cancel", S.DISPATCHED, S.CANCELLED, "hall")],
            0,
        )
    accepted = dispatched + timedelta(minutes=rng.lognormvariate(2.5, 0.8))
    if accepted > now:
        return S.DISPATCHED, steps, 0
    steps.append(_entry(accepted, "accept", S.DISPATCHED, S.ACCEPTED))
    took = timedelta(hours=limit_h * rng.lognormvariate(-0.4, 0.6))
    if rng.random() < 0.03:  # deferred: the clock stopped a while
        steps += [_entry(accepted + timedelta(minutes=30), "defer", S.ACCEPTED, S.DEFERRED),
                  _entry(accepted + timedelta(hours=30), "resume", S.DEFERRED, S.ACCEPTED)]  # fmt: skip
        took += timedelta(hours=30)
    returns = int(rng.random() < 0.05)
    closed = accepted + took + timedelta(hours=6 * returns)
    if closed > now or rng.random() < 0.02:  # still being worked on (or stuck)
        return S.IN_PROGRESS, steps, 0
    if returns:
        steps.append(_entry(accepted + took, "return", S.FEEDBACK, S.DISPATCHED, "hall"))
    steps += [_entry(closed - timedelta(minutes=20), "feedback", S.IN_PROGRESS, S.FEEDBACK),
              _entry(closed, "close", S.FEEDBACK, S.CLOSED, "hall")]  # fmt: skip
    return S.CLOSED, steps, returns


class _Cases:
    """Draws cases one by one."""

    def __init__(self, city: City, catalog: Catalog, year: int, now: datetime, seed: int, zone: tzinfo) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.zone = zone  # the city's: the cases' hours are its local hours
        self.days = _day_weights(year)
        self.grids, self.grid_weights, self.spots = _places(city, self.rng)
        self.matters = catalog.matters
        self.matter_weights = [1 / (i + 1) ** 0.9 for i in range(len(self.matters))]
        self.limits = {m.code: catalog.time_limit_hours(m) for m in self.matters}

    def days_of(self, n: int) -> list[date]:
        """The creation days of n cases, in order: the cases are written day after day, so
        their ids and days go into the indexes at the end, not all over them."""
        return sorted(self.rng.choices([d for d, _ in self.days], [w for _, w in self.days], k=n))

    def draw(self, days: list[date], first: int) -> Iterator[Case]:
        rng, tz, n = self.rng, self.zone, len(days)
        hours = rng.choices(range(24), HOUR_WEIGHTS, k=n)
        grids = rng.choices(self.grids, self.grid_weights, k=n)
        matters = rng.choices(self.matters, self.matter_weights, k=n)
        for i in range(n):
            local = datetime(
                days[i].year,
                days[i].month,
                days[i].day,
                hours[i],
                rng.randrange(60),
                rng.randrange(60),
                tzinfo=tz,
            )
            created = local.astimezone(UTC)
            if created > self.now:
                continue
            grid, matter = grids[i], matters[i]
            place = rng.choice(self.spots[grid.grid_code]) if rng.random() < 0.5 else grid
            jitter = 0.0001 if place is not grid else 0.003
            limit_h = self.limits[matter.code]
            state, steps, returns = _outcome(created, limit_h, self.now, rng)
            yield Case(
                id=f"G{days[i]:%Y%m%d}-{first + i:07d}-{rng.getrandbits(32):08x}", state=state, matter_code=matter.code,
                grid_code=grid.grid_code, source=_source(matter, rng), created_at=created,
                deadline=steps[1].ts + timedelta(hours=limit_h * 1.4), lon=round(place.lon + rng.uniform(-jitter, jitter), 6),
                lat=round(place.lat + rng.uniform(-jitter, jitter), 6), assignee="W1", urgency=matter.urgency,
                returns=returns, version=len(steps), updated_at=steps[-1].ts, timeline=tuple(steps),
            )  # fmt: skip


def generate(
    store: StoreAccess, city: City, catalog: Catalog, cases: int, year: int, seed: int = 7,
    now: datetime | None = None, progress: bool = True,
) -> int:  # fmt: skip
    """Write about `cases` cases created in `year` (none after `now`); how many were written."""
    now = now or datetime(year + 1, 1, 1, tzinfo=UTC)
    zone = store.days_zone
    drawer = _Cases(city, catalog, year, now, seed, zone)
    written = 0
    bar = tqdm(total=cases, desc="cases", unit="case", file=sys.stderr, disable=not progress)
    _durable(store, False)
    try:
        days = drawer.days_of(cases)
        for start in range(0, cases, CHUNK):
            chunk = list(drawer.draw(days[start : start + CHUNK], start))
            _write(store, chunk, zone)
            written += len(chunk)
            bar.update(min(CHUNK, cases - start))
        stats_store(store).rebuild()
    finally:
        _durable(store, True)
        bar.close()
    return written


def _durable(store: StoreAccess, on: bool) -> None:
    """SQLite: a bulk load of generated data need not wait for each chunk's fsync (a crash
    midway loses a generated year, made again in minutes); the store's FULL afterwards."""
    if store.dialect == "sqlite":
        with store._reading() as db:
            db.execute(f"PRAGMA synchronous={'FULL' if on else 'OFF'}", {})
            # and a page cache of 256 MB while loading (SQLite's default is 2 MB): the indexes' pages stay in memory
            db.execute(f"PRAGMA cache_size={-2000 if on else -262144}", {})


def _write(store: StoreAccess, chunk: list[Case], zone: tzinfo) -> None:
    if store.dialect == "postgresql":
        _copy(store, chunk, zone)
        return
    sql = store.sql  # type: ignore[attr-defined]  # both stores have their compiled statements
    with store._writing() as conn:
        db: Any = conn  # sqlite3's connection: executemany
        db.executemany(
            sql.insert_case,
            [dict(zip(CASE_FIELDS, case_columns(c), strict=True)) | {"id": c.id} for c in chunk],
        )
        db.executemany(sql.insert_timeline, [r for c in chunk for r in timeline_params(c.id, c.timeline)])
        db.executemany(fact_statements("sqlite")[0], [fact_params(c, zone) for c in chunk])


def _copy(store: StoreAccess, chunk: list[Case], zone: tzinfo) -> None:
    with store._writing() as db, db.cursor() as cur:  # type: ignore[attr-defined]
        with cur.copy(copy_into("cases", (*CASE_FIELDS, "id"))) as copy:
            for case in chunk:
                copy.write_row((*case_columns(case), case.id))
        with cur.copy(copy_into("case_timeline", ("case_id", *TIMELINE_FIELDS))) as copy:
            for case in chunk:
                for row in timeline_params(case.id, case.timeline):
                    copy.write_row(tuple(row.values()))
        with cur.copy(copy_into("case_facts", FACT_FIELDS)) as copy:
            for case in chunk:
                facts = fact_params(case, zone)
                copy.write_row(tuple(facts[n] for n in FACT_FIELDS))


def add_commands(sub: Any) -> None:  # sub: argparse's private _SubParsersAction
    """`command-center stats generate`: a year of cases into the configured store."""
    stats = sub.add_parser("stats", help="case statistics (docs/STATS.md)")
    stats_sub = stats.add_subparsers(dest="stats_command", required=True)
    gen = stats_sub.add_parser(
        "generate", help="write a generated year of cases (cases, timelines, facts) in bulk"
    )
    gen.add_argument("--cases", type=int, default=1_000_000)
    gen.add_argument("--year", type=int, default=datetime.now(UTC).year)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--config", type=Path, help="the server's configuration: its store, map and matters")
    gen.add_argument("--store", help="a store URL (without --config: the sample city and matters)")


def run_command(args: Any, load: Callable[[Path], Any]) -> int:
    from command_center.city_map import load_map
    from command_center.store import create_store
    from dispatch.catalog import load_catalog
    from dispatch.city import generate_city

    config = load(args.config) if args.config else None
    url = args.store or (config.store if config is not None else None)
    if url is None:
        print("give --config or --store", file=sys.stderr)
        return 2
    store = create_store(url, ZoneInfo(config.dispatch.timezone) if config is not None else DEFAULT_ZONE)
    try:
        city = load_map(config, store)[0] if config is not None else generate_city(seed=7)
        catalog = load_catalog(config.catalog if config is not None else SAMPLE_CATALOG)
        now = min(datetime.now(UTC), datetime(args.year + 1, 1, 1, tzinfo=UTC))
        written = generate(store, city, catalog, args.cases, args.year, args.seed, now)  # type: ignore[arg-type]
    finally:
        store.close()
    print(f"{written} cases of {args.year} written")
    return 0
