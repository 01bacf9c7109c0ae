"""Applying a grid map (`command-center import grids FILE`, POST /api/import/grids).

The file (GeoJSON, Shapefile or GeoPackage: importing/gis.py) is read and checked like
`grids validate` does; a map is all or nothing (`skip_bad` cannot drop a polygon from
a map: its neighbours and parents would no longer fit). A clean map is stored in the
store's city_maps, areas of every level, the running map's kept at levels the file
has none of, so that every node loads the same map (city_map.load_map); the people stay
the roster's. Only a city-wide administrator imports the map.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from command_center.city_map import map_doc
from command_center.importing.gis import GEOJSON_SUFFIXES, read_grid_map
from command_center.importing.problems import Problem
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult
from dispatch.city import City

LEVEL_COUNTS = {"district": "districts", "street": "streets", "community": "communities", "grid": "grids"}


def import_grids(path: Path, context: ImportContext, options: ImportOptions) -> ImportResult:
    result = ImportResult("grids", path.name, applied=False)
    if options.district:
        result.problems = [
            Problem(
                path.name,
                None,
                None,
                f"only a city-wide administrator imports the grid map (yours is {options.district})",
            )
        ]
        return result
    if context.progress is not None:
        context.progress(0, 3)
    found = read_grid_map(path, options.layer, context.city, encoding=options.encoding)
    result.problems = list(found.problems)
    if not found.ok:
        return result
    if context.progress is not None:
        context.progress(1, 3)
    city = found.city(context.city)
    by_level: Counter[str] = Counter(area.level for area in city.areas.values())
    result.counts = {label: by_level[level] for level, label in LEVEL_COUNTS.items()}
    result.counts["warnings"] = len(found.warnings)
    grids = {g.code for g in city.grids}
    result.counts["workers_without_grid"] = len(
        {w.id for w in context.city.workers if w.grid_code not in grids}
    )
    if options.dry_run:
        return result
    doc = _stored_text(path, city, found.report.levels if found.report else set())
    if context.progress is not None:
        context.progress(2, 3)
    context.store.save_city_map(doc, options.actor, f"import:{path.name}")
    if context.progress is not None:
        context.progress(3, 3)
    result.applied = True
    return result


def _stored_text(path: Path, city: City, file_levels: set[str]) -> str:
    """What city_maps keeps. A GeoJSON file that holds every level of the map is kept as it
    came (it was just validated, and every load validates it again): writing it out anew
    from the shapes cost a third of a city's import. A Shapefile, a GeoPackage or a file
    of some levels only (the rest kept from the running map) is written out from the map."""
    if path.suffix.lower() in GEOJSON_SUFFIXES and {a.level for a in city.areas.values()} <= file_levels:
        return path.read_text(encoding="utf-8")
    return map_doc(city)
