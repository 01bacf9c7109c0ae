"""`command-center import ...`: a city's own files (grid map, roster, users, cameras, matters,
and the grids' base data: `import basedata FILE...`, importing/basedata.py).

`import check` reads and checks files against each other and prints every problem as
file:row:column; it writes nothing. `import KIND FILE` applies one file to the store of
the configuration given (registry/imports.py): all or nothing, or the good rows with
`--skip-bad`; exit 2 listing every problem when it is refused. Running servers pick the
change up within a second (registry/changes.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from command_center.config import Config


def add_commands(sub: Any) -> None:
    """The `import` command and its subcommands, on the CLI's subparsers."""
    imports = sub.add_parser("import", help="a city's own files: grids, roster, cameras")
    import_sub = imports.add_subparsers(dest="import_command", required=True)
    check = import_sub.add_parser(
        "check", help="read and check the files against each other; exit 1 listing every problem as file:row:column"
    )
    check.add_argument("--roster", type=Path, help="workers: CSV or XLSX")
    check.add_argument("--cameras", type=Path, help="cameras: CSV")
    check.add_argument("--grids", type=Path, help="the grid map: Shapefile (.shp), GeoPackage (.gpkg) or GeoJSON")
    check.add_argument("--layer", help="the GeoPackage layer to read, when it has several polygon layers")
    check.add_argument("--encoding", help="a Shapefile's text encoding when it has no .cpg (e.g. GBK)")
    check.add_argument(
        "--city-from", type=Path, metavar="CONFIG",
        help="check against the city this configuration runs (default: the built-in one, unless --grids is given)",
    )  # fmt: skip
    _add_apply_commands(import_sub)
    _add_basedata_command(import_sub)


def _add_apply_commands(import_sub: Any) -> None:
    from command_center.registry.imports import IMPORTERS

    helps = {
        "grids": "the grid map: GeoJSON, Shapefile (.shp or a .zip of one) or GeoPackage (.gpkg)",
        "roster": "grid workers: CSV or XLSX (one worker many grids, one grid many workers)",
        "users": "sign-in accounts: CSV or XLSX (username, role, jurisdiction, worker id)",
        "cameras": "cameras: CSV or XLSX (id, name, URL, kind, location, heading, grid)",
        "matters": "the matter catalogue (入格事项清单): CSV, XLSX or YAML",
        "devices": "IoT devices: CSV or XLSX (设备编号, 设备名称, 类型, 经度, 纬度, 网格, 地址, 心跳秒 …)",
    }
    for kind in IMPORTERS:
        cmd = import_sub.add_parser(kind, help=helps.get(kind, kind))
        cmd.add_argument("file", type=Path)
        cmd.add_argument("--config", type=Path, help="the configuration whose store and city to import into")
        cmd.add_argument("--skip-bad", action="store_true", help="apply the good rows and report the bad ones")
        cmd.add_argument("--dry-run", action="store_true", help="check against the store, write nothing")
        cmd.add_argument("--json", action="store_true", help="print the result as one JSON object")
        if kind == "grids":
            cmd.add_argument("--layer", help="the GeoPackage layer, when it has several polygon layers")
            cmd.add_argument("--encoding", help="a Shapefile's text encoding when it has no .cpg (e.g. GBK)")
        if kind == "roster":
            cmd.add_argument("--users", action="store_true", help="also create a sign-in account for each new worker")
        if kind in ("roster", "users"):
            cmd.add_argument("--password", help="new accounts' first password (default: one random, printed once)")


def _add_basedata_command(import_sub: Any) -> None:
    kinds = ("address", "building", "household", "person", "organisation")
    cmd = import_sub.add_parser(
        "basedata", help="grid base data (四标四实): addresses, buildings, households, people, organisations; CSV or XLSX"
    )
    cmd.add_argument("files", type=Path, nargs="+", help="one or more files, imported together (parents first)")
    cmd.add_argument("--kind", choices=kinds, help="what the files hold (default: told by each file's columns)")
    cmd.add_argument("--config", type=Path, help="the configuration whose store and city to import into")
    cmd.add_argument("--skip-bad", action="store_true", help="apply the good rows and report the bad ones")
    cmd.add_argument("--dry-run", action="store_true", help="check against the store, write nothing")
    cmd.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace, load_config: Callable[[Path], Config]) -> int:
    """`import check` or `import KIND FILE`; `load_config` reads a configuration (exiting
    with its errors when it is bad)."""
    if args.import_command == "basedata":
        return apply_basedata(args, load_config)
    if args.import_command != "check":
        return apply(args, load_config)
    from command_center.city_map import load_city
    from command_center.importing.check import CityFileSpec, check_city_files

    if not (args.roster or args.cameras or args.grids):
        print("import check: give at least one of --roster, --cameras, --grids", file=sys.stderr)
        return 2
    spec = CityFileSpec(args.roster, args.cameras, args.grids, args.layer, args.encoding)
    # Without a grid map of their own, the roster and cameras are checked against a running city's.
    context = None
    if args.city_from or not args.grids:
        context = load_city(load_config(args.city_from) if args.city_from else Config())
    return check_city_files(spec, context, progress=sys.stderr.isatty())


def apply(args: argparse.Namespace, load_config: Callable[[Path], Config]) -> int:
    from tqdm import tqdm

    from command_center.city_map import load_city
    from command_center.registry.imports import ImportContext, ImportOptions, run_import
    from command_center.store import create_store

    if not args.file.exists():
        print(f"import {args.import_command}: {args.file}: no such file", file=sys.stderr)
        return 2
    config = load_config(args.config) if args.config else Config()
    store = create_store(config.store)
    try:
        city = load_city(config, store)
        options = ImportOptions(
            skip_bad=args.skip_bad, dry_run=args.dry_run, actor="cli",
            layer=getattr(args, "layer", None), encoding=getattr(args, "encoding", None),
            with_users=getattr(args, "users", False), password=getattr(args, "password", None),
        )  # fmt: skip
        bar = tqdm(desc=f"importing {args.import_command}", unit="row", file=sys.stderr, disable=not sys.stderr.isatty())

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        result = run_import(args.import_command, args.file, ImportContext(store, city, config, progress), options)
        bar.close()
    finally:
        store.close()
    return _finish(args, result)


def apply_basedata(args: argparse.Namespace, load_config: Callable[[Path], Config]) -> int:
    """`import basedata FILE...`: every file checked, then all written in one transaction."""
    from command_center.city_map import load_city
    from command_center.importing.basedata import import_files
    from command_center.registry.imports import ImportContext, ImportOptions
    from command_center.store import create_store

    missing = [str(path) for path in args.files if not path.exists()]
    if missing:
        print(f"import basedata: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    config = load_config(args.config) if args.config else Config()
    store = create_store(config.store)
    try:
        context = ImportContext(store, load_city(config, store), config)
        options = ImportOptions(skip_bad=args.skip_bad, dry_run=args.dry_run, actor="cli")
        result = import_files(args.files, context, options, kind=args.kind)
    finally:
        store.close()
    return _finish(args, result)


def _finish(args: argparse.Namespace, result: Any) -> int:
    """Print the result (JSON or lines); the exit status: 0 applied or checked clean, else 2."""
    import json

    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        _print_result(result)
    return 0 if result.applied or (args.dry_run and not result.problems) else 2


def _print_result(result: Any) -> None:
    for problem in result.problems:
        print(problem, file=sys.stderr)
    counts = ", ".join(f"{name} {count}" for name, count in result.counts.items())
    if result.applied:
        print(f"imported {result.kind} from {result.file}: {counts}")
    elif result.problems:
        print(f"{result.kind}: {len(result.problems)} problem(s); nothing was changed", file=sys.stderr)
    else:
        print(f"{result.kind}: checked, nothing written (dry run): {counts}")
    for name, value in result.notes.items():
        print(f"{name}: {value}")
