"""Importing a devices file into the registry (registry/imports.py's "devices" kind; the CLI's
`command-center import devices FILE [--skip-bad] [--dry-run]` and the console's upload).

Read and checked by importing/devices.py; a district admin's rows must lie in their
district (a known device outside it is refused too). Applied in ONE transaction
(store/device_records.py upsert_all): all or nothing; with --skip-bad the good rows.
"""

from __future__ import annotations

from pathlib import Path

from command_center.importing.devices import DeviceEntry, read_devices
from command_center.importing.problems import Problem
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult
from command_center.store.device_records import DeviceRecords, device_store


def import_devices(path: Path, context: ImportContext, options: ImportOptions) -> ImportResult:
    from dispatch.city.index import GridIndex

    city = context.city
    result = ImportResult("devices", path.name, applied=False)
    index = GridIndex(city)

    def locate(lon: float, lat: float) -> str | None:
        found = index.locate(lon, lat)
        return found.grid_code if found is not None else None

    entries, problems = read_devices(path, {g.code for g in city.grids}, locate, city.bounds)
    records = device_store(context.store)
    if options.district:
        entries, outside = _in_district(entries, options.district, records)
        problems = sorted([*problems, *outside], key=Problem.sort_key)
    result.problems = problems
    if problems and not options.skip_bad:
        return result
    known = records.registered(e.device.id for e in entries)
    added = sum(1 for e in entries if not known.get(e.device.id, False))
    result.counts = {"added": added, "updated": len(entries) - added,
                     **({"skipped": len({p.row for p in problems})} if options.skip_bad else {})}  # fmt: skip
    if context.progress is not None:
        context.progress(len(entries), len(entries))
    if options.dry_run or not entries:
        return result
    records.upsert_all([e.device for e in entries], options.actor)
    result.applied = True
    return result


def _in_district(
    entries: list[DeviceEntry], district: str, records: DeviceRecords
) -> tuple[list[DeviceEntry], list[Problem]]:
    """A district admin's rows: inside their district, and not a device registered outside
    it (one read per known id: a district's file is small)."""
    known = records.registered(e.device.id for e in entries)
    kept: list[DeviceEntry] = []
    problems: list[Problem] = []
    for entry in entries:
        device = entry.device
        stored = records.get(device.id) if known.get(device.id) else None
        if not device.grid_code.startswith(district):
            column = "grid_code" if entry.grid_given else "lon"
            problems.append(
                entry.problem(column, f"device {device.id} lies outside your district {district}")
            )
        elif stored is not None and not stored.grid_code.startswith(district):
            problems.append(
                entry.problem("id", f"device {device.id} exists outside your district {district}")
            )
        else:
            kept.append(entry)
    return kept, problems
