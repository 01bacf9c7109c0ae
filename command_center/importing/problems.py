"""What is wrong with an imported file, said where a person can find it: file, row, column."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one file.

    `row` is the 1-based line (CSV) or row (XLSX) number as a text editor or Excel shows
    it, or the feature number in a GIS file; None when the whole file is at fault.
    `column` is the header as the file spells it (or the field name); None when the
    problem is the whole row's.
    """

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        place = self.file
        if self.row is not None:
            place += f":{self.row}"
        if self.column is not None:
            place += f":{self.column}"
        return f"{place}: {self.message}"

    def sort_key(self) -> tuple[str, int, str]:
        """File, then row, then column: the order a person fixes them in (whole-file ones first)."""
        return (self.file, -1 if self.row is None else self.row, self.column or "")


class ImportProblems(Exception):
    """Raised when an import is refused; carries every problem found, not only the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = sorted(problems, key=Problem.sort_key)
        super().__init__(self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        lines = [f"{count} problem{'' if count == 1 else 's'} found:"]
        lines.extend(str(problem) for problem in self.problems)
        return "\n".join(lines)


def raise_if_any(problems: Iterable[Problem]) -> None:
    """Refuse the whole import when anything is wrong: nothing is half-applied."""
    found = list(problems)
    if found:
        raise ImportProblems(found)
