"""Applying a city's files to the registry: one entry point for the CLI and the console.

Each kind (grids, roster, users, cameras, matters) has an importer in its registry
module: it reads and checks the file (command_center/importing), then applies it to the
store in one transaction. With any problem and no `skip_bad`, nothing is written and
the result lists every problem with file, row and column; with `skip_bad`, the good rows
are applied and the bad ones reported. `dry_run` checks without writing.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from command_center.importing.problems import Problem

if TYPE_CHECKING:
    from command_center.config import Config
    from command_center.store import Store
    from dispatch.city import City

# kind → "module:function" of its importer, imported on use (a roster import never loads GIS).
IMPORTERS: dict[str, str] = {
    "grids": "command_center.registry.grids:import_grids",
    "roster": "command_center.registry.roster:import_roster",
    "users": "command_center.registry.roster:import_users",
    "cameras": "command_center.registry.cameras:import_cameras",
    "matters": "command_center.registry.matters:import_matters",
    "devices": "command_center.registry.devices:import_devices",
}
# The registry part each kind changes (registry/changes.py), bumped after a real apply.
PART_OF = {"grids": "grids", "roster": "roster", "users": "users", "cameras": "cameras", "matters": "matters",
           "devices": "devices"}  # fmt: skip

Progress = Callable[[int, int], None]  # (done, total) rows; the CLI draws a bar from it


@dataclass(frozen=True, slots=True)
class ImportOptions:
    skip_bad: bool = False  # apply the good rows, report the bad ones
    dry_run: bool = False  # check only
    actor: str = "cli"  # who imports: recorded on history rows and in the audit log
    layer: str | None = None  # grids: the GeoPackage layer
    encoding: str | None = None  # grids: a Shapefile's encoding without .cpg
    with_users: bool = False  # roster: also create the workers' sign-in accounts
    # The password new accounts get (roster --users, users without one); None: one random
    # password for the whole import, returned once in the result.
    password: str | None = None
    district: str = ""  # a district admin's jurisdiction: rows outside it are refused


@dataclass(slots=True)
class ImportContext:
    """What an importer works against: the store, the running city (grid codes and
    places to check against), the configuration, and a progress callback."""

    store: Store
    city: City
    config: Config
    progress: Progress | None = None


@dataclass(slots=True)
class ImportResult:
    kind: str
    file: str
    applied: bool  # False: refused (problems, no skip_bad) or a dry run
    counts: dict[str, int] = field(default_factory=dict)  # e.g. added, updated, unchanged, skipped
    problems: list[Problem] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)  # e.g. the one-time password of new accounts

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "applied": self.applied,
            "counts": self.counts,
            "problems": [
                {"file": p.file, "row": p.row, "column": p.column, "message": p.message} for p in self.problems
            ],
            **({"notes": self.notes} if self.notes else {}),
        }


class Importer(Protocol):
    def __call__(self, path: Path, context: ImportContext, options: ImportOptions) -> ImportResult: ...


def importer(kind: str) -> Importer:
    if kind not in IMPORTERS:
        raise ValueError(f"unknown import kind {kind!r}; one of {', '.join(IMPORTERS)}")
    module, name = IMPORTERS[kind].split(":")
    found: Importer = getattr(importlib.import_module(module), name)
    return found


_paused = 0
_pause_lock = threading.Lock()


@contextlib.contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while an import builds its objects. A city's map is
    hundreds of thousands of new lists and floats, and each allocation burst set off
    collections that re-scanned everything built so far: a third of a map's parse and
    check. Reference counting still frees what dies; the collector runs again when the
    last import ends (counted: imports may overlap on the API's threads)."""
    global _paused
    with _pause_lock:
        _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            if _paused == 0:
                gc.enable()


def run_import(kind: str, path: Path, context: ImportContext, options: ImportOptions) -> ImportResult:
    """Blocking (file reading, GIS, the store): call it from a thread in the API."""
    with cycle_collector_paused():
        result = importer(kind)(path, context, options)
    if result.applied:
        context.store.bump_registry(PART_OF[kind])
    return result
