"""The matter catalogue per district (入格事项清单): proposals, decisions, versions, imports.

A district (or the city itself, district "") proposes adding or changing a matter with its
time limit and closing standard, effective from a day; the city approves or rejects; the
proposer may withdraw it while it is pending. Every proposal is a numbered version of its
(code, district); the approved ones, over the configuration's base catalogue, make each
district's catalogue (dispatch.catalog.CatalogBook), which the dispatcher uses for the cases
created in that district from the effective day on (Asia/Shanghai days).

Applied live: `apply` re-reads the approved versions and swaps the dispatcher's book whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from command_center.importing.matters import MatterRow, read_matters
from command_center.importing.problems import Problem
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult
from dispatch.catalog import Catalog, CatalogBook, Matter, MatterVersion, load_catalog
from dispatch.city.codes import CODE_LENGTH

if TYPE_CHECKING:
    from command_center.store import Store
    from dispatch.city import City
    from dispatch.dispatcher import Dispatcher

Status = Literal["proposed", "approved", "rejected", "withdrawn"]
STATUSES: tuple[Status, ...] = ("proposed", "approved", "rejected", "withdrawn")
CHANGES = ("add", "change")


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def load_book(store: Store, base: Catalog) -> CatalogBook:
    """The base catalogue and every approved version in the store."""
    versions = [
        MatterVersion(Matter.model_validate(row["doc"]), row["district"], int(row["version"]),
                      date.fromisoformat(row["effective_from"]))
        for row in store.matter_versions(status="approved")
    ]  # fmt: skip
    return CatalogBook(base, versions)


def applier(store: Store, dispatcher: Dispatcher) -> Callable[[], Awaitable[None]]:
    """Re-read the approved versions and swap the dispatcher's book (one assignment)."""

    async def apply() -> None:
        dispatcher.book = await asyncio.to_thread(load_book, store, dispatcher.catalog)

    return apply


def district_of(district: str, city: City) -> str | None:
    """Why `district` is not "" (the whole city) or one of the city's districts; None if it is."""
    if district == "":
        return None
    if len(district) != 6 or not district.isdigit():
        return "a district is a 6-digit district code, or empty for the whole city"
    area = city.areas.get(district.ljust(CODE_LENGTH, "0"))
    if area is None or area.level != "district":
        return f"{district} is not one of the city's districts"
    return None


def change_problem(book: CatalogBook, district: str, code: str, change: str, day: date) -> str | None:
    """Why an `add` or a `change` of `code` does not fit the district's catalogue on `day`."""
    exists = code in book.entries(district, day)
    if change == "add" and exists:
        return f"matter {code} is already in the catalogue: propose a change"
    if change == "change" and not exists:
        return f"matter {code} is not in the catalogue: propose an add"
    return None


@dataclass(frozen=True, slots=True)
class Proposal:
    district: str
    change: str
    matter: dict[str, Any]  # the Matter, as its JSON (by alias: `class`)
    effective_from: date
    reason: str

    def row(self, by: str, at: str, status: Status = "proposed") -> dict[str, Any]:
        decided = status != "proposed"
        return {
            "code": self.matter["code"], "district": self.district, "status": status, "change": self.change,
            "doc": self.matter, "effective_from": self.effective_from.isoformat(), "proposed_by": by,
            "proposed_at": at, "reason": self.reason, "decided_by": by if decided else None,
            "decided_at": at if decided else None, "decision_note": self.reason if decided else None,
        }  # fmt: skip


def view(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A version as the API shows it: the district by name too."""
    return {
        "id": row["seq"], "code": row["code"], "name": row["doc"].get("name"), "district": row["district"],
        "district_name": names.get(row["district"], "全市") if row["district"] else "全市",
        "version": row["version"], "status": row["status"], "change": row["change"], "matter": row["doc"],
        "effective_from": row["effective_from"], "proposed_by": row["proposed_by"], "proposed_at": row["proposed_at"],
        "reason": row["reason"], "decided_by": row["decided_by"], "decided_at": row["decided_at"],
        "decision_note": row["decision_note"],
    }  # fmt: skip


def district_names(city: City) -> dict[str, str]:
    """6-digit district code → name."""
    return {a.code[:6]: a.name for a in city.districts}


# imports
def import_matters(path: Path, context: ImportContext, options: ImportOptions) -> ImportResult:
    """A catalogue file (CSV/XLSX or YAML like configs/matters.yaml): each row a version of its
    matter for its district ("" = city-wide), approved by a city admin's import, proposed by a
    district admin's (options.district). All or nothing unless skip_bad."""
    rows, problems, headers = read_matters(path)
    if context.progress is not None:
        context.progress(0, len(rows))
    tz_today = _today(context)
    book = load_book(context.store, _base(context))
    good: list[tuple[MatterRow, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        district = row.district or options.district
        problem = _row_problem(row, district, options, context.city, seen)
        if problem is not None:
            column = headers.get(problem[0], problem[0]) if problem[0] else None
            problems.append(Problem(path.name, row.number, column, problem[1]))
            continue
        seen[(row.matter.code, district)] = row.number
        good.append((row, district))
    problems.sort(key=Problem.sort_key)
    result = ImportResult("matters", path.name, applied=False, problems=problems)
    if (problems and not options.skip_bad) or options.dry_run:
        result.counts = {"checked": len(rows), "bad": len({p.row for p in problems})}
        return result
    status: Status = "proposed" if options.district else "approved"
    stored = context.store.add_matter_versions([
        _proposal(row, district, book, tz_today).row(options.actor, now_iso(), status) for row, district in good
    ])  # fmt: skip
    if context.progress is not None:
        context.progress(len(rows), len(rows))
    result.applied = bool(stored)
    result.counts = {status: len(stored), "skipped": len(rows) - len(stored)}
    return result


def _row_problem(
    row: MatterRow, district: str, options: ImportOptions, city: City, seen: dict[tuple[str, str], int]
) -> tuple[str | None, str] | None:
    """(column, message) of what is wrong with a checked row in this city, or None."""
    if options.district and district != options.district:
        return "district", f"{district or 'city-wide'} is outside your district {options.district}"
    wrong = district_of(district, city)
    if wrong is not None:
        return "district", wrong
    first = seen.get((row.matter.code, district))
    if first is not None:
        return "code", f"matter {row.matter.code} for the same district is also on row {first}"
    return None


def _proposal(row: MatterRow, district: str, book: CatalogBook, today: date) -> Proposal:
    day = row.effective_from or today
    change = "change" if row.matter.code in book.entries(district, day) else "add"
    matter = row.matter.model_dump(mode="json", by_alias=True)
    return Proposal(district, change, matter, day, row.reason or "imported")


def _base(context: ImportContext) -> Catalog:
    return load_catalog(context.config.catalog)


def _today(context: ImportContext) -> date:
    return datetime.now(ZoneInfo(context.config.dispatch.timezone)).date()


def visible(rows: Sequence[dict[str, Any]], jurisdiction: str) -> list[dict[str, Any]]:
    """The versions someone of `jurisdiction` sees: the city's, and their own district's."""
    if not jurisdiction:
        return list(rows)
    return [r for r in rows if r["district"] in ("", jurisdiction[:6])]
