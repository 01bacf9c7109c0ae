"""0002 case_location: cases keep their location as columns, so that the dedupe check can
ask for a box around a point instead of parsing every open case of a matter."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# REAL is 4 bytes in PostgreSQL: ~1 m of error on a longitude. Coordinates need 8.
COORDINATE: sa.types.TypeEngine[float] = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")
FILL = {
    "sqlite": "UPDATE cases SET lon = json_extract(doc, '$.location.lon'), lat = json_extract(doc, '$.location.lat')",
    "postgresql": "UPDATE cases SET lon = (doc::jsonb #>> '{location,lon}')::double precision,"
    " lat = (doc::jsonb #>> '{location,lat}')::double precision",
}


def upgrade() -> None:
    op.add_column("cases", sa.Column("lon", COORDINATE))
    op.add_column("cases", sa.Column("lat", COORDINATE))
    op.execute(FILL[op.get_bind().dialect.name])
    op.create_index("cases_open_matter_lon", "cases", ["is_open", "matter_code", "lon"], if_not_exists=True)
