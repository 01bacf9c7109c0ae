"""Each device's recent readings, bounded: what a rate-of-change rule looks back over, what an
alarm's incident carries and what the wall draws as a sparkline.

A ring of two float arrays per (device, reading name) rather than a deque of tuples: 16 bytes
a point instead of about 130, which is the difference between 40 MB and 600 MB for 10,000
devices with four readings of 60 points each. Booleans are kept as 1.0/0.0 and given back as
booleans (a name's type is the type of its first value: a kind does not mix them).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from datetime import UTC, datetime

Point = tuple[datetime, float | bool]


class Ring:
    """The last `capacity` (ts, value) points of one reading, oldest first."""

    __slots__ = ("_ts", "_values", "_start", "_size", "boolean")

    def __init__(self, capacity: int, boolean: bool = False) -> None:
        if capacity < 2:
            raise ValueError("a series keeps at least two points")
        self._ts = array("d", bytes(8 * capacity))
        self._values = array("d", bytes(8 * capacity))
        self._start = 0
        self._size = 0
        self.boolean = boolean

    def __len__(self) -> int:
        return self._size

    def append(self, ts: float, value: float) -> None:
        capacity = len(self._ts)
        at = (self._start + self._size) % capacity
        self._ts[at] = ts
        self._values[at] = value
        if self._size < capacity:
            self._size += 1
        else:
            self._start = (self._start + 1) % capacity

    def raw(self, since: float | None = None) -> Iterator[tuple[float, float]]:
        """(epoch seconds, value) oldest first, from `since` on."""
        capacity = len(self._ts)
        for k in range(self._size):
            at = (self._start + k) % capacity
            if since is None or self._ts[at] >= since:
                yield self._ts[at], self._values[at]

    def last(self) -> tuple[float, float] | None:
        if not self._size:
            return None
        at = (self._start + self._size - 1) % len(self._ts)
        return self._ts[at], self._values[at]

    def points(self, since: float | None = None) -> tuple[Point, ...]:
        return tuple(
            (datetime.fromtimestamp(ts, UTC), bool(v) if self.boolean else v) for ts, v in self.raw(since)
        )


class DeviceSeries:
    """One device's rings by reading name; at most `max_names` names, so that a device
    inventing names cannot grow its memory without end."""

    __slots__ = ("rings", "capacity", "max_names")

    def __init__(self, capacity: int, max_names: int) -> None:
        self.rings: dict[str, Ring] = {}
        self.capacity = capacity
        self.max_names = max_names

    def append(self, name: str, ts: float, value: float | bool) -> bool:
        """False when the name is one too many (the reading is then not kept)."""
        ring = self.rings.get(name)
        if ring is None:
            if len(self.rings) >= self.max_names:
                return False
            ring = self.rings[name] = Ring(self.capacity, boolean=isinstance(value, bool))
        ring.append(ts, float(value))
        return True

    def snapshot(
        self, names: tuple[str, ...] | None = None, since: float | None = None
    ) -> dict[str, tuple[Point, ...]]:
        """The points of `names` (all names when None), for an incident or a sparkline."""
        wanted = self.rings if names is None else {n: self.rings[n] for n in names if n in self.rings}
        return {name: ring.points(since) for name, ring in wanted.items()}
