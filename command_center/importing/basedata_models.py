"""The model path of the base-data import: each row read through its cells (importing/
tables.Cells), built as its pydantic model (basedata/model.py) and written by the store's
upsert (store/basedata_records.py): all rows in memory, checked file by file.

The bulk path (importing/basedata_fast.py) checks the same cells with the same parsers
straight into the tables' columns and streams; it comes here for what only this path says
in full: a bad row's problems (every cell's, with the model's own objections) and the
record of a row the fast checks did not take. `import_models` runs a whole import this way
(`import_files(..., model_path=True)`): the reference the bulk path is tested against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from basedata.cycles import CheckCycles, next_check
from basedata.identity import check_credit_code, check_id_number, check_phone
from basedata.model import Sealed
from basedata.protect import FieldCipher, FieldKeyError, FieldKind
from command_center.basedata_config import base_data_key
from command_center.importing import basedata_columns as bc
from command_center.importing.problems import Problem
from command_center.importing.tables import Cells, Table, read_columns
from command_center.registry.imports import ImportOptions, ImportResult
from command_center.store.basedata_records import MODELS, BaseDataRecords, Parent
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
    seen: dict[str, dict[Any, tuple[str, int]]] = field(
        default_factory=dict
    )  # "kind label" → value → file, row
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


def import_models(kinds: list[tuple[str, Path]], run: Run, result: ImportResult) -> None:
    """Check every file (parents first), then write them all in one transaction, or nothing."""
    parts: list[tuple[str, list[Any]]] = []
    for found, path in kinds:
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
    if refused(result.problems, any(built for _, built in parts), run.options) or run.whole_file:
        return
    for found, built in parts:
        stored = run.records.existing(found, (getattr(r, KEYS[found]) for r in built))
        result.counts[found] = result.counts.get(found, 0) + len(built)
        result.counts[f"{found}_updated"] = result.counts.get(f"{found}_updated", 0) + len(stored)
    if run.options.dry_run:
        return
    run.records.upsert_all(parts, by=f"{run.options.actor}:{result.file}")
    result.applied = True


def refused(problems: list[Problem], any_good: bool, options: ImportOptions) -> bool:
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
        record = build_record(table, kind, draft, run) if not draft.problems else None
        if record is not None and draft.key is not None:
            built.append(record)
            run.known.setdefault(kind, {})[draft.key] = Parent(record.grid_code, rental_of(kind, record, run))
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
        checks.append(
            ("id_number", lambda d: d.fields["id_number"] and d.fields["id_number"].index, "ID number")
        )
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


def rental_of(kind: str, record: Any, run: Run) -> bool:
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


def build_record(table: Table, kind: str, draft: Draft, run: Run) -> Any:
    """The record, its grid inherited from its parent when the file gives none, its next
    check counted from its verification; None with the model's objections added."""
    fields = {name: value for name, value in draft.fields.items() if value is not None}
    if "grid_code" not in fields and draft.parent:
        parent = run.known.get(PARENT[kind], {}).get(draft.parent)
        if parent is not None:
            fields["grid_code"] = parent.grid_code
    if "grid_code" not in fields:
        draft.problems.append(
            table.problem(draft.row, "grid_code", "empty grid_code (and no parent to take it from)")
        )
        return None
    verified: date = fields.setdefault("verified_at", run.today)
    try:
        record = MODELS[kind].model_validate(fields | {"source": "import"})
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else None
            draft.problems.append(table.problem(draft.row, name, str(error["msg"])))
        return None
    record.next_check_at = next_check(kind, verified, rental=rental_of(kind, record, run), cycles=run.cycles)  # type: ignore[arg-type]
    return record


# The readers: one row's cells → (fields, key, parent key). A bad cell is reported by
# Cells and read as None; _build then skips the row.
Reader = Callable[[Cells, Run], tuple[dict[str, Any], str | None, str | None]]


def sealed_of(run: Run, kind: FieldKind, clear: str) -> Sealed:
    """A value its cell's check has already normalised, sealed (not normalised again)."""
    cipher, index, tail = run.cipher().seal_parts(kind, clear)
    return Sealed(cipher=cipher, index=index, tail=tail)


def person_id(index: str) -> str:
    """A person's id when the file gives none: from the ID number's keyed index, so a
    re-import updates the same person, and the id reveals nothing."""
    return f"P{index[:24]}"


def _common(c: Cells, run: Run) -> dict[str, Any]:
    return {
        "grid_code": c.get("grid_code", run.grid),
        "verified_at": c.get("verified_at", bc.past_date(run.today)),
    }


def _address(c: Cells, run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    f = _common(c, run) | {
        "code": c.get("code", bc.code), "text": c.get("text", bc.text(bc.LIMITS["address", "text"])),
        "lon": c.get("lon", bc.coordinate("longitude", 180)), "lat": c.get("lat", bc.coordinate("latitude", 90)),
    }  # fmt: skip
    return f, f["code"], None


def _building(c: Cells, run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    f = _common(c, run) | {
        "code": c.get("code", bc.code), "address_code": c.get("address_code", bc.code),
        "name": c.get("name", bc.text(bc.LIMITS["building", "name"])), "floors": c.get("floors", bc.whole(1, 200)),
        "use": c.get("use", bc.choice(bc.USES, "use")), "rental": c.get("rental", bc.yes_no),
        "lon": c.get("lon", bc.coordinate("longitude", 180)), "lat": c.get("lat", bc.coordinate("latitude", 90)),
    }  # fmt: skip
    return f, f["code"], f["address_code"]


def _household(c: Cells, run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    f = _common(c, run) | {
        "building_code": c.get("building_code", bc.code), "room": c.get("room", bc.text(bc.LIMITS["household", "room"])),
        "kind": c.get("kind", bc.choice(bc.HOUSEHOLD_KINDS, "kind")),
    }  # fmt: skip
    # Without an id column, the model's own form: <building code>-<room>.
    default = f"{f['building_code']}-{f['room']}" if f["building_code"] and f["room"] else None
    f["id"] = c.get("id", bc.text(bc.LIMITS["household", "id"])) or default
    return f, f["id"], f["building_code"]


def _person(c: Cells, run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    facts = c.get("id_number", lambda text: check_id_number(text, today=run.today))
    phone = c.get("phone", check_phone)
    sex, born = c.get("sex", bc.choice(bc.SEXES, "sex")), c.get("birth_date", bc.past_date(run.today))
    if facts is not None and sex is not None and sex != facts.sex:
        c.add("sex", f"sex {sex} is not the ID number's ({facts.sex})")
    if facts is not None and born is not None and born != facts.birth_date:
        c.add("birth_date", "the birth date is not the ID number's")
    sealed = sealed_of(run, "id_number", facts.number) if facts is not None else None
    f = _common(c, run) | {
        "household_id": c.get("household_id", bc.text(bc.LIMITS["person", "household_id"])),
        "name": c.get("name", bc.text(bc.LIMITS["person", "name"])),
        "id_number": sealed, "phone": sealed_of(run, "phone", phone) if phone else None,
        "sex": facts.sex if facts else None, "birth_date": facts.birth_date if facts else None,
        "kind": c.get("kind", bc.choice(bc.PERSON_KINDS, "kind")),
        "arrival_date": c.get("arrival_date", bc.past_date(run.today)),
    }  # fmt: skip
    f["id"] = c.get("id", bc.text(bc.LIMITS["person", "id"])) or (person_id(sealed.index) if sealed else None)
    return f, f["id"], f["household_id"]


def _organisation(c: Cells, run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    phone = c.get("contact_phone", check_phone)
    f = _common(c, run) | {
        "name": c.get("name", bc.text(bc.LIMITS["organisation", "name"])), "credit_code": c.get("credit_code", check_credit_code),
        "kind": c.get("kind", bc.choice(bc.ORGANISATION_KINDS, "kind")),
        "address_code": c.get("address_code", bc.code),
        "contact_phone": sealed_of(run, "phone", phone) if phone else None,
    }  # fmt: skip
    f["id"] = c.get("id", bc.text(bc.LIMITS["organisation", "id"])) or f["credit_code"]
    if not c.row.cells.get("id") and not c.row.cells.get("credit_code"):
        c.add("id", "empty id (and no credit code to take it from)")
    return f, f["id"], f["address_code"]


READERS: dict[str, Reader] = {
    "address": _address, "building": _building, "household": _household, "person": _person,
    "organisation": _organisation,
}  # fmt: skip
