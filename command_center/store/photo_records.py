"""Grid workers' photos in the store (the public worker card's), written once for both databases."""

from __future__ import annotations

from functools import cache
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.access import StoreAccess
from command_center.store.queries import compile_sql
from command_center.store.schema import worker_photos as table


class PhotoStore(Protocol):
    """What the rest of the code may call (base.Store includes it)."""

    def put_worker_photo(self, worker_id: str, jpeg: bytes, version: int, by: str) -> None: ...

    def worker_photo(self, worker_id: str) -> tuple[bytes, int] | None:
        """(the JPEG, its version), or None."""
        ...

    def worker_photo_version(self, worker_id: str) -> int | None: ...

    def delete_worker_photo(self, worker_id: str) -> bool: ...


@cache
def _sql(dialect: str) -> dict[str, str]:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    values = insert.values({c.name: sa.bindparam(c.name) for c in table.columns})
    upsert = values.on_conflict_do_update(
        index_elements=[table.c.worker_id],
        set_={"jpeg": values.excluded.jpeg, "version": values.excluded.version, "updated_by": values.excluded.updated_by},
    )
    mine = table.c.worker_id == sa.bindparam("worker_id")
    statements = {
        "put": upsert,
        "get": sa.select(table.c.jpeg, table.c.version).where(mine),
        "version": sa.select(table.c.version).where(mine),
        "delete": sa.delete(table).where(mine),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


class PhotoRecords(StoreAccess):
    def put_worker_photo(self, worker_id: str, jpeg: bytes, version: int, by: str) -> None:
        with self._writing_one() as db:
            db.execute(_sql(self.dialect)["put"], {"worker_id": worker_id, "jpeg": jpeg, "version": version, "updated_by": by})

    def worker_photo(self, worker_id: str) -> tuple[bytes, int] | None:
        with self._reading() as db:
            row = db.execute(_sql(self.dialect)["get"], {"worker_id": worker_id}).fetchone()
        return None if row is None else (bytes(row[0]), int(row[1]))

    def worker_photo_version(self, worker_id: str) -> int | None:
        with self._reading() as db:
            row = db.execute(_sql(self.dialect)["version"], {"worker_id": worker_id}).fetchone()
        return None if row is None else int(row[0])

    def delete_worker_photo(self, worker_id: str) -> bool:
        with self._writing_one() as db:
            return db.execute(_sql(self.dialect)["delete"], {"worker_id": worker_id}).rowcount > 0
