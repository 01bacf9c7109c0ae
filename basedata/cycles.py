"""When a record is due for re-checking (基础数据定期核实): rental housing and the people in it
monthly, everything else quarterly, by default; the cycles are configured per deployment."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

from basedata.model import RecordKind


class CheckCycles(BaseModel):
    """Days between verifications."""

    model_config = ConfigDict(extra="forbid")

    rental_days: int = Field(default=30, ge=1, le=366, description="出租屋: rental buildings and households")
    default_days: int = Field(default=90, ge=1, le=366, description="every other record")
    person_rental_days: int = Field(
        default=30, ge=1, le=366, description="people living in a rental household"
    )


def cycle_days(kind: RecordKind, *, rental: bool, cycles: CheckCycles) -> int:
    """The cycle of a record. `rental` counts for buildings, households and people only: an
    address or an organisation follows the default cycle whatever the building holds."""
    if rental and kind in ("building", "household"):
        return cycles.rental_days
    if rental and kind == "person":
        return cycles.person_rental_days
    return cycles.default_days


def next_check(kind: RecordKind, verified: date, *, rental: bool, cycles: CheckCycles) -> date:
    """The date a record verified on `verified` is due again."""
    return verified + timedelta(days=cycle_days(kind, rental=rental, cycles=cycles))


def due(next_check_at: date | None, today: date) -> bool:
    """Whether a record is due for re-checking today (never checked: due)."""
    return next_check_at is None or next_check_at <= today
