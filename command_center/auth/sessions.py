"""Revocable sessions: is a token still backed by its account, and live connections' end.

A token is signed and expires by itself; what makes it revocable is the account's
`token_version` in the store, copied into the token as `ver`. Changing a password, a
role or a jurisdiction, resetting or disabling an account bumps the version, and every
older token is refused: by each node within `check_s` (the account's state is cached
that long per node, then read again from the shared store), at once on the node that
made the change (`forget`).

Live connections (websocket, MJPEG, WHEP) outlive the request that opened them, so
they register here (`open`), capped per user and kind, and a sweep every `sweep_s`
closes those whose token expired or was revoked, calling the close the opener gave.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from command_center.auth.config import SessionCaps
from command_center.auth.principal import Principal
from command_center.store import Store

log = logging.getLogger(__name__)
KINDS = ("ws", "mjpeg", "whep", "whip")
STALE_OK_S = 60.0  # with the store unreachable, an account state this old still answers
CLOSE_TIMEOUT_S = 10.0
BATCH = 500  # accounts read in one query by the sweep

Close = Callable[[str], Awaitable[None]]


class TooManySessions(Exception):
    def __init__(self, kind: str, limit: int) -> None:
        super().__init__(f"at most {limit} live {kind} sessions per user")
        self.kind = kind
        self.limit = limit


class SessionStoreError(Exception):
    """The account's state could not be read (store down) and none recent is cached."""


@dataclass(frozen=True, slots=True)
class AccountState:
    exists: bool
    disabled: bool = False
    token_version: int = 0
    role: str = ""
    jurisdiction: str = ""
    read_at: float = 0.0  # time.monotonic()

    @classmethod
    def of(cls, row: dict[str, Any] | None, now: float) -> AccountState:
        if row is None:
            return cls(False, read_at=now)
        return cls(
            True, bool(row.get("disabled")), int(row.get("token_version") or 0), row["role"], row["jurisdiction"] or "", now
        )

    def refusal(self, principal: Principal) -> str | None:
        if not self.exists:
            return "no such account"
        if self.disabled:
            return "account disabled"
        if self.token_version != principal.token_version:
            return "token revoked"
        return None


def expired(principal: Principal, now: float | None = None) -> bool:
    return principal.expires_at is not None and (time.time() if now is None else now) >= principal.expires_at


class LiveSession:
    """One open connection of a user; `end()` when it closes (idempotent)."""

    __slots__ = ("principal", "kind", "close", "closing", "_owner")

    def __init__(self, owner: Sessions, principal: Principal, kind: str, close: Close) -> None:
        self._owner = owner
        self.principal = principal
        self.kind = kind
        self.close = close
        self.closing = False

    def end(self) -> None:
        self._owner._remove(self)


class Sessions:
    def __init__(self, store: Store, caps: SessionCaps, check_s: float = 1.0, sweep_s: float = 0.5) -> None:
        self.store = store
        self.caps = caps
        self.check_s = check_s
        self.sweep_s = sweep_s
        self._states: dict[str, AccountState] = {}
        self._reads: dict[str, asyncio.Future[AccountState]] = {}
        self._live: dict[str, set[LiveSession]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.closed = {"expired": 0, "revoked": 0}  # sessions the sweep ended, for /metrics
        self._warned_at = -STALE_OK_S
        self._changed: dict[str, float] = {}  # account → when this node last changed it

    # is a token still good
    async def check(self, principal: Principal) -> str | None:
        """Why the token is no longer good, or None; reads the store on a worker thread.
        Raises SessionStoreError when the store cannot answer and nothing recent is known."""
        if expired(principal):
            return "token expired"
        state = self._fresh(principal.user) or await self._read(principal.user)
        return state.refusal(principal)

    def forget(self, username: str) -> None:
        """Drop what this node knows of an account (it just changed it): the next check reads it,
        and a read begun before the change is not remembered."""
        self._states.pop(username, None)
        self._reads.pop(username, None)
        self._changed[username] = time.monotonic()

    def _current_since(self, username: str, began: float) -> bool:
        """Did a read begun at `began` see the account as it is (no change here since)?"""
        changed = self._changed.get(username)
        if changed is None:
            return True
        if time.monotonic() - changed > STALE_OK_S:
            del self._changed[username]
        return changed < began

    def _fresh(self, username: str) -> AccountState | None:
        state = self._states.get(username)
        if state is not None and time.monotonic() - state.read_at < self.check_s:
            return state
        return None

    def _remember(self, username: str, row: dict[str, Any] | None) -> AccountState:
        state = self._states[username] = AccountState.of(row, time.monotonic())
        return state

    def _stale(self, username: str, exc: BaseException) -> AccountState:
        state = self._states.get(username)
        if state is not None and time.monotonic() - state.read_at < STALE_OK_S:
            if time.monotonic() - self._warned_at > STALE_OK_S:  # once a minute, not every request
                self._warned_at = time.monotonic()
                log.warning("sessions: accounts unreadable (%s); using what was read up to a minute ago", exc)
            return state
        raise SessionStoreError(f"cannot read account {username!r}: {exc}") from exc

    async def _read(self, username: str) -> AccountState:
        """One store read per user at a time: concurrent requests share it."""
        pending = self._reads.get(username)
        if pending is None:
            pending = self._reads[username] = asyncio.ensure_future(self._read_now(username))
            pending.add_done_callback(lambda f: self._reads.pop(username) if self._reads.get(username) is f else None)
        return await asyncio.shield(pending)

    async def _read_now(self, username: str) -> AccountState:
        for _ in range(3):
            began = time.monotonic()
            try:
                row = await asyncio.to_thread(self.store.get_user, username)
            except Exception as exc:
                return self._stale(username, exc)
            if self._current_since(username, began):
                break  # else changed here while we read: read again
        return self._remember(username, row)

    # live connections
    def open(self, principal: Principal, kind: str, close: Close) -> LiveSession:
        """Register a live connection; TooManySessions past the user's cap for `kind`."""
        if kind not in KINDS:
            raise ValueError(f"kind is one of {KINDS}")
        limit = getattr(self.caps, kind)
        mine = self._live.setdefault(principal.user, set())
        if sum(1 for s in mine if s.kind == kind) >= limit:
            if not mine:
                del self._live[principal.user]
            raise TooManySessions(kind, limit)
        session = LiveSession(self, principal, kind, close)
        mine.add(session)
        return session

    def _remove(self, session: LiveSession) -> None:
        mine = self._live.get(session.principal.user)
        if mine is not None:
            mine.discard(session)
            if not mine:
                del self._live[session.principal.user]

    def live(self, kind: str | None = None) -> int:
        return sum(1 for mine in self._live.values() for s in mine if kind is None or s.kind == kind)

    # the sweep
    async def run(self) -> None:
        """Sweep for the runtime's lifetime (a background task)."""
        try:
            while True:
                await asyncio.sleep(self.sweep_s)
                try:
                    await self.sweep()
                except Exception:  # one bad pass must not end revocation for good
                    log.exception("sessions: sweep failed")
        finally:
            for task in tuple(self._closing):
                task.cancel()

    async def sweep(self) -> None:
        """Close every live session whose token expired or was revoked."""
        if not self._live:
            return
        await self._refresh([user for user in self._live if self._fresh(user) is None])
        now = time.time()
        for user, mine in list(self._live.items()):
            state = self._states.get(user)
            for session in [s for s in mine if not s.closing]:
                if expired(session.principal, now):
                    self._close(session, "token expired", "expired")
                elif state is not None and (why := state.refusal(session.principal)) is not None:
                    self._close(session, why, "revoked")
        self._prune()

    async def _refresh(self, users: list[str]) -> None:
        for start in range(0, len(users), BATCH):
            chunk = users[start : start + BATCH]
            began = time.monotonic()
            try:
                rows = await asyncio.to_thread(self.store.get_users, chunk)
            except Exception as exc:  # the store is away: expiry is still enforced, revocation waits
                if time.monotonic() - self._warned_at > STALE_OK_S:  # once a minute, not every sweep
                    self._warned_at = time.monotonic()
                    log.warning("sessions: accounts unreadable (%s); checking expiry only", exc)
                return
            found = {row["username"]: row for row in rows}
            for user in chunk:
                if self._current_since(user, began):  # else the next check reads it afresh
                    self._remember(user, found.get(user))

    def _close(self, session: LiveSession, reason: str, counter: str) -> None:
        session.closing = True
        self.closed[counter] += 1
        task = asyncio.create_task(self._run_close(session, reason), name=f"close-{session.kind}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _run_close(session: LiveSession, reason: str) -> None:
        try:
            await asyncio.wait_for(session.close(reason), CLOSE_TIMEOUT_S)
        except Exception:
            log.exception("sessions: closing a %s session of %s failed", session.kind, session.principal.user)
        finally:
            session.end()

    def _prune(self) -> None:
        """Forget account states long unused (users with no request or session lately)."""
        if len(self._states) < 1024:
            return
        horizon = time.monotonic() - max(STALE_OK_S, self.check_s * 10)
        for user in [u for u, s in self._states.items() if s.read_at < horizon and u not in self._live]:
            del self._states[user]

