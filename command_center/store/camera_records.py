"""The registry's camera records in the store (issue 16).

One row per camera the registry holds: its whole CameraConfig as JSON (`doc`), the grid
it is filed under, who changed it last and when. A removed camera stays as a tombstone
(`deleted`), so that it also hides a configured camera of the same id
(registry/cameras.py: effective_cameras).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.access import StoreAccess
from command_center.store.queries import compile_sql
from command_center.store.schema import cameras as table

if TYPE_CHECKING:
    from sqlalchemy.sql import ClauseElement

FIELDS = ("id", "doc", "grid_code", "updated_at", "updated_by", "deleted")


class CameraStore(Protocol):
    """What the rest of the code may call (base.Store includes it)."""

    def list_camera_records(self) -> list[dict[str, Any]]:
        """Every stored camera, tombstones included: {id, doc, grid_code, updated_at, updated_by, deleted}."""
        ...

    def get_camera_record(self, camera_id: str) -> dict[str, Any] | None: ...

    def upsert_cameras(self, docs: Iterable[dict[str, Any]], actor: str) -> int:
        """Write these CameraConfig documents (by their id) in one transaction; how many."""
        ...

    def count_cameras(self) -> int:
        """Stored cameras that are not tombstones (for /metrics and tests)."""
        ...

    def delete_camera(self, camera_id: str, actor: str, doc: dict[str, Any]) -> None:
        """A tombstone for the camera (`doc`: its last configuration, kept for the record)."""
        ...


def _compiled(statement: ClauseElement, dialect: str) -> str:
    return compile_sql(statement, dialect)


@cache
def _upsert(dialect: str) -> str:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    statement = insert.values({name: sa.bindparam(name) for name in FIELDS})
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={name: getattr(statement.excluded, name) for name in FIELDS if name != "id"},
    )
    return _compiled(statement, dialect)


@cache
def _all(dialect: str) -> str:
    return _compiled(sa.select(*(table.c[name] for name in FIELDS)).order_by(table.c.id), dialect)


@cache
def _one(dialect: str) -> str:
    select = sa.select(*(table.c[name] for name in FIELDS)).where(table.c.id == sa.bindparam("id"))
    return _compiled(select, dialect)


@cache
def _live_count(dialect: str) -> str:
    return _compiled(sa.select(sa.func.count()).select_from(table).where(table.c.deleted == sa.literal_column("0")), dialect)


def _record(row: Any) -> dict[str, Any]:
    record = dict(zip(FIELDS, row, strict=True))
    record["doc"] = json.loads(record["doc"])
    record["deleted"] = bool(record["deleted"])
    return record


def _params(doc: dict[str, Any], actor: str, at: str, deleted: int) -> dict[str, Any]:
    return {
        "id": doc["id"], "doc": json.dumps(doc, ensure_ascii=False), "grid_code": doc.get("grid_code"),
        "updated_at": at, "updated_by": actor, "deleted": deleted,
    }  # fmt: skip


class CameraRecords(StoreAccess):
    """Written once for both stores over StoreAccess (see store/records.py)."""

    def list_camera_records(self) -> list[dict[str, Any]]:
        with self._reading() as db:
            return [_record(row) for row in db.execute(_all(self.dialect), {}).fetchall()]

    def get_camera_record(self, camera_id: str) -> dict[str, Any] | None:
        with self._reading() as db:
            row = db.execute(_one(self.dialect), {"id": camera_id}).fetchone()
        return _record(row) if row is not None else None

    def count_cameras(self) -> int:
        """Stored cameras that are not tombstones (for /metrics and tests)."""
        with self._reading() as db:
            return int(db.execute(_live_count(self.dialect), {}).fetchone()[0])

    def upsert_cameras(self, docs: Iterable[dict[str, Any]], actor: str) -> int:
        at = datetime.now(UTC).isoformat()
        written = 0
        with self._writing() as db:  # all or none: an import is one transaction
            for doc in docs:
                db.execute(_upsert(self.dialect), _params(doc, actor, at, 0))
                written += 1
        return written

    def delete_camera(self, camera_id: str, actor: str, doc: dict[str, Any]) -> None:
        with self._writing_one() as db:
            db.execute(_upsert(self.dialect), _params({**doc, "id": camera_id}, actor, datetime.now(UTC).isoformat(), 1))
