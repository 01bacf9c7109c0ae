"""The typed `residents:` section of the configuration (command_center/config.py holds it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from residents.chat_rules import ChatConfig
from residents.limits import CodeLimits
from residents.sms import SENDERS


class ResidentsConfig(BaseModel):
    """Residents' sign-in on the citizens' page: phone number and a one-time code."""

    model_config = ConfigDict(extra="forbid")

    sms: str = Field(
        default="log", description="the SMS sender: `log` writes the code to the log (the demo's)"
    )
    session_days: float = Field(default=30.0, gt=0, le=365, description="how long a resident stays signed in")
    code_gap_s: int = Field(default=60, ge=1, le=3600, description="per phone: at most one code this often")
    codes_per_phone_hour: int = Field(default=5, ge=1, le=100, description="per phone: codes an hour")
    codes_per_address_hour: int = Field(
        default=20, ge=1, le=10_000, description="per client address: codes an hour"
    )
    rating_comment_max: int = Field(
        default=200, ge=0, le=2000, description="longest comment on a rating, characters"
    )
    chat: ChatConfig = Field(default_factory=ChatConfig, description="the chat with the grid worker")

    @field_validator("sms")
    @classmethod
    def _known_sender(cls, value: str) -> str:
        if value not in SENDERS:
            raise ValueError(f"unknown SMS sender {value!r}; one of {', '.join(sorted(SENDERS))}")
        return value

    @property
    def limits(self) -> CodeLimits:
        return CodeLimits(self.code_gap_s, self.codes_per_phone_hour, self.codes_per_address_hour)
