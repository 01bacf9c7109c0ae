"""The dedupe reads of a whole intake batch in one round trip.

Each intake asks for the open cases of its matter around its point (the dedupe check).
On SQLite that read is ~10 µs in the process; on PostgreSQL it is a round trip, ~140 µs
on loopback, and it was what kept PostgreSQL's intake at 0.65 × SQLite's in `bench
scale` once the writes were deferred (batch.py). The casework knows a batch's incidents
up front, so the dispatcher names the reads to come (`prefetch_open_cases`) and they go
to the server as one statement: one row set per wanted (matter, box), joined from an
`unnest` of the boxes, each an index range scan on (is_open, matter_code, lon).

What must still hold:
- a read answered from the prefetch is what the server would answer: the rows found
  then, filtered by the read's own `since` (later than the prefetch's), with the
  batch's own cases (taken in or changed since: the store's pending list) taking the
  place of their older rows;
- a read the prefetch did not name goes to the server as before;
- it lasts for its batch only. Another process's case committed meanwhile is not seen,
  as a case it commits between the server read and this batch's commit is not seen
  either: the window was already the batch's length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from command_center.store.postgres.connect import BoundedConnection
from command_center.store.queries import box
from dispatch.cases import Case

Wanted = tuple[str, datetime, tuple[float, float, float]]  # matter code, since, (lon, lat, metres)
Key = tuple[str, float, float, float]

OPEN_NEAR_MANY = """
SELECT k.i, c.id, c.version, c.created_at
FROM unnest(%(matters)s::text[], %(wests)s::float8[], %(easts)s::float8[],
            %(souths)s::float8[], %(norths)s::float8[])
     WITH ORDINALITY AS k(matter_code, west, east, south, north, i)
JOIN cases c ON c.is_open = 1 AND c.matter_code = k.matter_code AND c.created_at >= %(since)s
            AND c.lon BETWEEN k.west AND k.east AND c.lat BETWEEN k.south AND k.north
"""


class Prefetched:
    """The rows each wanted read found, by (matter, lon, lat, metres)."""

    def __init__(self, rows: dict[Key, list[tuple[str, int, str]]]) -> None:
        self.rows = rows

    @classmethod
    def read(cls, db: BoundedConnection, wanted: Sequence[Wanted]) -> Prefetched:
        keys = [(matter, *near) for matter, _, near in wanted]
        boxes = [box(near) for _, _, near in wanted]
        found = db.read(OPEN_NEAR_MANY, {
            "matters": [k[0] for k in keys],
            "wests": [b["west"] for b in boxes], "easts": [b["east"] for b in boxes],
            "souths": [b["south"] for b in boxes], "norths": [b["north"] for b in boxes],
            "since": min(since for _, since, _ in wanted).isoformat(),
        })  # fmt: skip
        rows: dict[Key, list[tuple[str, int, str]]] = {key: [] for key in keys}
        for i, case_id, version, created_at in found:
            rows[keys[i - 1]].append((case_id, version, created_at))  # ORDINALITY counts from 1
        return cls(rows)

    def answer(
        self,
        matter_code: str,
        since: datetime,
        near: tuple[float, float, float],
        pending: list[Case],
        load: Callable[[str, int], Case],
    ) -> list[Case] | None:
        """What open_cases_of_matter would find, or None when the read was not prefetched:
        the stored cases found (`load`ed at their version) but for those this batch wrote
        (its `pending` cases, taken in or changed, newest last), which answer for themselves."""
        rows = self.rows.get((matter_code, *near))
        if rows is None:
            return None
        written = {c.id: c for c in pending}
        after = since.isoformat()  # compared as the server compares the stored text
        stored = [load(i, v) for i, v, created in rows if created >= after and i not in written]
        return stored + written_matching(written, matter_code, since, near)


def written_matching(
    written: dict[str, Case], matter_code: str, since: datetime, near: tuple[float, float, float]
) -> list[Case]:
    """The batch's own cases (taken in or changed in it) the read would find."""
    area, after = box(near), since.isoformat()
    return [
        c for c in written.values()
        if c.is_open and c.matter_code == matter_code and c.created_at.isoformat() >= after
        and area["west"] <= c.lon <= area["east"] and area["south"] <= c.lat <= area["north"]
    ]  # fmt: skip
