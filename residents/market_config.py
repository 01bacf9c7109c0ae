"""The typed `community:` section (command_center/config.py holds it): the service
marketplace's categories and the forum's limits and sensitive words (docs/RESIDENTS.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_CATEGORIES: dict[str, str] = {
    "elderly_meals": "助老餐",
    "repairs": "家电维修",
    "tutoring": "课业辅导",
    "legal_aid": "法律援助",
    "housekeeping": "家政保洁",
    "health": "健康义诊",
    "childcare": "托育看护",
    "other": "其他服务",
}


class CommunityConfig(BaseModel):
    """服务超市 and 论坛: what the city sets for every community."""

    model_config = ConfigDict(extra="forbid")

    categories: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORIES),
        description="service categories: code → name shown to residents",
    )
    sensitive_words: list[str] = Field(
        default_factory=list,
        description="posts containing one of these (spaces and punctuation ignored) are filtered",
    )
    sensitive_action: Literal["refuse", "hold"] = Field(
        default="refuse",
        description="refuse: 400 naming the filter; hold: stored hidden until a moderator restores it",
    )
    ban_days_max: int = Field(default=365, ge=1, le=3650, description="longest posting ban, days")
    title_max: int = Field(default=60, ge=4, le=200)
    body_max: int = Field(default=2000, ge=20, le=20_000)
    demand_days: int = Field(default=90, ge=1, le=3650, description="requests counted in supply and demand")
    posts_per_10_min: int = Field(
        default=10, ge=1, le=1000, description="a resident's threads and replies per 10 minutes"
    )

    @field_validator("categories")
    @classmethod
    def _codes(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("at least one service category")
        for code, name in value.items():
            if not code.isidentifier() or len(code) > 32 or not name.strip():
                raise ValueError(f"category {code!r}: a short identifier with a name")
        return value

    @field_validator("sensitive_words")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        from residents.forum import fold

        folded = [fold(word) for word in value]
        if any(not word for word in folded):
            raise ValueError("a sensitive word needs at least one letter or digit")
        return value
