"""The working calendar: work hours, weekends, holidays and make-up working days (调休).

Time limits run in working time: a 4-hour matter reported at 17:00 on a Friday is
due Monday morning, not Friday night. Everything here is pure arithmetic on stored
times, so deadlines and overdue checks survive restarts.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

_MAX_DAYS = 3660  # ten years of searching for working time is a broken calendar


class CalendarConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    work_hours: list[tuple[time, time]] = Field(
        default_factory=lambda: [(time(8, 30), time(12, 0)), (time(14, 0), time(18, 0))]
    )
    weekend: list[int] = Field(default_factory=lambda: [5, 6], description="0 = Monday … 6 = Sunday")
    holidays: list[date] = Field(default_factory=list, description="days off that would be working days")
    workdays: list[date] = Field(default_factory=list, description="weekend days that are worked (调休)")

    @field_validator("work_hours")
    @classmethod
    def _ordered(cls, spans: list[tuple[time, time]]) -> list[tuple[time, time]]:
        if not spans:
            raise ValueError("at least one span of work hours is needed")
        for (a, b), nxt in zip(spans, [*spans[1:], None], strict=True):
            if not a < b:
                raise ValueError(f"a work span must end after it starts: {a}–{b}")
            if nxt is not None and nxt[0] < b:
                raise ValueError(f"work spans must be in order and not overlap: {a}–{b}, {nxt[0]}–{nxt[1]}")
        return spans

    def with_days(self, days: dict[date, str]) -> CalendarConfig:
        """This calendar with days set elsewhere (the console's): "holiday" (a day off) or
        "workday" (worked, 调休), each replacing what the configuration said of that day."""
        holidays = {d for d in self.holidays if d not in days} | {d for d, k in days.items() if k == "holiday"}
        workdays = {d for d in self.workdays if d not in days} | {d for d, k in days.items() if k == "workday"}
        return self.model_copy(update={"holidays": sorted(holidays), "workdays": sorted(workdays)})


class WorkCalendar:
    def __init__(self, config: CalendarConfig | None = None, tz: str = "Asia/Shanghai") -> None:
        self.config = config or CalendarConfig()
        self.tz = ZoneInfo(tz)
        self._holidays = set(self.config.holidays)
        self._workdays = set(self.config.workdays)
        self.hours_per_day = sum(_hours(a, b) for a, b in self.config.work_hours)

    def is_working_day(self, day: date) -> bool:
        if day in self._workdays:
            return True
        return day.weekday() not in self.config.weekend and day not in self._holidays

    def add_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of working time after `start`."""
        local = start.astimezone(self.tz)
        remaining = timedelta(hours=hours)
        day = local.date()
        for _ in range(_MAX_DAYS):
            if self.is_working_day(day):
                for a, b in self.config.work_hours:
                    span_start = datetime.combine(day, a, self.tz)
                    span_end = datetime.combine(day, b, self.tz)
                    begin = max(span_start, local)
                    if begin >= span_end:
                        continue
                    if begin + remaining <= span_end:
                        return (begin + remaining).astimezone(start.tzinfo)
                    remaining -= span_end - begin
            day += timedelta(days=1)
        raise ValueError("no working time found within ten years: check the calendar")

    def add_days(self, start: datetime, days: float) -> datetime:
        """`days` working days after `start` (a working day counts its work hours)."""
        return self.add_hours(start, days * self.hours_per_day)

    def hours_between(self, a: datetime, b: datetime) -> float:
        """Working hours from a to b (0 if b is before a)."""
        if b <= a:
            return 0.0
        start, end = a.astimezone(self.tz), b.astimezone(self.tz)
        total = 0.0
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                for s, e in self.config.work_hours:
                    lo = max(datetime.combine(day, s, self.tz), start)
                    hi = min(datetime.combine(day, e, self.tz), end)
                    if hi > lo:
                        total += (hi - lo).total_seconds() / 3600
            day += timedelta(days=1)
        return total


def _hours(a: time, b: time) -> float:
    return (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds() / 3600
