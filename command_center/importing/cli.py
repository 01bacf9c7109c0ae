"""`command-center import ...`: a city's own files (grid map, roster, cameras).

`import check` reads and checks them against each other and prints every problem as
file:row:column; it writes nothing. Applying an import comes next (issue 16).
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


def run(args: argparse.Namespace, load_config: Callable[[Path], Config]) -> int:
    """`import check`; `load_config` reads --city-from (exiting with its errors when it is bad)."""
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
