"""One-time sign-in codes: six digits, valid five minutes, five tries, used once.

A code is never stored: only its keyed hash (HMAC-SHA256 under a server key, over the phone's
lookup hash and the code), so a copy of the database does not give away live codes, and a
million guesses offline need the key. `judge` decides an attempt from the stored row alone;
the store then applies the decision with a conditional UPDATE (tries below the limit, not yet
used), so two attempts racing cannot both use one code or exceed the tries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DIGITS = 6
TTL = timedelta(minutes=5)
MAX_TRIES = 5  # wrong tries a code survives; the sixth attempt is refused even with the right code


def new_code() -> str:
    """Six random digits (leading zeros kept), from the OS's secure source."""
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def code_hash(key: bytes, phone_hash: str, code: str) -> str:
    """The keyed hash stored for `code` sent to the phone whose lookup hash is `phone_hash`."""
    return hmac.new(key, f"{phone_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def well_formed(code: object) -> bool:
    return isinstance(code, str) and len(code) == DIGITS and code.isascii() and code.isdigit()


class Verdict(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # counted as a try
    USED = "used"  # this code signed someone in already (a replay)
    EXPIRED = "expired"
    TOO_MANY = "too_many"  # the tries are spent: ask for a new code
    NONE = "none"  # no code was sent to this phone (or it was swept)


REASONS: dict[Verdict, str] = {
    Verdict.WRONG: "验证码错误",
    Verdict.USED: "验证码已使用",
    Verdict.EXPIRED: "验证码已过期，请重新获取",
    Verdict.TOO_MANY: "验证码错误次数过多，请重新获取",
    Verdict.NONE: "请先获取验证码",
}


@dataclass(frozen=True, slots=True)
class StoredCode:
    """The latest code sent to a phone, as the store keeps it."""

    id: str
    code_hash: str
    expires_at: datetime
    tries: int
    used_at: datetime | None


def judge(row: StoredCode | None, given_hash: str, now: datetime) -> Verdict:
    """What an attempt with a code whose hash is `given_hash` gets, against the latest code."""
    if row is None:
        return Verdict.NONE
    matches = hmac.compare_digest(row.code_hash, given_hash)
    if row.used_at is not None:
        return Verdict.USED if matches else Verdict.NONE
    if row.tries >= MAX_TRIES:
        return Verdict.TOO_MANY
    if now >= row.expires_at:
        return Verdict.EXPIRED
    return Verdict.OK if matches else Verdict.WRONG
