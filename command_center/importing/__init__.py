"""Bring a city's own files in: read and check the grid map, roster, users, cameras and
matters a city brings. Every problem is reported with file, row and column; this package
writes nothing. Applying a checked file to the store is command_center/registry's
(registry/imports.py).
"""

from command_center.importing.cameras import CAMERA_COLUMNS, CameraEntry, check_cameras
from command_center.importing.problems import ImportProblems, Problem, raise_if_any
from command_center.importing.roster import ROSTER_COLUMNS, RosterEntry, check_roster, to_workers
from command_center.importing.tables import Columns, Row, Table, read_table

__all__ = [
    "CAMERA_COLUMNS",
    "ROSTER_COLUMNS",
    "CameraEntry",
    "Columns",
    "ImportProblems",
    "Problem",
    "RosterEntry",
    "Row",
    "Table",
    "check_cameras",
    "check_roster",
    "raise_if_any",
    "read_table",
    "to_workers",
]
