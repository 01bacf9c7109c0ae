"""Retention of base data by rule (issue 19: "retention and deletion by rule").

Pure domain, no I/O: the sweep (command_center/basedata_retention.py) reads these settings
(config `basedata.retention`) and deletes in SQL what `cutoffs` says is past its time.

- A person marked moved out (迁出: `left_on`, set by DELETE /api/basedata/people/{id}) is
  deleted `moved_out_days` after that day, with their care memberships and visits: a record
  of someone who no longer lives in the grid serves no one after a while, and its sealed
  ID number and phone go with it.
- The visits of a closed care membership (`active` false) are deleted `care_closed_days`
  after it was closed (its last change): notes on someone's health and home are kept while
  they are cared for, and for the period an appeal or an audit may need them after.
- Exports are never stored on the server (api/basedata_export.py streams them from
  temporary files deleted as the answer ends), so no setting keeps them.

Days count whole: a person who left on day D with 180 days is kept on D+180 and deleted
from D+181 on. 0 keeps forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field


class RetentionPolicy(BaseModel):
    """How long the base data's personal records are kept once their reason has ended."""

    model_config = ConfigDict(extra="forbid")

    moved_out_days: int = Field(
        default=180, ge=0, le=36_500,
        description="days a person marked moved out (迁出) is kept, with their care memberships and visits; 0 keeps forever",
    )  # fmt: skip
    care_closed_days: int = Field(
        default=365, ge=0, le=36_500,
        description="days the visits of a closed care membership are kept after it closed; 0 keeps forever",
    )  # fmt: skip
    every_s: float = Field(
        default=86_400, ge=60, le=604_800, description="seconds between sweeps (one audit row each)"
    )


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """What the sweep deletes on a day: people who left before `left_before`, visits of
    memberships closed before `closed_before` (an ISO time in UTC, as the store's stamps).
    None: that rule keeps everything."""

    left_before: date | None
    closed_before: str | None


def cutoffs(today: date, policy: RetentionPolicy) -> Cutoffs:
    left = today - timedelta(days=policy.moved_out_days) if policy.moved_out_days else None
    closed = None
    if policy.care_closed_days:
        day = today - timedelta(days=policy.care_closed_days)
        # Midnight UTC of that day: the memberships' updated_at is ISO text in UTC, so it compares as text.
        closed = datetime.combine(day, time(), UTC).isoformat()
    return Cutoffs(left, closed)
