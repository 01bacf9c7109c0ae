"""The working calendar's days and the supervision settings, changed in the console and
applied live; and `follow`, which loads the matter catalogue, the calendar and the settings
at start and registers their appliers.

The configuration gives the defaults (dispatch.calendar: work hours, weekend, holidays,
make-up workdays; dispatch.warn_at, supervise_every_s). The store adds days ("holiday" or
"workday", each replacing what the configuration said of that day) and overrides settings.
Each applier builds a whole new object from the configuration and the store and assigns it
to the dispatcher in one step: a sweep or an intake sees the old one or the new one, never
half of each.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from command_center.registry import matters
from dispatch.calendar import CalendarConfig, WorkCalendar
from dispatch.config import DispatchConfig

if TYPE_CHECKING:
    from command_center.registry.changes import Follower
    from command_center.store import Store
    from dispatch.dispatcher import Dispatcher

DayKind = Literal["holiday", "workday"]
SUPERVISION = "supervision"  # the settings key


class DaySetting(BaseModel):
    """PUT /api/calendar/{day}'s body."""

    model_config = ConfigDict(extra="forbid")
    kind: DayKind
    name: str = Field(default="", max_length=40)


class SupervisionSettings(BaseModel):
    """What supervision (督办) runs by: dispatch.warn_at and dispatch.supervise_every_s."""

    model_config = ConfigDict(extra="forbid")
    warn_at: float = Field(gt=0, lt=1, description="share of the time limit used when a warning goes out")
    supervise_every_s: float = Field(ge=1, le=3600, description="seconds between supervision sweeps")



def stored_days(store: Store) -> dict[date, str]:
    return {date.fromisoformat(row["day"]): row["kind"] for row in store.stored_days()}


def calendar_of(store: Store, config: DispatchConfig) -> WorkCalendar:
    return WorkCalendar(config.calendar.with_days(stored_days(store)), config.timezone)


def supervision_of(store: Store, config: DispatchConfig) -> dict[str, Any]:
    """The settings in effect: the configuration's, the stored ones over them (and who set them)."""
    row = store.setting(SUPERVISION)
    found: dict[str, Any] = {"warn_at": config.warn_at, "supervise_every_s": config.supervise_every_s}
    if row is not None:
        found |= row["doc"] | {"updated_by": row["updated_by"], "updated_at": row["updated_at"]}
    return found


def dispatch_config_of(store: Store, config: DispatchConfig) -> DispatchConfig:
    row = store.setting(SUPERVISION)
    if row is None:
        return config
    return config.model_copy(update=SupervisionSettings.model_validate(row["doc"]).model_dump())


def days_of_year(store: Store, calendar: CalendarConfig, year: int) -> list[dict[str, str]]:
    """The year's special days: the configuration's, and the stored ones over them."""
    days: dict[date, dict[str, str]] = {}
    for kind, listed in (("holiday", calendar.holidays), ("workday", calendar.workdays)):
        for day in listed:
            days[day] = {"day": day.isoformat(), "kind": kind, "name": "", "source": "config"}
    for row in store.stored_days():
        day = date.fromisoformat(row["day"])
        days[day] = {"day": row["day"], "kind": row["kind"], "name": row["name"], "source": "stored"}
    return [days[d] for d in sorted(days) if d.year == year]


def follow(registry: Follower, store: Store, dispatcher: Dispatcher, config: DispatchConfig) -> None:
    """Load the catalogue's versions, the calendar and the settings now, and re-read each
    when it changes (here or on another node)."""
    dispatcher.book = matters.load_book(store, dispatcher.catalog)
    dispatcher.calendar = calendar_of(store, config)
    dispatcher.config = dispatch_config_of(store, config)

    async def apply_calendar() -> None:
        dispatcher.calendar = await asyncio.to_thread(calendar_of, store, config)

    async def apply_settings() -> None:
        dispatcher.config = await asyncio.to_thread(dispatch_config_of, store, config)

    registry.on("matters", matters.applier(store, dispatcher))
    registry.on("calendar", apply_calendar)
    registry.on("settings", apply_settings)
