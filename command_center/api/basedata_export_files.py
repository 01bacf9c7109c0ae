"""The files of a base-data export (api/basedata_export.py): each kind's columns in words,
its records as rows (ID numbers and phones masked and marked, or in the clear for an audited
reveal), and the two formats with their watermark.

- CSV (UTF-8 with a BOM, so that spreadsheets read the Chinese): a first line
  `# 导出人 … 导出时间 … 编号 …`, then the header and the rows, written a page of records
  at a time as the store gives them.
- XLSX (openpyxl's write-only mode: rows go to a temporary file as they come, never all in
  memory): a first sheet 导出信息 (who, role, when, the export id, what, how many), then the
  records; on every printed page of both, the header `user | 内部资料 | time` and the footer
  `export id | page n of m`; the document's creator, description and keywords name the
  user and the export.

A cell is always written as text or a number, never as a formula: a name starting with "="
from an import must not run in the officer's spreadsheet (CSV injection, OWASP).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from basedata.model import Record
from basedata.watermark import header_text
from command_center.i18n import catalogue

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Value = str | int | float | None
Cell = Callable[[Record, "Context"], Value]


@dataclass(frozen=True, slots=True)
class Context:
    """What a row needs beyond its record: words, grid names, and how personal fields show."""

    lang: str
    grid_names: dict[str, str]
    personal: Callable[[str, Any], str | None]  # (field, Sealed | None) → masked and marked, or clear

    def word(self, group: str, value: str | None) -> str:
        return "" if value is None else catalogue(self.lang).get(f"basedata.{group}.{value}", value)


def _field(name: str) -> Cell:
    def cell(record: Record, _ctx: Context) -> Value:
        value = getattr(record, name, None)
        return value.isoformat() if isinstance(value, date) else value

    return cell


def _word(name: str, group: str) -> Cell:
    return lambda record, ctx: ctx.word(group, getattr(record, name, None))


def _personal(name: str) -> Cell:
    return lambda record, ctx: ctx.personal(name, getattr(record, name, None))


_HEAD: list[tuple[str, Cell]] = [
    ("basedata.col.grid", lambda r, ctx: ctx.grid_names.get(r.grid_code, r.grid_code)),
    ("basedata.export.f.grid_code", _field("grid_code")),
]
_TAIL: list[tuple[str, Cell]] = [
    ("basedata.f.verified_at", _field("verified_at")),
    ("basedata.f.next_check_at", _field("next_check_at")),
    ("basedata.export.f.source", _word("source", "export.source")),
    ("basedata.export.f.version", _field("version")),
]
# Each kind's own columns: the heading's message key and the cell.
_OWN: dict[str, list[tuple[str, Cell]]] = {
    "address": [("basedata.f.code", _field("code")), ("basedata.export.f.text", _field("text")),
                ("basedata.export.f.lon", _field("lon")), ("basedata.export.f.lat", _field("lat"))],
    "building": [("basedata.f.code", _field("code")), ("basedata.export.f.building_name", _field("name")),
                 ("basedata.export.f.address_code", _field("address_code")), ("basedata.f.use", _word("use", "use")),
                 ("basedata.f.floors", _field("floors")),
                 ("basedata.f.rental", lambda r, ctx: ctx.word("export.yes_no", str(getattr(r, "rental", False)).lower()))],
    "household": [("basedata.export.f.id", _field("id")), ("basedata.f.building", _field("building_code")),
                  ("basedata.f.room", _field("room")), ("basedata.f.kind", _word("kind", "household"))],
    "person": [("basedata.export.f.id", _field("id")), ("basedata.f.name", _field("name")),
               ("basedata.f.sex", _word("sex", "sex")), ("basedata.export.f.birth_date", _field("birth_date")),
               ("basedata.f.kind", _word("kind", "person")), ("basedata.export.f.arrival_date", _field("arrival_date")),
               ("basedata.f.id_number", _personal("id_number")), ("basedata.f.phone", _personal("phone")),
               ("basedata.export.f.household_id", _field("household_id"))],
    "organisation": [("basedata.export.f.id", _field("id")), ("basedata.f.org_name", _field("name")),
                     ("basedata.f.kind", _word("kind", "org")), ("basedata.f.credit_code", _field("credit_code")),
                     ("basedata.export.f.address_code", _field("address_code")),
                     ("basedata.f.contact_phone", _personal("contact_phone"))],
}  # fmt: skip


def columns(kind: str) -> list[tuple[str, Cell]]:
    return [*_HEAD, *_OWN[kind], *_TAIL]


def headings(kind: str, lang: str) -> list[str]:
    words = catalogue(lang)
    return [words.get(key, key) for key, _ in columns(kind)]


def rows(kind: str, records: Iterable[Record], ctx: Context) -> Iterator[list[Value]]:
    cells = [cell for _, cell in columns(kind)]
    for record in records:
        yield [cell(record, ctx) for cell in cells]


@dataclass(frozen=True, slots=True)
class Marking:
    """The visible watermark: who, when, which export, what, as the file says it."""

    user: str
    role: str  # in words
    at: datetime  # in the city's time zone
    export_id: str
    what: str  # the kind and area in words
    count: int
    clear: bool  # ID numbers and phones in the clear (an audited reveal)
    lang: str

    def text(self, key: str, **values: Any) -> str:
        return catalogue(self.lang)[key].format(**values)

    @property
    def time(self) -> str:
        return self.at.strftime("%Y-%m-%d %H:%M:%S %z")

    def csv_line(self) -> str:
        return self.text("basedata.export.csv_line", user=self.user, role=self.role, time=self.time,
                         id=self.export_id, what=self.what, rows=self.count)  # fmt: skip

    def info(self) -> list[tuple[str, str | int]]:
        yes_no = self.text("basedata.export.yes_no.true" if self.clear else "basedata.export.yes_no.false")
        return [(self.text("basedata.export.info.id"), self.export_id), (self.text("basedata.export.info.user"), self.user),
                (self.text("basedata.export.info.role"), self.role), (self.text("basedata.export.info.time"), self.time),
                (self.text("basedata.export.info.what"), self.what), (self.text("basedata.export.info.rows"), self.count),
                (self.text("basedata.export.info.clear"), yes_no),
                (self.text("basedata.export.info.notice"), self.text("basedata.export.notice"))]  # fmt: skip


def _safe(value: Value) -> Value:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_chunks(heads: list[str], pages: Iterable[Iterable[list[Value]]], marking: Marking) -> Iterator[bytes]:
    """The CSV as bytes, the watermark line and header first, then a page of rows a chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff" + marking.csv_line() + "\r\n")
    writer.writerow(heads)
    for page in pages:
        writer.writerows([_safe(v) for v in row] for row in page)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def _decorate(sheet: WriteOnlyWorksheet, marking: Marking) -> None:
    """The page header and footer every printed page carries (& escaped: it starts a code)."""
    sheet.oddHeader.left.text = header_text(marking.user)
    sheet.oddHeader.center.text = header_text(marking.text("basedata.export.internal"))
    sheet.oddHeader.right.text = header_text(marking.time)
    sheet.oddFooter.left.text = header_text(marking.export_id)
    sheet.oddFooter.right.text = marking.text("basedata.export.page", page="&P", pages="&N")


def _cell(sheet: WriteOnlyWorksheet, value: Value) -> Any:
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever it starts with
    return cell


def write_xlsx(
    out: IO[bytes], title: str, heads: list[str], pages: Iterable[Iterable[list[Value]]], marking: Marking
) -> None:
    """The workbook into `out`: the info sheet, then the records a page at a time."""
    book = Workbook(write_only=True)
    props = book.properties
    props.creator = props.lastModifiedBy = marking.user
    props.title, props.keywords = title, marking.export_id
    props.subject = marking.text("basedata.export.internal")
    props.description = marking.csv_line().lstrip("# ")
    info = book.create_sheet(marking.text("basedata.export.info.sheet"))
    _decorate(info, marking)
    info.column_dimensions["A"].width, info.column_dimensions["B"].width = 22, 60
    for label, value in marking.info():
        info.append([_cell(info, label), _cell(info, value)])
    data = book.create_sheet(title)
    _decorate(data, marking)
    data.print_title_rows = "1:1"  # the header on every printed page
    data.freeze_panes = "A2"
    data.append([_cell(data, h) for h in heads])
    for page in pages:
        for row in page:
            data.append([_cell(data, v) for v in row])
    book.save(out)
