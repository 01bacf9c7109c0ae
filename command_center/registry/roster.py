"""Applying a roster file and a users file (`command-center import roster|users FILE`,
POST /api/import/roster|users).

Roster: each row is a worker and the grids they serve. Checked against the running map
(grid codes must exist), then in one transaction: workers added or updated, and for
each worker in the file their current grids diffed against the file's: the ones gone
are closed (valid_to = now), new ones opened, unchanged ones left alone, so the history
keeps each assignment's real start. Workers absent from the file are left as they are
(a file may be one district's). `with_users` also makes a worker account (username =
worker id) for each worker without one, all sharing one argon2 hash.

Users: accounts added, or for an existing username its role, jurisdiction and worker id
updated (its tokens revoked when any changed; its password is kept).
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from command_center.auth.passwords import Passwords
from command_center.auth.users import Account, account_rows, check_password
from command_center.city_map import roster_workers
from command_center.emergency.teams import seeds_from_city
from command_center.importing.problems import Problem
from command_center.importing.roster import ROSTER_COLUMNS, RosterEntry, check_roster_rows
from command_center.importing.tables import Table, read_columns
from command_center.importing.users import UserEntry, check_users
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult
from command_center.store.roster_records import RosterChanges, RosterState
from command_center.store.team_records import TeamRecords, team_store
from dispatch.city import City

PROGRESS_EVERY = 1000
COUNTS = ("added", "updated", "unchanged", "assignments_opened", "assignments_closed")


@dataclass(slots=True)
class _Plan:
    changes: RosterChanges
    counts: Counter[str] = field(default_factory=Counter)


def import_roster(path: Path, context: ImportContext, options: ImportOptions) -> ImportResult:
    result = ImportResult("roster", path.name, applied=False)
    columns, problems = read_columns(path, ROSTER_COLUMNS)
    entries, found = check_roster_rows(columns, {g.code for g in context.city.grids})
    table = columns.table  # names the columns in problems (its rows are not needed here)
    state = context.store.roster_state()
    problems += found + _district_problems(table, entries, state, options.district)
    problems += _code_clashes(table, entries, state)
    if options.with_users and options.password is not None:
        problems += _password_problem(path, options.password)
    good, problems = _usable(entries, problems)
    result.problems = problems
    if refused(problems, bool(good), options):
        return result
    plan = _plan(good, state, context, options, path.name)
    if options.with_users:
        _add_accounts(plan, good, context, options, result)
    plan.counts["skipped"] = len({p.row for p in problems if p.row is not None and p.row != table.header_row})
    result.counts = dict(plan.counts)
    if options.dry_run:
        result.notes.pop("password", None)  # nothing made: no password to hand out
        return result
    context.store.apply_roster(plan.changes)
    result.applied = True
    result.counts["emergency_teams"] = seed_teams(context)
    return result


def seed_teams(context: ImportContext) -> int:
    """Each street's emergency team from the roster as it now stands: made for streets
    without one, re-made where it is still as seeded (an admin's edits stand). How many."""
    if not isinstance(context.store, TeamRecords):
        return 0
    state = context.store.roster_state(leave_after=datetime.now(UTC).isoformat())
    city = City(context.city.areas, roster_workers(state))
    return team_store(context.store).seed_teams(seeds_from_city(city), datetime.now(UTC).isoformat(), reseed=True)


def refused(problems: list[Problem], any_good: bool, options: ImportOptions) -> bool:
    """Nothing is applied with a problem unless skip_bad, and even then not with one of the
    whole file's (row None) or when no row is good."""
    if not problems:
        return False
    return not options.skip_bad or not any_good or any(p.row is None for p in problems)


def _usable(entries: list[RosterEntry], problems: list[Problem]) -> tuple[list[RosterEntry], list[Problem]]:
    """The entries of rows without a problem, and the problems in the order to fix them."""
    if not problems:
        return entries, []
    bad = {p.row for p in problems}
    return [e for e in entries if e.row not in bad], sorted(problems, key=Problem.sort_key)


def _district_problems(
    table: Table, entries: list[RosterEntry], state: RosterState, district: str
) -> list[Problem]:
    """A district admin's file: every grid in the district, and no worker of another's."""
    if not district:
        return []
    problems: list[Problem] = []
    for e in entries:
        outside = [g for g in e.grid_codes if not g.startswith(district)]
        if outside:
            problems.append(
                table.problem(e.row, "grid_codes", f"outside your district {district}: {', '.join(outside)}")
            )
        elsewhere = [
            g["grid_code"]
            for g in state.grids.get(e.worker_id, ())
            if not g["grid_code"].startswith(district)
        ]
        if elsewhere:
            problems.append(
                table.problem(
                    e.row, "worker_id", f"worker {e.worker_id} works in another district ({elsewhere[0]})"
                )
            )
    return problems


def _code_clashes(table: Table, entries: list[RosterEntry], state: RosterState) -> list[Problem]:
    """A worker number already another stored worker's, who keeps it (is not in the file)."""
    owner = {w["code"]: w["id"] for w in state.workers.values()}
    if not owner:  # nobody stored: no number can be taken
        return []
    in_file = {e.worker_id for e in entries}
    problems: list[Problem] = []
    for e in entries:
        other = owner.get(e.code)
        if other is not None and other != e.worker_id and other not in in_file:
            problems.append(
                table.problem(e.row, "code", f"worker number {e.code} is already worker {other}'s")
            )
    return problems


def _password_problem(path: Path, password: str) -> list[Problem]:
    try:
        check_password(password)
    except ValueError as exc:
        return [Problem(path.name, None, None, f"new accounts' {exc}")]
    return []


def _plan(
    entries: list[RosterEntry], state: RosterState, context: ImportContext, options: ImportOptions, name: str
) -> _Plan:
    now = datetime.now(UTC).isoformat()
    plan = _Plan(RosterChanges(now, f"import:{name} by {options.actor}", options.actor))
    plan.counts.update(dict.fromkeys(COUNTS, 0))  # every count shown, zeros too
    first = not state.workers and not state.grids  # nothing stored: every worker is new
    for start in range(0, len(entries), PROGRESS_EVERY):
        if context.progress is not None:
            context.progress(start, len(entries))
        chunk = entries[start : start + PROGRESS_EVERY]
        if first:
            _plan_new_workers(plan, chunk)
        else:
            for entry in chunk:
                _plan_worker(plan, entry, state)
    if context.progress is not None:
        context.progress(len(entries), len(entries))
    return plan


def worker_row(e: RosterEntry) -> dict[str, Any]:
    return {
        "id": e.worker_id,
        "code": e.code,
        "name": e.name,
        "phone": e.phone,
        "kind": e.kind,
        "level": e.level,
    }


# A RosterEntry's fields in NEW_WORKER_FIELDS order (id, code, name, phone, kind, level).
_NEW_WORKER = itemgetter(0, 1, 2, 3, 5, 6)


def _plan_new_workers(plan: _Plan, entries: list[RosterEntry]) -> None:
    """_plan_worker for workers none of whom is stored or has assignments (a first
    import): each added, with every grid of its row opened; nothing to diff. Rows go as
    tuples, made straight from the entries (no dict per worker)."""
    opened = [(e.worker_id, grid, e.shift) for e in entries for grid in e.grid_codes]
    plan.changes.new_workers.extend(map(_NEW_WORKER, entries))
    plan.changes.open.extend(opened)
    plan.counts["assignments_opened"] += len(opened)
    plan.counts["added"] += len(entries)


def _plan_worker(plan: _Plan, entry: RosterEntry, state: RosterState) -> None:
    row = worker_row(entry)
    stored = state.workers.get(entry.worker_id)
    changed = stored is None or any(stored[k] != v for k, v in row.items())
    if stored is None:
        plan.changes.insert_workers.append(row)
    elif changed:
        plan.changes.update_workers.append(row | {"active": stored["active"]})
    closed, opened = diff_grids(state.grids.get(entry.worker_id, []), entry.grid_codes, entry.shift)
    plan.changes.close.extend(closed)
    plan.changes.open.extend((entry.worker_id, grid, shift) for grid, shift in opened)
    plan.counts["assignments_closed"] += len(closed)
    plan.counts["assignments_opened"] += len(opened)
    if stored is None:
        plan.counts["added"] += 1
    elif changed or closed or opened:
        plan.counts["updated"] += 1
    else:
        plan.counts["unchanged"] += 1


def diff_grids(
    current: list[dict[str, Any]], grid_codes: tuple[str, ...], shift: str
) -> tuple[list[int], list[tuple[str, str]]]:
    """(seqs of current assignments to close, (grid, shift) to open): a grid kept with the
    same shift is left alone; a changed shift is a new assignment."""
    wanted = [(code, shift) for code in grid_codes]
    kept: set[tuple[str, str]] = set()
    closed: list[int] = []
    for row in current:
        key = (row["grid_code"], row["shift"])
        if key in wanted and key not in kept:
            kept.add(key)
        else:
            closed.append(row["seq"])
    return closed, [key for key in wanted if key not in kept]


def _one_password(options: ImportOptions, result: ImportResult) -> str:
    """The import's password for new accounts: the one given, or one random (shown once)."""
    if options.password is not None:
        return options.password
    password = secrets.token_urlsafe(12)
    result.notes["password"] = password
    return password


def _passwords(context: ImportContext) -> Passwords:
    auth = context.config.auth
    return Passwords(auth.hash_time_cost, auth.hash_memory_kib)


def _add_accounts(
    plan: _Plan,
    entries: list[RosterEntry],
    context: ImportContext,
    options: ImportOptions,
    result: ImportResult,
) -> None:
    """A worker account for each worker of the file without one (and whose id is no one's username)."""
    owners = context.store.account_owners()
    with_account = {w for w in owners.values() if w}
    wanted = [e.worker_id for e in entries if e.worker_id not in with_account and e.worker_id not in owners]
    plan.counts["accounts"] = len(wanted)
    if not wanted:
        return
    password = _one_password(options, result)
    if options.dry_run:
        return
    accounts = [Account(w, password, "worker", worker_id=w) for w in wanted]
    plan.changes.users = account_rows(accounts, _passwords(context).hash(password))


# ------------------------------------------------------------------------------ users


def import_users(path: Path, context: ImportContext, options: ImportOptions) -> ImportResult:
    result = ImportResult("users", path.name, applied=False)
    known = set(context.store.roster_state().workers) | {w.id for w in context.city.workers}
    table, entries, problems = check_users(path, known, context.city.areas)
    existing = {row["username"]: row for row in context.store.list_users(limit=10**7)[0]}
    problems += _user_district_problems(table, entries, existing, options.district)
    if options.password is not None:
        problems += _password_problem(path, options.password)
    bad = {p.row for p in problems}
    good = [e for e in entries if e.row not in bad]
    result.problems = sorted(problems, key=Problem.sort_key)
    if refused(problems, bool(good), options):
        return result
    new = [e for e in good if e.username not in existing]
    updates = [
        _account_update(e) for e in good if e.username in existing and _changed(e, existing[e.username])
    ]
    result.counts = {
        "added": len(new), "updated": len(updates), "unchanged": len(good) - len(new) - len(updates),
        "skipped": len({r for r in bad if r is not None and r != table.header_row}),
    }  # fmt: skip
    if options.dry_run:
        return result
    context.store.apply_accounts(_new_account_rows(new, context, options, result), updates)
    result.applied = True
    return result


def _user_district_problems(
    table: Table, entries: list[UserEntry], existing: dict[str, dict[str, Any]], district: str
) -> list[Problem]:
    """A district admin's file: accounts of their district only, new or existing."""
    if not district:
        return []
    problems: list[Problem] = []
    for e in entries:
        if not e.jurisdiction.startswith(district):
            problems.append(table.problem(e.row, "jurisdiction", f"outside your district {district}"))
        stored = existing.get(e.username)
        if stored is not None and not (stored["jurisdiction"] or "").startswith(district):
            problems.append(
                table.problem(e.row, "username", f"{e.username} is an account of another district")
            )
    return problems


def _changed(entry: UserEntry, row: dict[str, Any]) -> bool:
    return (entry.role, entry.jurisdiction, entry.worker_id) != (
        row["role"],
        row["jurisdiction"] or "",
        row["worker_id"],
    )


def _account_update(entry: UserEntry) -> dict[str, Any]:
    return {
        "username": entry.username,
        "role": entry.role,
        "jurisdiction": entry.jurisdiction,
        "worker_id": entry.worker_id,
    }


def _new_account_rows(
    new: list[UserEntry], context: ImportContext, options: ImportOptions, result: ImportResult
) -> list[dict[str, Any]]:
    """Rows for the new accounts: each distinct password hashed once."""
    if not new:
        return []
    default = _one_password(options, result) if any(e.password is None for e in new) else ""
    passwords = _passwords(context)
    hashes = {pw: passwords.hash(pw) for pw in {e.password or default for e in new}}
    rows: list[dict[str, Any]] = []
    for e in new:
        password = e.password or default
        account = Account(e.username, password, e.role, e.jurisdiction, e.worker_id)
        rows.extend(account_rows([account], hashes[password]))
    return rows
