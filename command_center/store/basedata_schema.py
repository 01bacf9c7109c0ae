"""The grid's base data (四标四实, basedata/model.py) as tables, on store/schema.py's `metadata`.

Kept out of schema.py so that the case store's modules do not load five more tables, and
not imported by schema.py (this module imports it): code that needs every table (the
schema check in tests/test_store_upgrade.py, store/basedata_records.py) imports this
module, and the tables join `metadata` then. Migration 0015 makes the same tables.

One column per model field. Dates are ISO text (YYYY-MM-DD) like the rest of the store:
they order and compare the same on both databases. A sealed field (basedata.protect:
ID numbers, phones) is three columns, `<field>_cipher` (AES-GCM, the key outside the
database), `<field>_index` (a keyed HMAC: finds a record by the exact value) and
`<field>_tail` (the last digits, for masked lists); the clear value is never stored.
No foreign keys: a file may bring a building before its address exists in the store
within the same import, and the importer checks the references (importing/basedata.py).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from command_center.store.schema import COORDINATE, metadata


def _record(key: str, *fields: Any) -> list[Any]:
    """The key, the fields every record has (basedata.model.Record), the kind's own fields
    and who wrote the row when."""
    return [
        sa.Column(key, sa.Text, primary_key=True),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),  # import, collect, verify, sample
        sa.Column("verified_at", sa.Text),
        sa.Column("next_check_at", sa.Text),  # basedata.cycles: NULL is never checked, so due
        sa.Column("version", sa.Integer, nullable=False),  # each change bumps it (compare-and-set)
        *fields,
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    ]


def _sealed(field: str, nullable: bool) -> list[sa.Column[Any]]:
    return [
        sa.Column(f"{field}_cipher", sa.Text, nullable=nullable),
        sa.Column(f"{field}_index", sa.Text, nullable=nullable),
        sa.Column(f"{field}_tail", sa.Text, nullable=nullable),
    ]


def _by_grid(table: str) -> list[sa.Index]:
    """Every table: a grid's records with their next check (the per-grid counts and the
    overdue count read only this index), and what is due across all grids."""
    return [
        sa.Index(f"{table}_grid", "grid_code", "next_check_at"),
        sa.Index(f"{table}_next_check", "next_check_at"),
    ]


# 标准地址: the city's standard addresses.
addresses = sa.Table(
    "addresses",
    metadata,
    *_record(
        "code",
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("lon", COORDINATE, nullable=False),
        sa.Column("lat", COORDINATE, nullable=False),
    ),
    *_by_grid("addresses"),
)

# 建筑物, keyed by the city's building code; `rental` (出租屋) sets the monthly re-check.
buildings = sa.Table(
    "buildings",
    metadata,
    *_record(
        "code",
        sa.Column("address_code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("floors", sa.Integer, nullable=False),
        sa.Column("use", sa.Text, nullable=False),
        sa.Column("rental", sa.Boolean, nullable=False),
        sa.Column("lon", COORDINATE, nullable=False),
        sa.Column("lat", COORDINATE, nullable=False),
        sa.Column("plate_photo_id", sa.Text),  # 门牌照片 (migration 0018)
    ),
    *_by_grid("buildings"),
    sa.Index("buildings_address", "address_code"),
)

# 户: a unit of a building.
households = sa.Table(
    "households",
    metadata,
    *_record(
        "id",
        sa.Column("building_code", sa.Text, nullable=False),
        sa.Column("room", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("plate_photo_id", sa.Text),  # 门牌照片 (migration 0018)
    ),
    *_by_grid("households"),
    sa.Index("households_building", "building_code"),
)

# 实有人口. Birth date and sex come from the ID number, in the clear: statistics need them.
people = sa.Table(
    "people",
    metadata,
    *_record(
        "id",
        sa.Column("household_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        *_sealed("id_number", nullable=False),
        *_sealed("phone", nullable=True),
        sa.Column("sex", sa.Text, nullable=False),
        sa.Column("birth_date", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("arrival_date", sa.Text),
        sa.Column("left_on", sa.Text),  # 迁出 (migration 0020): lists skip them, the retention sweep deletes them
    ),
    *_by_grid("people"),
    sa.Index("people_household", "household_id"),
    sa.Index("people_id_number", "id_number_index"),
    # The retention sweep's past-retention rows; partial, so the residents (NULL) are not in it.
    sa.Index("people_left", "left_on", sqlite_where=sa.text("left_on IS NOT NULL"),
             postgresql_where=sa.text("left_on IS NOT NULL")),  # fmt: skip
)

# 实有单位.
organisations = sa.Table(
    "organisations",
    metadata,
    *_record(
        "id",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("credit_code", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("address_code", sa.Text, nullable=False),
        *_sealed("contact_phone", nullable=True),
    ),
    *_by_grid("organisations"),
    sa.Index("organisations_address", "address_code"),
)

# basedata.model.RecordKind → its table and key column.
TABLES: dict[str, sa.Table] = {
    "address": addresses,
    "building": buildings,
    "household": households,
    "person": people,
    "organisation": organisations,
}
KEYS: dict[str, str] = {"address": "code", "building": "code", "household": "id", "person": "id", "organisation": "id"}
# The sealed fields of each kind (three columns each).
SEALED: dict[str, tuple[str, ...]] = {"person": ("id_number", "phone"), "organisation": ("contact_phone",)}
