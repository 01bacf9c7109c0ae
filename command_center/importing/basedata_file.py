"""One file's rows through the bulk import's checks (importing/basedata_fast.py runs them):
each row's cells (importing/basedata_rows.py, or the model path's readers for a row those
refuse), then what spans the import: a key or ID number met before, the parent among the
import's good rows or the store (looked up a chunk at a time by the caller), the grid a row
inherits and its next check. What one file's checks share with the others is `Shared`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from basedata.cycles import cycle_days
from basedata.identity import check_id_number
from basedata.protect import FieldKeyError
from command_center.importing import basedata_columns as bc
from command_center.importing.basedata_models import (
    KEY_SOURCE,
    PARENT,
    PARENT_COLUMN,
    READERS,
    Draft,
    Run,
    build_record,
)
from command_center.importing.basedata_rows import FIELDS, PARSERS, RENTAL_AT, Cells1, person
from command_center.importing.basedata_stream import Stream
from command_center.importing.problems import Problem
from command_center.importing.tables import Cells, Row
from command_center.store.basedata_records import Parent, to_row
from command_center.store.basedata_schema import KEYS


@dataclass(slots=True)
class Checked:
    """One row after its cells' checks: the table row so far (`values`, fast checks) or the
    model path's fields (`fields`, a row they refused), and what the import-wide checks need."""

    number: int
    key: str | None
    parent: str | None
    ident: int | None  # a person's ID number, for duplicates
    values: list[Any] | None
    fields: dict[str, Any] | None
    problems: list[Problem]


@dataclass(slots=True)
class Repeat:
    """A key or ID number met again: its problem is written once its first row is found."""

    kind: str
    check: str  # "key" or "id"
    value: Any
    file: str
    row: int
    column: str  # as the file spells it


@dataclass(slots=True)
class Shared:
    """What every file of one import checks against and adds to."""

    run: Run
    ck: Cells1
    stamps: tuple[Any, ...]  # source, version, created_at, updated_at, updated_by of every row
    seen: dict[str, set[Any]] = field(default_factory=dict)  # "kind check" → keys or ID numbers met
    repeats: list[Repeat] = field(default_factory=list)
    parents: dict[tuple[str, bool], Parent] = field(default_factory=dict)  # one Parent per grid and flag


class FileCheck:
    """One file being read: its checks, and what they share with the whole import."""

    def __init__(self, shared: Shared, kind: str, opened: Stream, sealing: bool = True) -> None:
        self.shared, self.run, self.kind, self.opened = shared, shared.run, kind, opened
        self.table = opened.table
        self.problems: list[Problem] = []
        self.parse = (person(opened.at, shared.ck, sealing) if kind == "person"
                      else PARSERS[kind](opened.at, shared.ck))  # fmt: skip
        # What must not repeat (the keys and ID numbers seen so far), and the column it is in.
        key_column = KEYS[kind] if KEYS[kind] in self.table.headers else KEY_SOURCE.get(kind)
        self.keys = shared.seen.setdefault(f"{kind} key", set()) if key_column is not None else None
        self.key_column = self._spelled(key_column or "")
        self.ids = shared.seen.setdefault(f"{kind} id", set()) if kind == "person" else None
        self.id_column = self._spelled("id_number")
        self.parent_kind = PARENT.get(kind)
        self.known_parents = self.run.known.setdefault(self.parent_kind, {}) if self.parent_kind else {}
        self.known = (
            self.run.known.setdefault(kind, {}) if kind in ("address", "building", "household") else None
        )
        self.rental_at = RENTAL_AT.get(kind)
        self.days = {flag: cycle_days(kind, rental=flag, cycles=self.run.cycles) for flag in (False, True)}  # type: ignore[arg-type]
        self.next_check: dict[bool, dict[str, str]] = {False: {}, True: {}}  # verified → next, per cycle

    def _spelled(self, column: str) -> str:
        return self.table.headers.get(column, column)

    def check(self, number: int, cells: list[str]) -> Checked:
        try:
            values, parent, ident = self.parse(cells)
            return Checked(number, values[0], parent, ident, values, None, [])
        except FieldKeyError:
            raise
        except (ValueError, KeyError):  # somewhere a cell is refused: the model path says which
            return self._read_slowly(number, cells)

    def _read_slowly(self, number: int, cells: list[str]) -> Checked:
        table, kind = self.table, self.kind
        row = Row(number, {name: cells[at] for name, at in self.opened.at.items() if name in table.headers})
        read = Cells(table, row, bc.COLUMNS[kind].required)
        fields, key, parent = READERS[kind](read, self.run)
        ident = None
        if kind == "person" and fields["id_number"] is not None:
            ident = int(check_id_number(row.cells["id_number"], today=self.run.today).number[:17])
        return Checked(number, key, parent, ident, None, fields, read.problems)

    def place(self, c: Checked) -> tuple[Any, ...] | None:
        """The import-wide checks (repeats, the parent), then the row as written: None if bad."""
        repeated = False
        if self.keys is not None and c.key:
            if c.key in self.keys:
                repeated = self._repeat(c, "key", c.key, self.key_column)
            else:
                self.keys.add(c.key)
        if self.ids is not None and c.ident is not None:
            if c.ident in self.ids:
                repeated = self._repeat(c, "id", c.ident, self.id_column)
            else:
                self.ids.add(c.ident)
        if c.parent and self.parent_kind and c.parent not in self.known_parents:
            self._reference(c)
        row = None
        if not c.problems and not repeated:
            row = self._finish(c) if c.values is not None else None
            if row is None:  # a row the fast checks did not take, or a grid to inherit from no one
                row = self._through_model(c)
        self.problems += c.problems
        if row is None:
            if c.key is not None:
                self.run.bad.setdefault(self.kind, {})[c.key] = f"{self.table.file} row {c.number}"
            return None
        if self.known is not None:  # a parent kind: what a child needs of it, one Parent per grid and flag
            flag = (row[1], self._rental(row))
            parents = self.shared.parents
            self.known[row[0]] = parents.get(flag) or parents.setdefault(flag, Parent(*flag))
        return row

    def _repeat(self, c: Checked, check: str, value: Any, column: str) -> bool:
        self.shared.repeats.append(Repeat(self.kind, check, value, self.table.file, c.number, column))
        return True

    def _reference(self, c: Checked) -> None:
        """A parent in neither this import's good rows nor the store (as basedata_models)."""
        parent_kind = self.parent_kind or ""
        bad = self.run.bad.get(parent_kind, {})
        if c.parent in bad and self.run.options.skip_bad:
            message = f"{parent_kind} {c.parent} is on a bad row ({bad[c.parent]})"
        elif c.parent in bad:
            return  # refused anyway: its own problem says enough
        else:
            message = f"{parent_kind} {c.parent} not found in the files imported or the store"
        c.problems.append(self.table.problem(c.number, PARENT_COLUMN[self.kind], message))

    def _finish(self, c: Checked) -> tuple[Any, ...] | None:
        """A fast row completed: the parent's grid where it gave none, the next check."""
        values = c.values
        assert values is not None
        parent = self.known_parents.get(c.parent) if c.parent else None
        if values[1] is None:
            if parent is None:
                return None  # the model path says it
            values[1] = parent.grid_code
        rental = (parent is not None and parent.rental) if self.kind == "person" else self._rental(values)
        later = self.next_check[rental]
        values[3] = later.get(values[2]) or later.setdefault(
            values[2], self.shared.ck.later(values[2], self.days[rental])
        )
        return (*values, *self.shared.stamps)

    def _rental(self, values: Any) -> bool:
        return self.rental_at is not None and values[self.rental_at] in (True, "rental")

    def _through_model(self, c: Checked) -> tuple[Any, ...] | None:
        """The model path's record of a good row (its grid inherited, its next check), or its
        objection added to the row's problems."""
        fields, kind, stamps = c.fields, self.kind, self.shared.stamps
        if fields is None:  # a fast row with no grid of its own and no parent to inherit one from
            fields = {"grid_code": None, "verified_at": None}
        record = build_record(
            self.table, kind, Draft(c.number, fields, c.key, c.parent, c.problems), self.run
        )
        if record is None:
            return None
        row = to_row(kind, record, stamps[2], stamps[4])
        return (*(row[name] for name in FIELDS[kind]), *stamps)
