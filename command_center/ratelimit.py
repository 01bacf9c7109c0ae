"""Per-key token buckets: public endpoints per client address, sign-in per address and account."""

from __future__ import annotations

import time
from collections import OrderedDict


class RateLimiter:
    def __init__(self, per_minute: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, last time)

    def tokens(self, key: str, now: float | None = None) -> float:
        """Tokens in `key`'s bucket now (nothing is taken)."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - last) * self.rate)

    def wait_s(self, key: str, now: float | None = None) -> float:
        """Seconds until `key` has a token again (0: it has one)."""
        return max(0.0, (1.0 - self.tokens(key, now)) / self.rate)

    def allow(self, key: str, now: float | None = None) -> tuple[bool, float]:
        """(allowed, seconds until the next token)."""
        now = time.monotonic() if now is None else now
        tokens = self.tokens(key, now)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._put(key, tokens, now)
        return allowed, 0.0 if allowed else (1.0 - tokens) / self.rate

    def refund(self, key: str, now: float | None = None) -> None:
        """Give back the token an attempt took (it turned out to be legitimate)."""
        now = time.monotonic() if now is None else now
        self._put(key, min(float(self.burst), self.tokens(key, now) + 1.0), now)

    def _put(self, key: str, tokens: float, now: float) -> None:
        self._buckets.pop(key, None)
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_clients:  # forget the least recently seen clients
            self._buckets.popitem(last=False)


class LoginThrottle:
    """Sign-in attempts, limited per client address AND per account: rotating addresses
    gain nothing against one account, and one address cannot try many accounts. A third
    bucket bounds failed attempts of everyone together: a flood from ever new addresses
    for ever new names passes the first two, and each attempt costs a password hash.
    An attempt takes a token from every bucket only when each has one; a successful
    sign-in gives them back, so people signing in do not use up their hall's bucket."""

    def __init__(self, per_address: RateLimiter, per_account: RateLimiter, overall: RateLimiter | None = None) -> None:
        self.per_address = per_address
        self.per_account = per_account
        self.overall = overall

    def _buckets(self, address: str, account: str) -> list[tuple[RateLimiter, str]]:
        buckets = [(self.per_address, address), (self.per_account, account.lower())]
        return buckets + [(self.overall, "*")] if self.overall is not None else buckets

    def take(self, address: str, account: str, now: float | None = None) -> float:
        """0.0 when the attempt may go ahead (a token taken from each), else seconds to wait."""
        now = time.monotonic() if now is None else now
        buckets = self._buckets(address, account)
        wait = max(limiter.wait_s(key, now) for limiter, key in buckets)
        if wait > 0:
            return wait
        for limiter, key in buckets:
            limiter.allow(key, now)
        return 0.0

    def refund(self, address: str, account: str) -> None:
        for limiter, key in self._buckets(address, account):
            limiter.refund(key)
