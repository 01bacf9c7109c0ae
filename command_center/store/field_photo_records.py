"""Field photos in the store (table: store/field_photo_schema.py), written once for SQLite and
PostgreSQL through the store's own connections (StoreAccess), like store/patrol_records.py.

A row is written after its file (api/field_photos.py), so a row always has a file; the sweep
deletes a row before its file, and only while it is still unused, so a photo a record has
just taken is never deleted under it (the delete's WHERE re-checks `used_at`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.store.access import StoreAccess
from command_center.store.field_photo_schema import field_photos as table
from command_center.store.queries import compile_sql, const

SWEEP_BATCH = 500  # unused photos deleted per sweep at most: a pass stays short, the next goes on


@dataclass(frozen=True, slots=True)
class FieldPhoto:
    id: str
    owner: str  # the uploader: a worker id, or a staff user name
    grid_code: str
    created_at: datetime  # UTC
    bytes: int
    width: int
    height: int
    used_by: str | None = None  # the first record that referenced it (checkin:PC…, visit:V…)
    used_at: datetime | None = None


@cache
def _sql(dialect: str) -> dict[str, str]:
    t = table
    by_id = t.c.id == sa.bindparam("id")
    unused = t.c.used_at.is_(None)
    statements: dict[str, Any] = {
        "insert": sa.insert(t).values({c.name: sa.bindparam(c.name) for c in t.columns}),
        "get": sa.select(*t.columns).where(by_id),
        "use": sa.update(t)
        .where(by_id, unused)
        .values(used_by=sa.bindparam("ref"), used_at=sa.bindparam("at")),
        "unused_before": sa.select(t.c.id, t.c.grid_code)
        .where(unused, t.c.created_at < sa.bindparam("cutoff"))
        .order_by(t.c.created_at)
        .limit(sa.bindparam("limit"))
        .offset(const(0)),  # (SQLite's LIMIT alone would bind an offset of its own)
        "delete_unused": sa.delete(t).where(by_id, unused),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _photo(raw: Iterable[Any]) -> FieldPhoto:
    row = dict(zip((c.name for c in table.columns), raw, strict=True))
    for name in ("created_at", "used_at"):
        if row[name] is not None:
            row[name] = datetime.fromisoformat(row[name])
    return FieldPhoto(**row)


class FieldPhotoRecords:
    """The field photos of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.sql = _sql(store.dialect)

    def add(self, photo: FieldPhoto) -> None:
        row = {c.name: getattr(photo, c.name) for c in table.columns}
        row |= {"created_at": _iso(photo.created_at), "used_at": photo.used_at and _iso(photo.used_at)}
        with self.store._writing_one() as db:
            db.execute(self.sql["insert"], row)

    def get(self, photo_id: str) -> FieldPhoto | None:
        with self.store._reading() as db:
            raw = db.execute(self.sql["get"], {"id": photo_id}).fetchone()
        return None if raw is None else _photo(raw)

    def mark_used(self, photo_ids: Iterable[str], ref: str, at: datetime | None = None) -> int:
        """The photos taken by record `ref`; a photo used already keeps its first record. How
        many were unused until now."""
        stamp = _iso(at or datetime.now(UTC))
        changed = 0
        with self.store._writing() as db:
            for photo_id in dict.fromkeys(photo_ids):
                changed += max(
                    0, db.execute(self.sql["use"], {"id": photo_id, "ref": ref, "at": stamp}).rowcount
                )
        return changed

    def unused_before(self, cutoff: datetime, limit: int = SWEEP_BATCH) -> list[tuple[str, str]]:
        """(id, grid) of photos no record took, uploaded before `cutoff`, oldest first."""
        with self.store._reading() as db:
            rows = db.execute(self.sql["unused_before"], {"cutoff": _iso(cutoff), "limit": limit}).fetchall()
        return [(str(photo_id), str(grid)) for photo_id, grid in rows]

    def delete_unused(self, photo_id: str) -> bool:
        """The row deleted if still unused (a record may have taken it since it was listed)."""
        with self.store._writing_one() as db:
            return int(db.execute(self.sql["delete_unused"], {"id": photo_id}).rowcount) > 0


def field_photo_store(store: object) -> FieldPhotoRecords:
    """The field photos of a store (either backend)."""
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no field photos")
    return FieldPhotoRecords(store)
