"""Mainland mobile numbers: a resident signs in with one (手机号 + 验证码).

Only mobiles: a code is sent by SMS, and a land line cannot receive one. What people type
is accepted loosely (+86 / 0086 / 86 prefixes, spaces, dashes, full-width digits) and kept as
the bare 11 digits.
"""

from __future__ import annotations

import re
import unicodedata

MOBILE = re.compile(r"1[3-9]\d{9}", re.ASCII)
SEPARATORS = re.compile(r"[\s\-()（）]")
PREFIXES = ("+86", "0086", "86")
MAX_INPUT = 32  # longer input is no phone number: refused before any work


class BadPhone(ValueError):
    """Why a phone number was refused, in Chinese (the page shows it as is)."""


def normalise_phone(text: object) -> str:
    """The bare 11-digit mobile number, or BadPhone."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_INPUT:
        raise BadPhone("请输入11位手机号")
    digits = SEPARATORS.sub("", unicodedata.normalize("NFKC", text).strip())
    for prefix in PREFIXES:
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    if not MOBILE.fullmatch(digits):
        raise BadPhone("手机号格式不正确：应为1开头的11位大陆手机号（13–19号段）")
    return digits


def mask_phone(phone: str) -> str:
    """A phone as the page shows it: 138****5678 (the carrier prefix and the last four)."""
    return f"{phone[:3]}****{phone[-4:]}"
