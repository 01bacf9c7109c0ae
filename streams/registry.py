"""Source kinds: one registry, chosen by the camera's `kind` or its URL scheme.

Each source module registers its kinds when imported; the built-in modules are
imported on first use, so importing the registry stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from streams.base import Source
from streams.config import SourceConfig

SourceFactory = Callable[[SourceConfig], Source]
_KINDS: dict[str, SourceFactory] = {}
_BUILTIN = ("streams.sim", "streams.whip", "streams.av", "streams.mjpeg")
_loaded = False


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
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN:
            importlib.import_module(module)
