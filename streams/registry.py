"""Source kinds: one registry, chosen by the camera's `kind` or its URL scheme."""

from __future__ import annotations

from collections.abc import Callable

from streams.base import Source
from streams.config import SourceConfig

SourceFactory = Callable[[SourceConfig], Source]
_KINDS: dict[str, SourceFactory] = {}


def register(*kinds: str) -> Callable[[SourceFactory], SourceFactory]:
    def wrap(factory: SourceFactory) -> SourceFactory:
        for kind in kinds:
            _KINDS[kind] = factory
        return factory

    return wrap


def kinds() -> list[str]:
    _load_builtin()
    return sorted(_KINDS)


def create_source(config: SourceConfig) -> Source:
    _load_builtin()
    scheme = config.url.split("://", 1)[0] if "://" in config.url else ""
    factory = _KINDS.get(config.kind) or _KINDS.get(scheme)
    if factory is None:
        raise ValueError(f"camera {config.id}: unknown source kind {config.kind!r}; known: {', '.join(kinds())}")
    return factory(config)


def _load_builtin() -> None:
    if _KINDS:
        return

    from streams.sim.source import open_sim

    @register("sim", "drone")
    def _sim(config: SourceConfig) -> Source:
        return open_sim(config.url, config.fps)
