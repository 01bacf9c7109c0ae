"""The bulk base-data import: files streamed in chunks, cells checked straight into table
rows (importing/basedata_rows.py), written while the next chunk is checked
(importing/basedata_sink.py), all in one transaction: a district of two million people at
close to PostgreSQL's own COPY speed, in bounded memory.

What is kept across a whole import is only what its checks need: the keys seen (a key or an
ID number twice is a problem), and for the kinds that are parents (addresses, buildings,
households) each key's grid and rental flag (a child inherits both). Rows are dropped once
written. A duplicate's "also on row N" is found at the end by reading the files again up to
that first row, so no row number is kept per key.

The contract is the model path's (importing/basedata_models.py), which the tests hold it
to: every bad row reported with file, row and column, in the model path's words (a row the
fast checks refuse is read again through it); nothing written when any row is bad, unless
--skip-bad; a re-import overwrites and bumps versions. While nothing is known to be wrong,
the chunks are written as they are checked; once the import is sure to be refused,
writing stops, the checks go on so every problem is reported, and the transaction is
rolled back.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from basedata.protect import FieldKeyError
from command_center.importing import basedata_columns as bc
from command_center.importing.basedata_file import FileCheck, Shared
from command_center.importing.basedata_models import Run, refused
from command_center.importing.basedata_rows import Cells1
from command_center.importing.basedata_sink import Sink, SinkConflict, open_sink
from command_center.importing.basedata_stream import open_stream
from command_center.importing.problems import Problem
from command_center.importing.tables import Unreadable
from command_center.registry.imports import ImportResult
from command_center.store.basedata_schema import KEYS, TABLES

CHUNK = 10000  # rows checked, looked up and written together
GRID_AND_DAY = itemgetter(1, 3)  # a row's grid_code and next_check_at (basedata_rows.FIELDS)


def import_stream(kinds: list[tuple[str, Path]], run: Run, result: ImportResult) -> None:
    """import_files' bulk path: check and write every file, then commit or roll back."""
    importer = _Import(run, result)
    sink = open_sink(run.records, run.options.dry_run or not importer.live)
    commit = False
    collecting = gc.isenabled()
    # Millions of short-lived lists and tuples and no cycles among them: the cycle collector
    # would walk the import's key sets again and again (a third of the checking time).
    gc.disable()
    try:
        for kind, path in kinds:
            try:
                importer.read_file(kind, path, sink)
            except FieldKeyError as exc:  # the key file: no file can be sealed
                result.problems.append(Problem(path.name, None, None, str(exc)))
                importer.live = False
                break
        commit = importer.finish() and not run.options.dry_run
    except SinkConflict as exc:
        importer.conflict(exc)
    finally:
        if collecting:
            gc.enable()
        try:
            sink.finish(commit)
        except SinkConflict as exc:
            importer.conflict(exc)
            commit = False
    result.applied = commit


class _Import:
    def __init__(self, run: Run, result: ImportResult) -> None:
        self.run, self.result = run, result
        at = datetime.now(UTC).isoformat()
        self.shared = Shared(run, Cells1(run), ("import", 1, at, at, f"{run.options.actor}:{result.file}"))
        self.read: dict[str, list[Path]] = {}  # kind → its files so far, for finding first rows
        self.counts: dict[str, int] = {}
        self.empty: dict[str, bool] = {}  # kind → its table held nothing when the import began
        self.any_good = False
        # Not yet sure to be refused: a file of no kind is a whole file's problem.
        self.live = not any(p.row is None for p in result.problems)

    def _sure_refused(self) -> None:
        if self.run.whole_file or (self.result.problems and not self.run.options.skip_bad):
            self.live = False

    def read_file(self, kind: str, path: Path, sink: Sink) -> None:
        opened = open_stream(path, bc.COLUMNS[kind])
        if isinstance(opened, Problem):
            self.run.whole_file, self.live = True, False
            self.result.problems.append(opened)
            return
        self.read.setdefault(kind, []).append(path)
        file = FileCheck(self.shared, kind, opened)
        try:
            for chunk in _chunks(opened.rows(), CHUNK):
                self.run.whole_file |= bool(opened.problems)  # the header's, a row past its width
                self.live &= not self.run.whole_file
                self._chunk(file, chunk, sink)
        except Unreadable as exc:  # half-way through: as tables.py, the file's one problem
            file.problems = [Problem(path.name, exc.row, None, exc.message)]
            self.shared.repeats = [r for r in self.shared.repeats if r.file != path.name]
            self.run.whole_file = True
        self.run.whole_file |= bool(opened.problems)
        self.result.problems += file.problems + opened.problems
        self._sure_refused()

    def _chunk(self, file: FileCheck, rows: list[tuple[int, list[str]]], sink: Sink) -> None:
        checked = [file.check(number, cells) for number, cells in rows]
        # Parents neither in this import nor looked up yet: from the store, unless their table
        # was empty (then none is there, and a first load may hold it: basedata_load).
        if file.parent_kind is not None and not self.empty.get(file.parent_kind, False):
            known = file.known_parents
            missing = {c.parent for c in checked if c.parent} - known.keys()
            known.update(self.run.records.existing(file.parent_kind, missing))
        good = [row for c in checked if (row := file.place(c)) is not None]
        if (file.problems or self.shared.repeats) and not self.run.options.skip_bad:
            self.live = False
        if good:
            self.any_good = True
        if good and self.live:
            self._write(file.kind, good, sink)

    def _write(self, kind: str, good: list[tuple[Any, ...]], sink: Sink) -> None:
        """Counted, and handed to the sink: new keys apart from stored ones."""
        stored: set[str] = set()
        if not self._empty(kind):
            stored = set(self.run.records.existing(kind, (row[0] for row in good)))
        self.counts[kind] = self.counts.get(kind, 0) + len(good)
        self.counts[f"{kind}_updated"] = self.counts.get(f"{kind}_updated", 0) + len(stored)
        new = [row for row in good if row[0] not in stored] if stored else good
        old = [row for row in good if row[0] in stored] if stored else []
        fresh = self._empty(kind)
        # A first load counts its rows here, by grid and next check, for the counts table
        # (its trigger set aside: basedata_load.py): two columns of rows already in hand.
        sink.put(kind, new, old, fresh, Counter(map(GRID_AND_DAY, new)) if fresh else None)

    def _empty(self, kind: str) -> bool:
        """Whether the kind's table held nothing when the import began: then no key of it
        is stored (this import's own repeats are found above), and no lookup is needed."""
        if kind not in self.empty:
            with self.run.records.store._reading() as db:
                found = db.execute(f"SELECT 1 FROM {TABLES[kind].name} LIMIT 1").fetchone()  # a schema name
            self.empty[kind] = found is None
        return self.empty[kind]

    def finish(self) -> bool:
        """Every problem in its place and the counts; whether the import is to be applied."""
        self._name_repeats()
        self.result.problems.sort(key=Problem.sort_key)
        bad_rows = {(p.file, p.row) for p in self.result.problems if p.row is not None}
        self.result.counts = {"skipped": len(bad_rows)} if bad_rows else {}
        if refused(self.result.problems, self.any_good, self.run.options) or self.run.whole_file:
            return False
        self.result.counts.update(self.counts)
        return True

    def conflict(self, exc: SinkConflict) -> None:
        first = self.result.file.split(", ")[0]
        self.result.problems.append(Problem(first, None, None, f"a record of this import was stored by another "
                                            f"writer meanwhile; nothing was changed: import again ({exc})"))  # fmt: skip

    def _name_repeats(self) -> None:
        """Each repeat's problem, naming where its value first was (the files read again)."""
        wanted: dict[tuple[str, str], set[Any]] = {}
        for repeat in self.shared.repeats:
            wanted.setdefault((repeat.kind, repeat.check), set()).add(repeat.value)
        first: dict[tuple[str, str, Any], tuple[str, int]] = {}
        for (kind, check), values in wanted.items():
            for value, place in self._first_rows(kind, check, values):
                first[kind, check, value] = place
        for r in self.shared.repeats:
            file, row = first.get((r.kind, r.check, r.value), (r.file, r.row))
            where = f"row {row}" if file == r.file else f"{file} row {row}"
            # An ID number is never echoed; a key is.
            label = "ID number" if r.check == "id" else f"{r.kind} {KEYS[r.kind]} {r.value}"
            self.result.problems.append(
                Problem(r.file, r.row, r.column, f"duplicate {label} (also on {where})")
            )

    def _first_rows(self, kind: str, check: str, values: set[Any]) -> Iterator[tuple[Any, tuple[str, int]]]:
        left = set(values)
        for path in self.read.get(kind, []):
            opened = open_stream(path, bc.COLUMNS[kind])
            if isinstance(opened, Problem):
                continue
            file = FileCheck(self.shared, kind, opened, sealing=False)
            for number, cells in opened.rows():
                c = file.check(number, cells)
                value = c.ident if check == "id" else c.key
                if value in left:
                    left.discard(value)
                    yield value, (path.name, number)
                    if not left:
                        return


def _chunks(rows: Iterable[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk
