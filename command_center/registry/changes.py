"""Registry changes, applied live on every node.

A change is written to the store, then its part's version is bumped there
(`store.bump_registry`): roster, cameras, matters, calendar, settings, grids, users.
Every process follows the versions (`Follower.run`, one cheap read a second) and,
for a part whose version moved, runs that part's applier, which re-reads the part
from the store. The node that made a change applies it at once (`changed`), so its
own answers already show it.

Why the store and not the bus: a change may come from the CLI (`command-center import`)
in a process with no bus of the server's, and a node that was down when a change was
made must still start from it. A version per part in the store covers both; a second
of delay is well inside "live" for an administrator's change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from command_center.store import Store

log = logging.getLogger(__name__)
PARTS = ("grids", "roster", "users", "cameras", "matters", "calendar", "settings", "devices")
POLL_S = 1.0
Apply = Callable[[], Awaitable[None]]


class Follower:
    """This process's view of the registry's versions, and who applies each part."""

    def __init__(self, store: Store, poll_s: float = POLL_S) -> None:
        self.store = store
        self.poll_s = poll_s
        self.appliers: dict[str, list[Apply]] = {}
        self.seen: dict[str, int] = {}
        self.applied = 0  # changes applied since the start, for /metrics and tests

    def on(self, part: str, apply: Apply) -> None:
        """Run `apply` (which re-reads `part` from the store) each time `part` changes."""
        if part not in PARTS:
            raise ValueError(f"unknown registry part {part!r}; one of {', '.join(PARTS)}")
        self.appliers.setdefault(part, []).append(apply)

    def note_loaded(self) -> None:
        """Note the versions now, as what the parts are loaded at (call before loading them)."""
        self.seen = self.store.registry_versions()

    async def changed(self, part: str) -> None:
        """A change this process just wrote: bump the version, apply it here now."""
        version = await asyncio.to_thread(self.store.bump_registry, part)
        self.seen[part] = max(self.seen.get(part, 0), version)
        await self._apply(part)

    async def run(self) -> None:
        """Forever: apply each part whose version moved since last seen."""
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.poll()
            except Exception:  # a store hiccup: the next poll tries again
                log.warning("reading the registry versions failed", exc_info=True)

    async def poll(self) -> None:
        versions = await asyncio.to_thread(self.store.registry_versions)
        for part, version in versions.items():
            if version > self.seen.get(part, 0):
                self.seen[part] = version
                await self._apply(part)

    async def _apply(self, part: str) -> None:
        for apply in self.appliers.get(part, ()):
            try:
                await apply()
            except Exception:  # the store keeps the change: the next one (or a restart) reads it again
                log.exception("applying a change to %s failed", part)
        self.applied += 1
