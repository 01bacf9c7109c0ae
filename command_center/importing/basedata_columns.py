"""The base-data files' columns (Chinese and English spellings) and the cell parsers the
importer (importing/basedata.py) reads them with.

Each parser raises ValueError with the words a person should read; Cells puts them in a
Problem naming the file, row and column. A column's canonical name is the model's field
(basedata/model.py), so the model's own objections name the same column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import TypeVar

from command_center.importing.tables import Columns, normalize_header

V = TypeVar("V")
CODE = re.compile(r"[0-9A-Za-z-]{1,40}")
DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T ]00:00(?::00)?)?")

_COMMON = {
    "grid_code": ("网格编码", "网格编号", "所属网格", "网格", "grid"),
    "verified_at": ("核实日期", "核查日期", "采集日期", "登记日期", "verified", "verified_on", "checked_at"),
}
_PLACE = {"lon": ("经度", "longitude", "lng"), "lat": ("纬度", "latitude")}
_ADDRESS_CODE = ("标准地址编码", "地址编码", "address")

COLUMNS: dict[str, Columns] = {
    "address": Columns(
        "address",
        {"code": ("标准地址编码", "地址编码", "address_code"),
         "text": ("标准地址", "标准地址名称", "地址全称", "地址名称", "address_text", "full_address"),
         **_PLACE, **_COMMON},
        frozenset({"code", "text", "lon", "lat", "grid_code"}),
    ),
    "building": Columns(
        "building",
        {"code": ("建筑物编码", "楼栋编码", "建筑编码", "building_code"), "address_code": _ADDRESS_CODE,
         "name": ("建筑物名称", "楼栋名称", "名称", "building_name"), "floors": ("层数", "楼层数", "地上层数"),
         "use": ("用途", "建筑用途", "房屋用途"), "rental": ("出租屋", "是否出租屋", "is_rental"),
         **_PLACE, **_COMMON},
        frozenset({"code", "address_code", "floors", "lon", "lat"}),
    ),
    "household": Columns(
        "household",
        {"id": ("户编号", "户编码", "household_id"), "building_code": ("建筑物编码", "楼栋编码", "building"),
         "room": ("户室号", "房号", "室号"), "kind": ("房屋类型", "使用类型", "户类型", "type"), **_COMMON},
        frozenset({"building_code", "room"}),
    ),
    "person": Columns(
        "person",
        {"id": ("人员编号", "人员编码", "person_id"), "household_id": ("户编号", "户编码", "household"),
         "name": ("姓名", "full_name"),
         "id_number": ("公民身份号码", "身份证号", "身份证号码", "证件号码", "id_card"),
         "phone": ("手机号", "手机号码", "手机", "联系电话", "电话", "mobile", "tel"),
         "kind": ("人员类型", "人口类型", "type", "category"), "arrival_date": ("来穗日期", "来穗时间", "arrival"),
         "sex": ("性别", "gender"), "birth_date": ("出生日期", "birthday", "dob"), **_COMMON},
        frozenset({"household_id", "name", "id_number"}),
    ),
    "organisation": Columns(
        "organisation",
        {"id": ("单位编号", "单位编码", "organisation_id", "org_id"),
         "name": ("单位名称", "名称", "organisation", "org_name"),
         "credit_code": ("统一社会信用代码", "信用代码", "uscc"), "kind": ("单位类型", "类型", "type"),
         "address_code": _ADDRESS_CODE, "contact_phone": ("联系电话", "电话", "手机号", "phone", "tel"), **_COMMON},
        frozenset({"name", "address_code"}),
    ),
}  # fmt: skip

# Columns only one kind has, most telling first: the kind of a file given without one.
MARKERS: dict[str, frozenset[str]] = {
    kind: frozenset(normalize_header(s) for s in spellings)
    for kind, spellings in {
        "person": ("公民身份号码", "身份证号", "身份证号码", "证件号码", "id_number", "id_card", "来穗日期"),
        "organisation": ("统一社会信用代码", "信用代码", "credit_code", "uscc", "单位名称", "单位编号", "单位类型",
                         "organisation_id", "org_id"),
        "household": ("户室号", "房号", "室号", "room"),
        "building": ("层数", "楼层数", "地上层数", "floors", "建筑物名称", "楼栋名称"),
        "address": ("标准地址", "标准地址名称", "地址全称", "地址名称", "text", "address_text", "full_address"),
    }.items()
}  # fmt: skip

# Accepted spellings (normalised) → the model's value.
USES = {"residential": "residential", "住宅": "residential", "commercial": "commercial", "商业": "commercial",
        "商铺": "commercial", "mixed": "mixed", "商住": "mixed", "综合": "mixed", "industrial": "industrial",
        "工业": "industrial", "厂房": "industrial", "public": "public", "公共": "public", "other": "other",
        "其他": "other"}  # fmt: skip
HOUSEHOLD_KINDS = {"owner": "owner", "自住": "owner", "rental": "rental", "出租": "rental", "vacant": "vacant",
                   "空置": "vacant", "business": "business", "经营": "business", "other": "other",
                   "其他": "other"}  # fmt: skip
PERSON_KINDS = {"registered": "registered", "户籍": "registered", "户籍人口": "registered", "migrant": "migrant",
                "来穗": "migrant", "来穗人员": "migrant", "流动人口": "migrant", "tenant": "tenant", "租住": "tenant",
                "租住人员": "tenant"}  # fmt: skip
ORGANISATION_KINDS = {"shop": "shop", "商铺": "shop", "门店": "shop", "个体工商户": "shop", "company": "company",
                      "企业": "company", "公司": "company", "school": "school", "学校": "school",
                      "hospital": "hospital", "医院": "hospital", "site": "site", "工地": "site",
                      "government": "government", "机关": "government", "事业单位": "government",
                      "other": "other", "其他": "other"}  # fmt: skip
SEXES = {"m": "M", "男": "M", "male": "M", "f": "F", "女": "F", "female": "F"}
# Longest text a cell may hold, per kind and column (within the model's own max_length;
# a household's id leaves room for the model's <building code>-<room>). Both paths read
# them here: importing/basedata_models.py's readers and basedata_rows.py's checks.
LIMITS: dict[tuple[str, str], int] = {
    ("address", "text"): 200, ("building", "name"): 100, ("household", "room"): 20, ("household", "id"): 60,
    ("person", "id"): 40, ("person", "household_id"): 60, ("person", "name"): 64,
    ("organisation", "name"): 100, ("organisation", "id"): 40,
}  # fmt: skip
YES = frozenset({"是", "yes", "y", "true", "1"})
NO = frozenset({"否", "no", "n", "false", "0"})


def code(text: str) -> str:
    if not CODE.fullmatch(text):
        raise ValueError(f"{text!r} is not a code (up to 40 letters, digits and dashes)")
    return text


def text(limit: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters ({len(value)})")
        return value

    return parse


def coordinate(name: str, limit: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{name} {value!r} is not a number") from None
        if not -limit <= number <= limit:
            raise ValueError(f"{name} {value} is outside -{limit:g}..{limit:g}")
        return number

    return parse


def whole(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise ValueError(f"{number} is outside {low}..{high}")
        return number

    return parse


def choice(values: Mapping[str, V], label: str) -> Callable[[str], V]:
    def parse(value: str) -> V:
        found = values.get(normalize_header(value))
        if found is None:
            shown = ", ".join(list(values)[:6])
            raise ValueError(f"unknown {label} {value!r}; one of: {shown}, …")
        return found

    return parse


def yes_no(value: str) -> bool:
    folded = normalize_header(value)
    if folded in YES:
        return True
    if folded in NO:
        return False
    raise ValueError(f"{value!r} is not yes or no (是/否)")


def past_date(today: date) -> Callable[[str], date]:
    """A date as files write it (2024-05-01, 2024/5/1, 20240501, 2024年5月1日, or Excel's
    date cell), not after today."""

    def parse(value: str) -> date:
        digits = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", value)
        found = digits or DATE.fullmatch(value)
        if found is None:
            raise ValueError(f"{value!r} is not a date (write 2024-05-01)")
        try:
            day = date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            raise ValueError(f"{value!r} is not a date") from None
        if day > today:
            raise ValueError(f"{day.isoformat()} is in the future")
        return day

    return parse
