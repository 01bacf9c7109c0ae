"""A grid's base data from CSV or XLSX files (`command-center import basedata FILE...`):
addresses, buildings, households, people, organisations (basedata/model.py).

Like the roster import: every bad row is reported with file, row and column, and nothing
is written when any row is bad (or, with --skip-bad, the good rows only). Several files
go in one import, one transaction: they are checked parents first (addresses, buildings,
households, then people and organisations), and a reference (a household's building) is
found among the import's own rows or in the store, or reported.

Personal fields are sealed here, before anything else holds them: an ID number or phone
is checked (basedata.identity) and kept only sealed (basedata.protect); the key file is
outside the database (config `basedata.key_file`: command_center/basedata_config.py).
Each record's next check comes from basedata.cycles (config `basedata.cycles`), counted
from its verification date (the file's, or today).

Two paths, one set of rules (the cell parsers of importing/basedata_columns.py and
basedata.identity): the bulk path (importing/basedata_fast.py, the default) streams the
files in chunks, checks cells straight into table rows and writes while it checks, so a
district of two million people is never in memory; the model path (basedata_models.py)
builds each row's pydantic model and says a bad row's problems in full for both.
"""

from __future__ import annotations

from datetime import date
from itertools import islice
from pathlib import Path

from basedata.cycles import CheckCycles
from command_center.basedata_config import KEY_ENV as KEY_ENV  # $CC_BASEDATA_KEY, the key file's override
from command_center.importing import basedata_columns as bc
from command_center.importing.basedata_fast import import_stream
from command_center.importing.basedata_models import ORDER, Run, import_models
from command_center.importing.basedata_stream import csv_rows
from command_center.importing.problems import Problem
from command_center.importing.tables import CSV_SUFFIXES, HEADER_SEARCH_ROWS, Unreadable, normalize_header
from command_center.importing.tables import _raw_rows as raw_rows  # the header alone, to infer the kind
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult
from command_center.store.basedata_records import base_data_store

__all__ = ["KEY_ENV", "ORDER", "import_basedata", "import_files", "infer_kind"]


def infer_kind(path: Path) -> str | None:
    """The kind a file holds, told by a column only that kind has (身份证号: people, 户室号:
    households…) among its first rows; None when no column tells."""
    rows = csv_rows(path) if path.suffix.lower() in CSV_SUFFIXES else raw_rows(path)  # a CSV: its head only
    try:
        head = [cells for _, cells in islice(rows, HEADER_SEARCH_ROWS)]
    except Unreadable:
        return None  # read_columns reports it, with the row
    spelled = {normalize_header(text) for cells in head for text in cells if text}
    return next((kind for kind, marks in bc.MARKERS.items() if spelled & marks), None)


def import_basedata(path: Path, context: ImportContext, options: ImportOptions) -> ImportResult:
    """One file, its kind told by its header (registry/imports.py's importer shape)."""
    return import_files([path], context, options)


def import_files(
    paths: list[Path], context: ImportContext, options: ImportOptions, kind: str | None = None,
    today: date | None = None, cycles: CheckCycles | None = None, *, model_path: bool = False,
) -> ImportResult:  # fmt: skip
    """Check every file and write them all in one transaction, or nothing. `model_path`:
    through each row's model, all in memory (the reference; small imports only)."""
    result = ImportResult("basedata", ", ".join(p.name for p in paths), applied=False)
    settings = context.config.basedata
    run = Run(base_data_store(context.store), frozenset(g.code for g in context.city.grids), options,
              today or date.today(), cycles or settings.cycles,
              settings.key_path(context.config.server.data_dir))  # fmt: skip
    kinds: list[tuple[str, Path]] = []
    for path in paths:
        found = kind or infer_kind(path)
        if found is None:
            result.problems.append(Problem(path.name, None, None, f"cannot tell what the file holds: name its kind"
                                           f" ({', '.join(ORDER)}) or use its columns' names"))  # fmt: skip
        else:
            kinds.append((found, path))
    kinds.sort(key=lambda kp: ORDER.index(kp[0]))
    (import_models if model_path else import_stream)(kinds, run, result)
    return result
