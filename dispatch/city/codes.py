"""15-digit grid codes: GB/T 2260 district (6) + GB/T 10114 street/town (3) + community (3) + grid (3).

A parent's code is its own prefix padded with zeros, so the level and every ancestor
can be read off a code without a lookup table (the DB11 scheme).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Level = Literal["city", "district", "street", "community", "grid"]
LEVELS: tuple[Level, ...] = ("city", "district", "street", "community", "grid")

CODE_LENGTH = 15
# Digits of a code that are significant at each level; the rest are zero padding.
_SIGNIFICANT: dict[Level, int] = {"city": 4, "district": 6, "street": 9, "community": 12, "grid": 15}


def significant_digits(level: Level) -> int:
    """How many leading digits of a code name an area at `level` (the rest are zeros)."""
    return _SIGNIFICANT[level]


def make_code(district: str, street: int = 0, community: int = 0, grid: int = 0) -> str:
    """Compose a code from a 6-digit district code and 1-based sequence numbers (0 = not that deep)."""
    if len(district) != 6 or not district.isdigit():
        raise ValueError(f"district code must be 6 digits, got {district!r}")
    for name, value in (("street", street), ("community", community), ("grid", grid)):
        if not 0 <= value <= 999:
            raise ValueError(f"{name} sequence {value} does not fit in 3 digits")
    return f"{district}{street:03d}{community:03d}{grid:03d}"


def city_code(district: str) -> str:
    """The city a district belongs to: its first four digits (e.g. 4401 for Guangzhou)."""
    return district[:4].ljust(CODE_LENGTH, "0")


def is_code(code: str) -> bool:
    return len(code) == CODE_LENGTH and code.isdigit()


def level_of(code: str) -> Level:
    """The level a code names, read from where its zero padding starts."""
    if not is_code(code):
        raise ValueError(f"not a 15-digit code: {code!r}")
    if code[12:] != "000":
        return "grid"
    if code[9:12] != "000":
        return "community"
    if code[6:9] != "000":
        return "street"
    if code[4:6] != "00":
        return "district"
    return "city"


def parent_of(code: str) -> str | None:
    """The enclosing area's code, or None for a city."""
    level = level_of(code)
    if level == "city":
        return None
    parent_level = LEVELS[LEVELS.index(level) - 1]
    keep = _SIGNIFICANT[parent_level]
    return code[:keep].ljust(CODE_LENGTH, "0")


def ancestor_at(code: str, level: Level) -> str | None:
    """The code of the ancestor (or the area itself) at `level`, None when `code` is shallower."""
    if LEVELS.index(level) > LEVELS.index(level_of(code)):
        return None
    return code[: _SIGNIFICANT[level]].ljust(CODE_LENGTH, "0")


def reading_order(xs: Sequence[float], ys: Sequence[float], band: float) -> list[int]:
    """Indices in the order children are numbered: rows north→south, west→east within a row.

    Sorting on latitude alone would make "west→east" meaningless (no two centroids share
    a latitude), so centroids are binned into horizontal bands about one child high.
    """
    if band <= 0:
        raise ValueError("band must be positive")
    top = max(ys) if ys else 0.0
    return sorted(range(len(xs)), key=lambda i: (int((top - ys[i]) // band), xs[i]))
