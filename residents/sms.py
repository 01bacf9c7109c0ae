"""Sending a sign-in code by SMS: the `SmsSender` protocol and the registry of senders.

The demo's sender, `log`, writes "验证码 123456 (demo)" to the log (stderr under
`command-center demo`) and keeps the latest code per phone in memory for tests. A real gateway
(an operator's or a cloud SMS API) plugs in as a class with the same `send` and a name in
`SENDERS`, chosen by config `residents.sms`; its credentials come from its own environment
variables, never from the config file or the store (docs/RESIDENTS.md).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from residents.phone import mask_phone

log = logging.getLogger("command_center.residents.sms")
REMEMBERED = 1000  # phones whose latest code the log sender keeps for tests


class SmsError(Exception):
    """The code could not be handed to the gateway (the resident is told to try again)."""


class SmsSender(Protocol):
    name: str

    async def send(self, phone: str, code: str, ttl_minutes: int) -> None:
        """Hand the message to the gateway; SmsError when it refuses or cannot be reached."""
        ...


class LogSender:
    """The demo's sender: the code goes to the log, not to a phone."""

    name = "log"

    def __init__(self) -> None:
        self._latest: OrderedDict[str, str] = OrderedDict()

    async def send(self, phone: str, code: str, ttl_minutes: int) -> None:
        self._latest.pop(phone, None)
        self._latest[phone] = code
        while len(self._latest) > REMEMBERED:
            self._latest.popitem(last=False)
        # WARNING so that it shows at the demo's default log level; it is a demo, not a leak.
        log.warning("验证码 %s (demo) → %s，%d分钟内有效", code, mask_phone(phone), ttl_minutes)

    def latest(self, phone: str) -> str | None:
        """The test hook: the last code sent to `phone` (never exposed over HTTP)."""
        return self._latest.get(phone)


SENDERS: dict[str, Callable[[], SmsSender]] = {"log": LogSender}


def make_sender(name: str) -> SmsSender:
    try:
        return SENDERS[name]()
    except KeyError:
        raise ValueError(f"unknown SMS sender {name!r}; one of {', '.join(sorted(SENDERS))}") from None
