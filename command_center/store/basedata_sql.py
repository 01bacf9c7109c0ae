"""What the base-data store modules share: the per-grid count columns, a grid prefix as a
range of codes, and the moved-out filter. Its own module so that basedata_records and
basedata_counts (which the records call for their counts) both import it, not each other."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from command_center.store.queries import const

# counts_by_grid's columns, one per kind, in basedata_records.MODELS' order.
COUNT_NAMES = {"address": "addresses", "building": "buildings", "household": "households",
               "person": "people", "organisation": "organisations"}  # fmt: skip


def grid_range(prefix: str) -> dict[str, str]:
    """The codes under a grid prefix as a half-open range: lo <= code < hi. Codes are
    digits; past the last one ("99…") every digit string sorts before a letter."""
    if prefix and not prefix.isdigit():
        raise ValueError(f"a grid prefix is digits, not {prefix!r}")
    stem = prefix.rstrip("9")
    hi = stem[:-1] + chr(ord(stem[-1]) + 1) if stem else "A"
    return {"lo": prefix, "hi": hi}


def present(table: sa.FromClause) -> sa.ColumnElement[bool]:
    """Not marked moved out (迁出: people.left_on, migration 0020): lists and counts skip the
    people who left, kept only until the retention sweep (basedata/retention.py) deletes them."""
    return table.c.left_on.is_(None) if "left_on" in table.c else sa.true()


# Columns no import carries (a door plate's photo, taken on the terminal: migration 0018): an
# upsert keeps the stored value where the incoming row has none, instead of clearing it.
KEPT_WHEN_ABSENT = frozenset({"plate_photo_id"})


def upsert_changes(table: sa.Table, excluded: Any, data: list[sa.Column[Any]]) -> dict[str, Any]:
    """ON CONFLICT DO UPDATE's SET: each data column from the incoming row (KEPT_WHEN_ABSENT:
    only when it has one), the version bumped."""
    changed: dict[str, Any] = {
        c.name: sa.func.coalesce(excluded[c.name], c) if c.name in KEPT_WHEN_ABSENT else excluded[c.name]
        for c in data
    }
    return changed | {"version": table.c.version + const(1)}
