"""A grid's base data from CSV or XLSX files (`command-center import basedata FILE...`):
addresses, buildings, households, people, organisations (basedata/model.py).

Like the roster import: every bad row is reported with file, row and column, and nothing
is written when any row is bad (or, with --skip-bad, the good rows only). Several files
go in one import, one transaction: they are checked parents first (addresses, buildings,
households, then people and organisations), and a reference (a household's building) is
found among the import's own rows or in the store, or reported.

Personal fields are sealed here, before anything else holds them: an ID number or phone
is checked (basedata.identity) and kept only as basedata.protect's Sealed; the key file
is outside the database (config `basedata.key_file`: command_center/basedata_config.py).
Each record's next check comes from basedata.cycles (config `basedata.cycles`), counted
from its verification date (the file's, or today).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from basedata.cycles import CheckCycles, next_check
from basedata.identity import check_credit_code, check_id_number, check_phone
from basedata.protect import FieldCipher, FieldKeyError
from command_center.basedata_config import KEY_ENV as KEY_ENV  # $CC_BASEDATA_KEY, the key file's override
from command_center.basedata_config import base_data_key
from command_center.importing import basedata_columns as bc
from command_center.importing.problems import Problem
from command_center.importing.tables import (
    HEADER_SEARCH_ROWS,
    Cells,
    Table,
    Unreadable,
    normalize_header,
    read_columns,
)
from command_center.importing.tables import _raw_rows as raw_rows  # the header alone, to infer the kind
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult
from command_center.store.basedata_records import MODELS, BaseDataRecords, Parent, base_data_store
from command_center.store.basedata_schema import KEYS

ORDER = ("address", "building", "household", "person", "organisation")  # parents first
PARENT = {"building": "address", "household": "building", "person": "household", "organisation": "address"}
PARENT_COLUMN = {"building": "address_code", "household": "building_code", "person": "household_id",
                 "organisation": "address_code"}  # fmt: skip


@dataclass(slots=True)
class Draft:
    """One row read: its model fields so far, its key and its parent's key."""

    row: int
    fields: dict[str, Any]
    key: str | None
    parent: str | None
    problems: list[Problem]


@dataclass(slots=True)
class Run:
    """One import across its files: what has been found so far, for the references."""

    records: BaseDataRecords
    grid_codes: frozenset[str]
    options: ImportOptions
    today: date
    cycles: CheckCycles
    key_path: Path
    known: dict[str, dict[str, Parent]] = field(default_factory=dict)  # kind → key → grid, rental
    bad: dict[str, dict[str, str]] = field(default_factory=dict)  # kind → key → "file row n"
    seen: dict[str, dict[Any, tuple[str, int]]] = field(default_factory=dict)  # "kind label" → value → file, row
    whole_file: bool = False  # a file's own problem (its header, unreadable): no row goes in
    cipher_: FieldCipher | None = None

    def cipher(self) -> FieldCipher:
        if self.cipher_ is None:
            self.cipher_ = FieldCipher(base_data_key(self.records, self.key_path, self.options.dry_run))
        return self.cipher_

    def grid(self, text: str) -> str:
        if text not in self.grid_codes:
            raise ValueError(f"unknown grid {text}")
        return text


def infer_kind(path: Path) -> str | None:
    """The kind a file holds, told by a column only that kind has (身份证号: people, 户室号:
    households…) among its first rows; None when no column tells."""
    try:
        head = [cells for _, cells in islice(raw_rows(path), HEADER_SEARCH_ROWS)]
    except Unreadable:
        return None  # read_columns reports it, with the row
    spelled = {normalize_header(text) for cells in head for text in cells if text}
    return next((kind for kind, marks in bc.MARKERS.items() if spelled & marks), None)


def import_basedata(path: Path, context: ImportContext, options: ImportOptions) -> ImportResult:
    """One file, its kind told by its header (registry/imports.py's importer shape)."""
    return import_files([path], context, options)


def import_files(
    paths: list[Path], context: ImportContext, options: ImportOptions, kind: str | None = None,
    today: date | None = None, cycles: CheckCycles | None = None,
) -> ImportResult:  # fmt: skip
    """Check every file, then write them all in one transaction, or nothing."""
    result = ImportResult("basedata", ", ".join(p.name for p in paths), applied=False)
    records = base_data_store(context.store)
    settings = context.config.basedata
    run = Run(records, frozenset(g.code for g in context.city.grids), options, today or date.today(),
              cycles or settings.cycles, settings.key_path(context.config.server.data_dir))  # fmt: skip
    kinds: list[tuple[str, Path]] = []
    for path in paths:
        found = kind or infer_kind(path)
        if found is None:
            result.problems.append(Problem(path.name, None, None, f"cannot tell what the file holds: name its kind"
                                           f" ({', '.join(ORDER)}) or use its columns' names"))  # fmt: skip
        else:
            kinds.append((found, path))
    parts: list[tuple[str, list[Any]]] = []
    for found, path in sorted(kinds, key=lambda kp: ORDER.index(kp[0])):
        try:
            built, problems = check_file(path, found, run)
        except FieldKeyError as exc:  # the key file: no file can be sealed
            result.problems.append(Problem(path.name, None, None, str(exc)))
            break
        parts.append((found, built))
        result.problems += problems
    result.problems.sort(key=Problem.sort_key)
    bad_rows = {(p.file, p.row) for p in result.problems if p.row is not None}
    result.counts = {"skipped": len(bad_rows)} if bad_rows else {}
    if _refused(result.problems, any(built for _, built in parts), options) or run.whole_file:
        return result
    for found, built in parts:
        stored = records.existing(found, (getattr(r, KEYS[found]) for r in built))
        result.counts[found] = len(built)
        result.counts[f"{found}_updated"] = len(stored)
    if options.dry_run:
        return result
    records.upsert_all(parts, by=f"{options.actor}:{result.file}")
    result.applied = True
    return result


def _refused(problems: list[Problem], any_good: bool, options: ImportOptions) -> bool:
    """As the roster: nothing with a problem unless skip_bad, and not even then with a whole
    file's problem or no good row."""
    if not problems:
        return False
    return not options.skip_bad or not any_good or any(p.row is None for p in problems)


def check_file(path: Path, kind: str, run: Run) -> tuple[list[Any], list[Problem]]:
    """The file's good records (built, next check set) and every problem in it."""
    columns = bc.COLUMNS[kind]
    read, problems = read_columns(path, columns)
    run.whole_file |= bool(problems)  # an unknown, missing or doubled column; or no table at all
    table = read.rows()
    drafts = []
    for row in table.rows:
        cells = Cells(table, row, columns.required)
        fields, key, parent = READERS[kind](cells, run)
        drafts.append(Draft(row.number, fields, key, parent, cells.problems))
    _duplicates(table, kind, drafts, run)
    _references(table, kind, drafts, run)
    built = []
    for draft in drafts:
        if draft.key is None and not draft.problems:  # (a key comes from required cells: never expected)
            draft.problems.append(table.problem(draft.row, KEYS[kind], f"empty {KEYS[kind]}"))
        record = _build(table, kind, draft, run) if not draft.problems else None
        if record is not None and draft.key is not None:
            built.append(record)
            run.known.setdefault(kind, {})[draft.key] = Parent(record.grid_code, _rental(kind, record, run))
        elif draft.key is not None:
            run.bad.setdefault(kind, {})[draft.key] = f"{table.file} row {draft.row}"
        problems += draft.problems
    return built, problems


# Where a key made from other cells is doubled (no key column in the file): the cell that
# made it. A person's made from the ID number: the ID number's own check says it.
KEY_SOURCE = {"household": "room", "organisation": "credit_code"}


def _duplicates(table: Table, kind: str, drafts: list[Draft], run: Run) -> None:
    """A key (or a person's ID number) twice in the import, in one file or two: each repeat
    names where it first was."""
    checks: list[tuple[str, Callable[[Draft], Any], str]] = []
    key_column = KEYS[kind] if KEYS[kind] in table.headers else KEY_SOURCE.get(kind)
    if key_column is not None:
        checks.append((key_column, lambda d: d.key, f"{kind} {KEYS[kind]}"))
    if kind == "person":
        checks.append(("id_number", lambda d: d.fields["id_number"] and d.fields["id_number"].index, "ID number"))
    for column, value, label in checks:
        first = run.seen.setdefault(f"{kind} {label}", {})
        for draft in drafts:
            found = value(draft)
            if not found:
                continue
            if found in first:
                file, row = first[found]
                where = f"row {row}" if file == table.file else f"{file} row {row}"
                shown = "" if column == "id_number" else f" {found}"  # an ID number is never echoed
                message = f"duplicate {label}{shown} (also on {where})"
                draft.problems.append(table.problem(draft.row, column, message))
            else:
                first[found] = (table.file, draft.row)


def _references(table: Table, kind: str, drafts: list[Draft], run: Run) -> None:
    """Each parent among this import's rows or in the store; under --skip-bad, not on a bad row."""
    if kind not in PARENT:
        return
    parent_kind, column = PARENT[kind], PARENT_COLUMN[kind]
    known = run.known.setdefault(parent_kind, {})
    bad = run.bad.get(parent_kind, {})
    missing = {d.parent for d in drafts if d.parent and d.parent not in known}
    known.update(run.records.existing(parent_kind, missing))
    for draft in drafts:
        if not draft.parent or draft.parent in known:  # a good row of this import, or stored
            continue
        if draft.parent in bad and run.options.skip_bad:
            message = f"{parent_kind} {draft.parent} is on a bad row ({bad[draft.parent]})"
        elif draft.parent in bad:  # refused anyway: its own problem says enough
            continue
        else:
            message = f"{parent_kind} {draft.parent} not found in the files imported or the store"
        draft.problems.append(table.problem(draft.row, column, message))


def _rental(kind: str, record: Any, run: Run) -> bool:
    """Rental housing, for the monthly cycle: a building so marked, a rental household, a
    person living in one."""
    if kind == "building":
        return bool(record.rental)
    if kind == "household":
        return bool(record.kind == "rental")
    if kind == "person":
        parent = run.known.get("household", {}).get(record.household_id)
        return parent is not None and parent.rental
    return False


def _build(table: Table, kind: str, draft: Draft, run: Run) -> Any:
    """The record, its grid inherited from its parent when the file gives none, its next
    check counted from its verification; None with the model's objections added."""
    fields = {name: value for name, value in draft.fields.items() if value is not None}
    if "grid_code" not in fields and draft.parent:
        parent = run.known.get(PARENT[kind], {}).get(draft.parent)
        if parent is not None:
            fields["grid_code"] = parent.grid_code
    if "grid_code" not in fields:
        draft.problems.append(table.problem(draft.row, "grid_code", "empty grid_code (and no parent to take it from)"))
        return None
    verified: date = fields.setdefault("verified_at", run.today)
    try:
        record = MODELS[kind].model_validate(fields | {"source": "import"})
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else None
            draft.problems.append(table.problem(draft.row, name, str(error["msg"])))
        return None
    record.next_check_at = next_check(kind, verified, rental=_rental(kind, record, run), cycles=run.cycles)  # type: ignore[arg-type]
    return record


# The readers: one row's cells → (fields, key, parent key). A bad cell is reported by
# Cells and read as None; _build then skips the row.
Reader = Callable[[Cells, Run], tuple[dict[str, Any], str | None, str | None]]


def _common(c: Cells, run: Run) -> dict[str, Any]:
    return {"grid_code": c.get("grid_code", run.grid), "verified_at": c.get("verified_at", bc.past_date(run.today))}


def _address(c: Cells, run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    f = _common(c, run) | {
        "code": c.get("code", bc.code), "text": c.get("text", bc.text(200)),
        "lon": c.get("lon", bc.coordinate("longitude", 180)), "lat": c.get("lat", bc.coordinate("latitude", 90)),
    }  # fmt: skip
    return f, f["code"], None


def _building(c: Cells, run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    f = _common(c, run) | {
        "code": c.get("code", bc.code), "address_code": c.get("address_code", bc.code),
        "name": c.get("name", bc.text(100)), "floors": c.get("floors", bc.whole(1, 200)),
        "use": c.get("use", bc.choice(bc.USES, "use")), "rental": c.get("rental", bc.yes_no),
        "lon": c.get("lon", bc.coordinate("longitude", 180)), "lat": c.get("lat", bc.coordinate("latitude", 90)),
    }  # fmt: skip
    return f, f["code"], f["address_code"]


def _household(c: Cells, run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    f = _common(c, run) | {
        "building_code": c.get("building_code", bc.code), "room": c.get("room", bc.text(20)),
        "kind": c.get("kind", bc.choice(bc.HOUSEHOLD_KINDS, "kind")),
    }  # fmt: skip
    # Without an id column, the model's own form: <building code>-<room>.
    default = f"{f['building_code']}-{f['room']}" if f["building_code"] and f["room"] else None
    f["id"] = c.get("id", bc.text(60)) or default
    return f, f["id"], f["building_code"]


def _person(c: Cells, run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    facts = c.get("id_number", check_id_number)
    phone = c.get("phone", check_phone)
    sex, born = c.get("sex", bc.choice(bc.SEXES, "sex")), c.get("birth_date", bc.past_date(run.today))
    if facts is not None and sex is not None and sex != facts.sex:
        c.add("sex", f"sex {sex} is not the ID number's ({facts.sex})")
    if facts is not None and born is not None and born != facts.birth_date:
        c.add("birth_date", "the birth date is not the ID number's")
    sealed = run.cipher().seal("id_number", facts.number) if facts is not None else None
    f = _common(c, run) | {
        "household_id": c.get("household_id", bc.text(60)), "name": c.get("name", bc.text(64)),
        "id_number": sealed, "phone": run.cipher().seal("phone", phone) if phone else None,
        "sex": facts.sex if facts else None, "birth_date": facts.birth_date if facts else None,
        "kind": c.get("kind", bc.choice(bc.PERSON_KINDS, "kind")),
        "arrival_date": c.get("arrival_date", bc.past_date(run.today)),
    }  # fmt: skip
    # Without an id column, one from the ID number's keyed index: a re-import updates the
    # same person, and the id reveals nothing.
    f["id"] = c.get("id", bc.text(40)) or (f"P{sealed.index[:24]}" if sealed else None)
    return f, f["id"], f["household_id"]


def _organisation(c: Cells, run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    phone = c.get("contact_phone", check_phone)
    f = _common(c, run) | {
        "name": c.get("name", bc.text(100)), "credit_code": c.get("credit_code", check_credit_code),
        "kind": c.get("kind", bc.choice(bc.ORGANISATION_KINDS, "kind")),
        "address_code": c.get("address_code", bc.code),
        "contact_phone": run.cipher().seal("phone", phone) if phone else None,
    }  # fmt: skip
    f["id"] = c.get("id", bc.text(40)) or f["credit_code"]
    if not c.row.cells.get("id") and not c.row.cells.get("credit_code"):
        c.add("id", "empty id (and no credit code to take it from)")
    return f, f["id"], f["address_code"]


READERS: dict[str, Reader] = {
    "address": _address, "building": _building, "household": _household, "person": _person,
    "organisation": _organisation,
}  # fmt: skip
