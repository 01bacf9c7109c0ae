"""The chat with the grid worker (网格员客服窗口), its pure rules: the `residents.chat` config,
office hours per grid, who answers, what a message may hold, and the flood limits.

No store, no web (import-linter: "residents stand alone"): the API (command_center/api/chat.py)
counts and stores, and asks these functions what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
KINDS = ("text", "location")  # sent as JSON; a photo is its own upload


def _clock(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    return time(23, 59, 59) if hour == 24 else time(hour, minute)


class OfficeHours(BaseModel):
    """When a grid's service is staffed: local hours on the listed ISO weekdays (1 = Monday)."""

    model_config = ConfigDict(extra="forbid")
    _span: tuple[time, time] = PrivateAttr()

    hours: str = Field(default="08:30-17:30", description="HH:MM-HH:MM, local time")
    weekdays: list[int] = Field(default=[1, 2, 3, 4, 5, 6, 7], description="ISO weekdays, 1 = Monday")

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if not HOURS.match(value) or value[:5] >= value[6:]:
            raise ValueError("office hours are HH:MM-HH:MM with the start before the end, e.g. 08:30-17:30")
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value or any(not 1 <= day <= 7 for day in value):
            raise ValueError("weekdays are ISO numbers 1 (Monday) to 7 (Sunday)")
        return value

    def model_post_init(self, _context: Any) -> None:
        self._span = (_clock(self.hours[:5]), _clock(self.hours[6:]))  # read once: each chat message asks

    def open_at(self, local: datetime) -> bool:
        start, end = self._span
        return local.isoweekday() in self.weekdays and start <= local.time().replace(tzinfo=None) < end


class ChatConfig(BaseModel):
    """`residents.chat`: office hours (per grid-code prefix, the longest prefix wins) and limits."""

    model_config = ConfigDict(extra="forbid")

    office_hours: OfficeHours = Field(default_factory=OfficeHours, description="the default office hours")
    grid_hours: dict[str, OfficeHours] = Field(
        default_factory=dict, description="office hours by grid-code prefix (a district, street, grid)"
    )
    text_max: int = Field(default=1000, ge=1, le=10_000, description="longest text message, characters")
    burst_messages: int = Field(default=5, ge=1, le=1000, description="per resident: messages in burst_s")
    burst_s: int = Field(default=10, ge=1, le=3600, description="the burst window, seconds")
    minute_messages: int = Field(default=30, ge=1, le=10_000, description="per resident: messages a minute")
    photo_max_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        le=64 * 1024 * 1024,
        description="largest photo, bytes (within limits.body_kb)",
    )

    @field_validator("grid_hours")
    @classmethod
    def _prefixes(cls, value: dict[str, OfficeHours]) -> dict[str, OfficeHours]:
        for prefix in value:
            if not (prefix.isdigit() and len(prefix) <= 15):
                raise ValueError(f"grid_hours keys are grid-code prefixes (digits), not {prefix!r}")
        return value

    def hours_of(self, grid_code: str) -> OfficeHours:
        if not self.grid_hours:
            return self.office_hours
        found = [p for p in self.grid_hours if grid_code.startswith(p)]
        return self.grid_hours[max(found, key=len)] if found else self.office_hours


@dataclass(frozen=True, slots=True)
class Route:
    """Who answers a conversation now: a worker, or the grid's desk (worker None), and why."""

    worker_id: str | None
    reason: str  # on_duty, no_one_on_duty, off_hours


def route(hours: OfficeHours, on_duty: list[str], local: datetime) -> Route:
    """The grid's on-duty worker within office hours; else its service desk."""
    if not hours.open_at(local):
        return Route(None, "off_hours")
    if not on_duty:
        return Route(None, "no_one_on_duty")
    return Route(sorted(on_duty)[0], "on_duty")


def handover_text(reason: str, hours: OfficeHours, worker_name: str | None = None) -> str:
    """The automatic message a resident sees when the conversation changes hands."""
    if reason == "on_duty":
        return f"网格员{worker_name or ''}已接待您，请描述您的问题。"
    if reason == "off_hours":
        return (f"现在是非工作时间（工作时间 {hours.hours.replace('-', '–')}），您的消息已转交网格服务台，"
                "网格员上班后会尽快回复您。")  # fmt: skip
    return "网格员暂时不在岗，您的消息已转交网格服务台，我们会尽快回复您。"


class BadMessage(ValueError):
    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.reason, self.field = reason, field


def message_of(body: dict[str, Any], text_max: int) -> tuple[str, str, float | None, float | None]:
    """(kind, text, lon, lat) of a JSON message body; BadMessage naming the field otherwise."""
    kind = body.get("kind", "text")
    if kind not in KINDS:
        raise BadMessage("消息类型只能是文字或位置（照片请上传）", "kind")
    text = body.get("text", "")
    if not isinstance(text, str) or len(text) > text_max:
        raise BadMessage(f"消息不超过{text_max}字", "text")
    text = text.strip()
    if kind == "text":
        if not text:
            raise BadMessage("消息不能为空", "text")
        return kind, text, None, None
    lon, lat = body.get("lon"), body.get("lat")
    for name, value, bound in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
            raise BadMessage("位置需要有效的经纬度", name)
    assert isinstance(lon, int | float) and isinstance(lat, int | float)
    return kind, text, float(lon), float(lat)


@dataclass(frozen=True, slots=True)
class Flood:
    retry_after_s: int
    reason: str


def flood_window(config: ChatConfig, now: datetime) -> tuple[datetime, datetime]:
    """The starts of the burst window and of the minute that `flood` counts messages in."""
    return now - timedelta(seconds=config.burst_s), now - timedelta(minutes=1)


def flood(config: ChatConfig, in_burst: int, in_minute: int) -> Flood | None:
    """A refusal when the resident's recent messages reach a limit (nothing is stored then)."""
    if in_burst >= config.burst_messages:
        return Flood(config.burst_s, f"发送太频繁，请{config.burst_s}秒后再试")
    if in_minute >= config.minute_messages:
        return Flood(60, "一分钟内消息过多，请稍后再试")
    return None
