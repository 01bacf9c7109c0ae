"""A city's sign-in accounts file: rows → UserEntry, every problem with its row and column.

Columns: username, role (admin/officer/emergency/worker or 管理员/值班员/应急/网格员),
jurisdiction (a grid-code prefix or a full area code; empty = the whole city),
worker_id (for role worker: a known worker's id), password (optional: the import's
one password when empty). Applied by command_center/registry/roster.py:import_users.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from command_center.auth.principal import normalize_jurisdiction
from command_center.auth.users import USERNAME, check_password, check_role
from command_center.importing.problems import Problem
from command_center.importing.roster import parse_choice
from command_center.importing.tables import Cells, Columns, Row, Table, duplicate_values, read_table

USER_COLUMNS = Columns(
    kind="users",
    aliases={
        "username": ("用户名", "账号", "帐号", "登录名", "user", "login"),
        "role": ("角色", "权限"),
        "jurisdiction": ("辖区", "管辖范围", "辖区编码", "管辖区域"),
        "worker_id": ("工号", "网格员工号", "人员id"),
        "password": ("密码", "初始密码"),
    },
    required=frozenset({"username", "role"}),
)
ROLES = {
    "admin": "admin", "管理员": "admin", "officer": "officer", "值班员": "officer",
    "emergency": "emergency", "应急": "emergency", "worker": "worker", "网格员": "worker",
    "应急人员": "emergency", "系统管理员": "admin", "值班人员": "officer",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class UserEntry:
    username: str
    role: str
    jurisdiction: str  # a normalized code prefix; "" = the whole city
    worker_id: str | None
    password: str | None  # None: the import's one password
    row: int = 0


def check_users(
    path: str | Path, known_workers: Collection[str], area_codes: Collection[str], sheet: str | None = None
) -> tuple[Table, list[UserEntry], list[Problem]]:
    """The file's good entries and every problem (a caller applying all or nothing
    applies nothing when there is any). `area_codes`: the city's areas, which a
    jurisdiction must name (padded to 15 digits)."""
    table, problems = read_table(path, USER_COLUMNS, sheet)
    entries: list[UserEntry] = []
    known = set(known_workers)
    for row in table.rows:
        entry, found = _entry(table, row, known, area_codes)
        problems.extend(found)
        if entry is not None:
            entries.append(entry)
    problems.extend(duplicate_values(table, "username", "username"))
    return table, entries, sorted(problems, key=Problem.sort_key)


def _entry(
    table: Table, row: Row, known_workers: set[str], area_codes: Collection[str]
) -> tuple[UserEntry | None, list[Problem]]:
    cells = Cells(table, row, USER_COLUMNS.required)
    username = cells.get("username", parse_username)
    role = cells.get("role", parse_role)
    jurisdiction = cells.get("jurisdiction", lambda text: parse_jurisdiction(text, area_codes), default="")
    worker_id = cells.get("worker_id", str.strip) or None
    password = cells.get("password", parse_password)
    if role is not None:
        try:
            check_role(role, worker_id, known_workers)
        except ValueError as exc:
            column, _, message = str(exc).partition(": ")
            cells.add("worker_id" if column == "worker_id" else "role", message or str(exc))
    if cells.problems or username is None or role is None or jurisdiction is None:
        return None, cells.problems
    return UserEntry(username, role, jurisdiction, worker_id, password, row.number), []


def parse_username(text: str) -> str:
    if not USERNAME.match(text):
        raise ValueError(f"bad username {text!r}: 1–64 letters, digits or _ . @ -")
    return text


def parse_role(text: str) -> str:
    return parse_choice(text, ROLES, "role")


def parse_jurisdiction(text: str, area_codes: Collection[str]) -> str:
    prefix = normalize_jurisdiction(text)  # ValueError says what a jurisdiction is
    if prefix and prefix.ljust(15, "0") not in area_codes:
        raise ValueError(f"jurisdiction {text!r} is no area of this city's map")
    return prefix


def parse_password(text: str) -> str:
    check_password(text)
    return text
