"""A budget line and the rules of its fields (docs/COSTS.md): categories, months, amounts.

Amounts are typed in yuan (元) with at most two decimals and kept as integer fen (分), so
that sums are exact; a line's area is a 15-digit code of the city map at any level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# category → its name in Chinese (what a sheet may write instead of the code). `pool` says
# over what a category's amount is spread (store/cost_queries.py): staff and overheads over
# work minutes; sensing equipment over the cases the cameras and sensors found; each running
# cost over its own source's cases.
CATEGORIES: dict[str, str] = {
    "staff": "人员",
    "equipment": "设备",
    "services": "购买服务",
    "iot": "物联网运行",
    "video": "视频运行",
    "other": "其他",
}
POOLS: dict[str, str] = {
    "staff": "work",
    "services": "work",
    "other": "work",
    "equipment": "sensing",
    "iot": "iot",
    "video": "video",
}
CATEGORY_ALIASES: dict[str, str] = {
    **{name: code for code, name in CATEGORIES.items()},
    "人员经费": "staff", "人力": "staff", "设备购置": "equipment", "服务": "services",
    "物联网": "iot", "视频": "video", "视频监控运行": "video",
}  # fmt: skip
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
GRADE_MAX = 32
NOTE_MAX = 200
MOST_FEN = 10**14  # a trillion yuan: past it a typo, not a budget


@dataclass(frozen=True, slots=True)
class LineInput:
    """A line as entered or imported, checked: what the store writes."""

    area_code: str
    prefix: str  # the area's significant digits (dispatch.city.codes.significant_digits)
    month: str
    category: str
    grade: str
    amount_fen: int
    note: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.month, self.area_code, self.category, self.grade)


def parse_month(text: str) -> str:
    """YYYY-MM (a sheet's 2026/3, 2026-3 or 202603 are read too)."""
    # an Excel date cell comes as 2026-11-01T00:00:00: its month is the line's
    raw = text.strip().split("T")[0].replace("/", "-").replace(".", "-").replace("年", "-").rstrip("月")
    if re.fullmatch(r"\d{6}", raw):
        raw = f"{raw[:4]}-{raw[4:]}"
    found = re.fullmatch(r"(\d{4})-(\d{1,2})(-01)?", raw)
    if not found or not 1 <= int(found[2]) <= 12 or not 2000 <= int(found[1]) <= 2100:
        raise ValueError(f"not a month YYYY-MM: {text!r}")
    return f"{found[1]}-{int(found[2]):02d}"


def parse_category(text: str) -> str:
    raw = text.strip()
    found = raw.lower() if raw.lower() in CATEGORIES else CATEGORY_ALIASES.get(raw)
    if found is None:
        raise ValueError(
            f"unknown category {text!r}: one of {', '.join(CATEGORIES)} or {'、'.join(CATEGORIES.values())}"
        )
    return found


def parse_amount(text: str | int | float) -> int:
    """Yuan → fen: '12,345.60', '¥12345.6' or 12345.6 → 1234560; negative or >2 decimals refused."""
    raw = str(text).strip().replace(",", "").replace("，", "").lstrip("¥￥").removesuffix("元")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"not an amount in yuan: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"an amount is 0 or more yuan, not {text!r}")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"at most two decimals (fen): {text!r}")
    if fen >= MOST_FEN:
        raise ValueError(f"amount too large: {text!r}")
    return int(fen)


def parse_grade(text: str, category: str) -> str:
    grade = text.strip()
    if len(grade) > GRADE_MAX:
        raise ValueError(f"a grade is at most {GRADE_MAX} characters")
    if grade and category != "staff":
        raise ValueError("only staff lines have a grade")
    return grade


def parse_area(text: str) -> str:
    code = text.strip()
    if not (code.isdigit() and len(code) == 15):
        raise ValueError(f"not a 15-digit area code: {text!r}")
    return code


def fen_to_yuan(fen: float | int | None) -> float | None:
    return None if fen is None else round(float(fen) / 100, 2)
