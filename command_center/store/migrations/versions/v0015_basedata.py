"""0015 basedata: the grid's base data (四标四实): addresses, buildings, households, people and
organisations (store/basedata_schema.py), personal fields sealed in three columns each."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# As store/schema.py's COORDINATE: 8-byte floats on PostgreSQL too.
COORDINATE: sa.types.TypeEngine[float] = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")


def _record(key: str, *fields: Any) -> list[Any]:
    return [
        sa.Column(key, sa.Text, primary_key=True),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("verified_at", sa.Text),
        sa.Column("next_check_at", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        *fields,
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    ]


def _sealed(field: str, nullable: bool) -> list[Any]:
    return [
        sa.Column(f"{field}_cipher", sa.Text, nullable=nullable),
        sa.Column(f"{field}_index", sa.Text, nullable=nullable),
        sa.Column(f"{field}_tail", sa.Text, nullable=nullable),
    ]


def _create(table: str, key: str, *fields: Any, indexes: dict[str, list[str]]) -> None:
    op.create_table(table, *_record(key, *fields))
    op.create_index(f"{table}_grid", table, ["grid_code", "next_check_at"])
    op.create_index(f"{table}_next_check", table, ["next_check_at"])
    for name, columns in indexes.items():
        op.create_index(name, table, columns)


def upgrade() -> None:
    _create(
        "addresses", "code",
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("lon", COORDINATE, nullable=False),
        sa.Column("lat", COORDINATE, nullable=False),
        indexes={},
    )  # fmt: skip
    _create(
        "buildings", "code",
        sa.Column("address_code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("floors", sa.Integer, nullable=False),
        sa.Column("use", sa.Text, nullable=False),
        sa.Column("rental", sa.Boolean, nullable=False),
        sa.Column("lon", COORDINATE, nullable=False),
        sa.Column("lat", COORDINATE, nullable=False),
        indexes={"buildings_address": ["address_code"]},
    )  # fmt: skip
    _create(
        "households", "id",
        sa.Column("building_code", sa.Text, nullable=False),
        sa.Column("room", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        indexes={"households_building": ["building_code"]},
    )  # fmt: skip
    _create(
        "people", "id",
        sa.Column("household_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        *_sealed("id_number", nullable=False),
        *_sealed("phone", nullable=True),
        sa.Column("sex", sa.Text, nullable=False),
        sa.Column("birth_date", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("arrival_date", sa.Text),
        indexes={"people_household": ["household_id"], "people_id_number": ["id_number_index"]},
    )  # fmt: skip
    _create(
        "organisations", "id",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("credit_code", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("address_code", sa.Text, nullable=False),
        *_sealed("contact_phone", nullable=True),
        indexes={"organisations_address": ["address_code"]},
    )  # fmt: skip
