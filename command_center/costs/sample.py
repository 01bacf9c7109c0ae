"""`command-center costs sample`: a year of budget lines for the sample city (or the configured
map), so that the 成本效益 page shows figures next to `command-center stats generate`'s cases.

Per street and month: full-time grid workers' pay by grade (A/B/C, about one worker a grid),
part-time staff, services bought (cleaning, security patrols), equipment, IoT and video
running costs and other; the city adds its platform's video running cost. Amounts are drawn
around typical Guangzhou figures, deterministic from the seed.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from command_center.costs.lines import LineInput
from dispatch.city import City
from dispatch.city.codes import significant_digits

# grade → (share of a street's grids, monthly pay in yuan)
GRADES = {"专职网格员A": (0.3, 9_800), "专职网格员B": (0.5, 8_200), "专职网格员C": (0.2, 6_900)}
PER_GRID = {"services": 1_800, "equipment": 600, "iot": 350, "video": 900, "other": 250}
CITY_VIDEO = 1_200_000  # the city's video platform, a month


def sample_lines(city: City, year: int, seed: int = 7) -> Iterator[LineInput]:
    rng = random.Random(seed)
    grids = Counter(a.code[:9] for a in city.areas.values() if a.level == "grid")
    streets = sorted((a for a in city.areas.values() if a.level == "street"), key=lambda a: a.code)
    city_area = next((a for a in city.areas.values() if a.level == "city"), None)
    for month in (f"{year}-{m:02d}" for m in range(1, 13)):
        if city_area is not None:
            prefix = city_area.code[: significant_digits("city")]
            yield LineInput(city_area.code, prefix, month, "video", "", CITY_VIDEO * 100, "市级视频平台运行")
        for street in streets:
            n = grids.get(street.code[:9], 0)
            if n == 0:
                continue
            prefix = street.code[:9]
            for grade, (share, pay) in GRADES.items():
                workers = max(1, round(n * share))
                yield LineInput(
                    street.code, prefix, month, "staff", grade, workers * pay * 100, f"{workers} 人"
                )
            for category, per_grid in PER_GRID.items():
                yuan = round(n * per_grid * rng.uniform(0.7, 1.3))
                yield LineInput(street.code, prefix, month, category, "", yuan * 100, "")


def add_commands(sub: Any) -> None:  # sub: argparse's private _SubParsersAction
    costs = sub.add_parser("costs", help="cost–benefit accounting (docs/COSTS.md)")
    costs_sub = costs.add_subparsers(dest="costs_command", required=True)
    sample = costs_sub.add_parser("sample", help="write a year of sample budget lines (per street and month)")
    sample.add_argument("--year", type=int, required=True)
    sample.add_argument("--seed", type=int, default=7)
    sample.add_argument("--config", type=Path, help="the server's configuration: its store and map")
    sample.add_argument("--store", help="a store URL (without --config: the sample city)")


def run_command(args: Any, load: Callable[[Path], Any]) -> int:
    from command_center.city_map import load_map
    from command_center.store import create_store
    from command_center.store.cost_records import cost_store
    from dispatch.city import generate_city

    config = load(args.config) if args.config else None
    url = args.store or (config.store if config is not None else None)
    if url is None:
        print("give --config or --store", file=sys.stderr)
        return 2
    store = create_store(url)
    try:
        city = load_map(config, store)[0] if config is not None else generate_city(seed=7)
        written = cost_store(store).upsert_all(sample_lines(city, args.year, args.seed), "sample")
    finally:
        store.close()
    print(f"{written} budget lines of {args.year} written")
    return 0
