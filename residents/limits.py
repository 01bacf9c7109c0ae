"""How often a sign-in code may be asked for (each is an SMS the city pays for, and a flood
of them is a way to harass a phone's owner).

Per phone: one code a minute and five an hour; per client address: twenty an hour (a block of
flats behind one NAT still signs in; a script walking numbers does not get far). Counted from
the codes the store holds (not from a node's memory), so every node and a restart agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class CodeLimits:
    phone_gap_s: int = 60
    phone_per_hour: int = 5
    address_per_hour: int = 20


@dataclass(frozen=True, slots=True)
class Recent:
    """What the store says about the last hour: codes sent to the phone (and when the latest
    and the oldest of them were), and codes asked for from the address (and its oldest)."""

    phone_count: int
    phone_latest: datetime | None
    phone_oldest: datetime | None
    address_count: int
    address_oldest: datetime | None


@dataclass(frozen=True, slots=True)
class Refusal:
    retry_after_s: int
    reason: str  # Chinese, shown to the resident


def check(limits: CodeLimits, recent: Recent, now: datetime) -> Refusal | None:
    """None when a code may be sent now, else how long to wait and why."""
    if recent.address_count >= limits.address_per_hour and recent.address_oldest is not None:
        wait = recent.address_oldest + WINDOW - now
        return Refusal(_seconds(wait), "此网络获取验证码过于频繁，请稍后再试")
    if recent.phone_count >= limits.phone_per_hour and recent.phone_oldest is not None:
        wait = recent.phone_oldest + WINDOW - now
        return Refusal(_seconds(wait), "该手机号获取验证码次数过多，请一小时后再试")
    if recent.phone_latest is not None:
        wait = recent.phone_latest + timedelta(seconds=limits.phone_gap_s) - now
        if wait.total_seconds() > 0:
            return Refusal(_seconds(wait), f"验证码已发送，请{_seconds(wait)}秒后再试")
    return None


def _seconds(wait: timedelta) -> int:
    return max(1, int(wait.total_seconds() + 0.999))
