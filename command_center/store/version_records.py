"""The registry's part versions in the store: bumped by each change, polled by every node."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.access import StoreAccess
from command_center.store.queries import compile_sql, const
from command_center.store.schema import registry_versions as table


@cache
def _bump(dialect: str) -> str:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    values = insert.values(part=sa.bindparam("part"), version=const(1), changed_at=sa.bindparam("at"))
    upsert = values.on_conflict_do_update(
        index_elements=[table.c.part],
        set_={"version": table.c.version + const(1), "changed_at": values.excluded.changed_at},
    )
    return compile_sql(upsert.returning(table.c.version), dialect)


@cache
def _all(dialect: str) -> str:
    return compile_sql(sa.select(table.c.part, table.c.version), dialect)


class VersionRecords(StoreAccess):
    def bump_registry(self, part: str) -> int:
        """The part's new version, after a change to it was written."""
        with self._writing_one() as db:
            version: int = db.execute(_bump(self.dialect), {"part": part, "at": datetime.now(UTC).isoformat()}).fetchone()[0]
        return version

    def registry_versions(self) -> dict[str, int]:
        with self._reading() as db:
            return {part: int(version) for part, version in db.execute(_all(self.dialect), {}).fetchall()}
