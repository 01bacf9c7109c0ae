"""Grid workers for the sample city: one grid, several workers, someone on duty around the clock."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dispatch.city.model import Shift, Worker

# Reference roster: 22,367 workers for 20,031 grids, 6,986 of them full-time.
WORKERS_PER_GRID = 22_367 / 20_031
FULL_TIME_SHARE = 6_986 / 22_367
# Among grids with extra staff, how many get two extra (a 3-person team) rather than one.
THREE_PERSON_SHARE = 0.05

_SURNAMES = "陈李黄张梁林刘吴罗何郑谢冯邓曾彭叶蔡许余苏潘杜钟麦卢周莫赖胡朱欧关温邱区"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玲建国志文辉红梅斌燕婷健俊嘉荣锦浩宇晓雯颖思"
# Shift patterns by team size: each covers all 24 hours on its own.
_MOBILE_PREFIXES = np.array(["135", "136", "137", "138", "139", "150", "158", "186", "188"])
_TEAMS: dict[int, tuple[Shift, ...]] = {1: ("all",), 2: ("day", "night"), 3: ("all", "day", "night")}


def build_roster(grid_codes: Sequence[str], seed: int) -> list[Worker]:
    """Workers for `grid_codes`, ids in grid-code order; deterministic from the seed.

    A lone worker is on call all day; a pair splits day and night; a team of three has
    one on call plus a day/night pair. So every grid has someone on duty at any hour.
    """
    rng = np.random.default_rng([seed, 2260])
    grids = sorted(grid_codes)
    n = len(grids)
    extra = round(n * WORKERS_PER_GRID) - n
    threes = round(extra * THREE_PERSON_SHARE / (1 + THREE_PERSON_SHARE))
    twos = max(extra - 2 * threes, 0)
    sizes = np.ones(n, dtype=int)
    staffed = rng.permutation(n)
    sizes[staffed[:twos]] = 2
    sizes[staffed[twos : twos + threes]] = 3

    total = int(sizes.sum())
    full_time = np.zeros(total, dtype=bool)
    full_time[rng.permutation(total)[: round(total * FULL_TIME_SHARE)]] = True
    names = _person_names(rng, total)
    prefixes = rng.choice(_MOBILE_PREFIXES, total)
    numbers = rng.integers(10**8, size=total)

    workers: list[Worker] = []
    for grid, size in zip(grids, sizes.tolist(), strict=True):
        for shift in _TEAMS[size]:
            i = len(workers)
            workers.append(
                Worker(
                    id=f"W{i + 1:07d}",
                    name=names[i],
                    grid_code=grid,
                    kind="full_time" if full_time[i] else "part_time",
                    shift=shift,
                    phone=f"{prefixes[i]}{numbers[i]:08d}",
                )
            )
    return workers


def _person_names(rng: np.random.Generator, n: int) -> list[str]:
    """Drawn in bulk: per-name generator calls would dominate the roster's build time."""
    surnames = rng.integers(len(_SURNAMES), size=n)
    given = rng.integers(len(_GIVEN), size=(n, 2))
    two_chars = rng.random(n) < 0.7
    return [
        _SURNAMES[s] + _GIVEN[g[0]] + (_GIVEN[g[1]] if two else "")
        for s, g, two in zip(surnames.tolist(), given.tolist(), two_chars.tolist(), strict=True)
    ]
