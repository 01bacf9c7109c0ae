"""`command-center import check`: read a city's grid map, roster and cameras, list every
problem by file:row:column, and write nothing.

The files are checked against each other in one pass: roster grid codes and camera
grids against the grid map given (or the current city's when none is), camera positions
against the map's bounds. A file with problems does not stop the others from being
checked, so one run lists everything there is to fix.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import shapely
from tqdm import tqdm

from command_center.importing.cameras import CameraEntry, check_cameras
from command_center.importing.gis import GridMap, read_grid_map
from command_center.importing.problems import Problem
from command_center.importing.roster import RosterEntry, check_roster
from dispatch.city import City

Bounds = tuple[float, float, float, float]  # minlon, minlat, maxlon, maxlat


@dataclass(frozen=True)
class CityFileSpec:
    """Which files to read; any of them may be left out."""

    roster: Path | None = None
    cameras: Path | None = None
    grids: Path | None = None
    layer: str | None = None  # a GeoPackage's layer, when it has several
    encoding: str | None = None  # a Shapefile's text encoding, when it has no .cpg


@dataclass
class CityFiles:
    """What the files hold once read, and everything wrong with them. The entries are
    empty for a file with problems: an import is all or nothing."""

    grids: GridMap | None = None
    roster: list[RosterEntry] = field(default_factory=list)
    cameras: list[CameraEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    counts: dict[str, str] = field(default_factory=dict)  # file name → what it holds, for the summary

    @property
    def ok(self) -> bool:
        return not self.problems


def read_city_files(spec: CityFileSpec, context: City | None = None, progress: bool = False) -> CityFiles:
    """Read and check every file given; `context` is the city the files join (its grid
    codes and bounds stand in for a grid map that is not given)."""
    files = CityFiles()
    steps = [p for p in (spec.grids, spec.roster, spec.cameras) if p is not None]
    bar = tqdm(total=len(steps), desc="checking", unit="file", file=sys.stderr, disable=not progress)
    grid_codes, bounds = _context_grids(context)
    if spec.grids is not None:
        bar.set_postfix_str(spec.grids.name)
        files.grids = read_grid_map(
            spec.grids, spec.layer, context, encoding=spec.encoding, progress=progress
        )
        files.problems.extend(files.grids.problems)
        files.warnings.extend(files.grids.warnings)
        grid_codes, bounds = _map_grids(files.grids, grid_codes, bounds)
        files.counts[spec.grids.name] = _map_summary(files.grids)
        bar.update(1)
    if spec.roster is not None:
        bar.set_postfix_str(spec.roster.name)
        files.roster, found = check_roster(spec.roster, grid_codes)
        files.problems.extend(found)
        files.counts[spec.roster.name] = f"{len(files.roster):,} workers"
        bar.update(1)
    if spec.cameras is not None:
        bar.set_postfix_str(spec.cameras.name)
        files.cameras, found = check_cameras(spec.cameras, grid_codes, bounds)
        files.problems.extend(found)
        files.counts[spec.cameras.name] = f"{len(files.cameras):,} cameras"
        bar.update(1)
    bar.close()
    files.problems.sort(key=Problem.sort_key)
    files.warnings.sort(key=Problem.sort_key)
    return files


def check_city_files(
    spec: CityFileSpec, context: City | None = None, progress: bool = False, out: TextIO | None = None
) -> int:
    """Print every problem (warnings too) and a summary line per file; 1 when anything is wrong."""
    out = out or sys.stdout
    files = read_city_files(spec, context, progress)
    for problem in files.problems:
        print(problem, file=out)
    for warning in files.warnings:
        print(warning, file=out)
    by_file: dict[str, int] = {}
    for problem in files.problems:
        by_file[problem.file] = by_file.get(problem.file, 0) + 1
    for name, holds in files.counts.items():
        wrong = by_file.get(name, 0)
        verdict = f"{wrong} problem{'' if wrong == 1 else 's'}" if wrong else f"ok ({holds})"
        print(f"{name}: {verdict}", file=out)
    total = len(files.problems)
    print(
        f"{total} problem{'' if total == 1 else 's'}; nothing was imported" if total else "all files ok",
        file=out,
    )
    return 1 if total else 0


class _AnyGrid(frozenset[str]):
    """Stands for the grid codes when no map says which exist (none given, or the given one
    unreadable): every code passes, rather than every row failing for want of a map whose
    own problem is already listed."""

    def __contains__(self, code: object) -> bool:
        return True


def _context_grids(context: City | None) -> tuple[frozenset[str], Bounds | None]:
    if context is None or not context.areas:
        return _AnyGrid(), None
    return frozenset(g.code for g in context.grids), context.bounds


def _map_grids(
    grids: GridMap, codes: frozenset[str], bounds: Bounds | None
) -> tuple[frozenset[str], Bounds | None]:
    """The grid codes and bounds the other files are checked against: the map's own when
    it has grids (a partial map of streets keeps the current grids), read even from a map
    with problems so that the roster is checked in the same run."""
    if grids.report is None or not grids.report.areas:
        return codes, bounds
    if "grid" in grids.report.levels:
        codes = frozenset(grids.grid_codes)
    minx, miny, maxx, maxy = shapely.total_bounds([a.polygon for a in grids.report.areas.values()])
    own: Bounds = (float(minx), float(miny), float(maxx), float(maxy))
    if bounds is not None:
        own = (min(own[0], bounds[0]), min(own[1], bounds[1]), max(own[2], bounds[2]), max(own[3], bounds[3]))
    return codes, own


def _map_summary(grids: GridMap) -> str:
    if grids.report is None:
        return "unreadable"
    levels = grids.report.summary()["by_level"]
    return ", ".join(f"{n:,} {level}" for level, n in levels.items()) or "no areas"
