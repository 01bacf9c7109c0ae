"""Everything auth needs at run time, built once from the configuration."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from command_center.auth.config import AuthConfig
from command_center.auth.passwords import Passwords
from command_center.auth.policy import Policy
from command_center.auth.principal import Principal
from command_center.auth.sessions import Sessions
from command_center.auth.tokens import TokenSigner, load_or_create_secret
from command_center.auth.users import Users
from command_center.ratelimit import LoginThrottle, RateLimiter
from command_center.store import Store

T = TypeVar("T")


class HashBusy(Exception):
    """Every argon2 thread is busy and the queue is full: answer at once, do not wait."""


HASH_NICENESS = 10  # argon2 threads yield the CPU to the event loop when both want it


def _lower_priority() -> None:
    """Run this thread at a lower priority (Linux schedules threads one by one)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not permitted: as is
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


class HashPool:
    """argon2 on threads of its own, never the shared default pool that the API's store
    reads use: a flood of sign-ins then waits here (bounded) instead of stalling the API,
    and past the bound is answered at once. The threads run at a lower priority, so that
    hashing for a flood takes the CPU the API leaves, not the API's."""

    def __init__(self, threads: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="argon2", initializer=_lower_priority)
        self.limit = threads + queue
        self._lock = threading.Lock()
        self.pending = 0  # submitted and not finished (running or queued)
        self.refused = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self.pending >= self.limit:
                self.refused += 1
                raise HashBusy()
            self.pending += 1
        future = self._executor.submit(fn, *args)
        # Counted down when the work ends, even if the waiting request went away meanwhile.
        future.add_done_callback(self._done)
        return await asyncio.wrap_future(future)

    def _done(self, _future: object) -> None:
        with self._lock:
            self.pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def hash_threads(config: AuthConfig) -> int:
    return config.hash_threads or max(1, min(4, (os.cpu_count() or 2) // 2))


def signer_for(config: AuthConfig, data_dir: Path) -> TokenSigner:
    secret = config.secret.encode() if config.secret else load_or_create_secret(data_dir)
    return TokenSigner(secret, config.token_ttl_s)


@dataclass
class Auth:
    config: AuthConfig
    signer: TokenSigner
    policy: Policy
    users: Users
    logins: LoginThrottle
    sessions: Sessions
    hashing: HashPool

    @classmethod
    def build(cls, config: AuthConfig, data_dir: Path, store: Store) -> Auth:
        return cls(
            config,
            signer_for(config, data_dir),
            Policy(config.public_metrics),
            Users(store, Passwords(config.hash_time_cost, config.hash_memory_kib)),
            LoginThrottle(
                RateLimiter(config.login_per_minute, config.login_burst),
                RateLimiter(config.login_account_per_minute, config.login_account_burst),
                RateLimiter(config.login_all_per_minute, config.login_all_burst, max_clients=1),
            ),
            Sessions(store, config.max_sessions_per_user, config.session_check_s, config.session_sweep_s),
            HashPool(hash_threads(config), config.hash_queue),
        )

    def issue(self, principal: Principal) -> tuple[str, float]:
        return self.signer.issue(principal)
