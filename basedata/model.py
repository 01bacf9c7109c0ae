"""The records of the grid's base data (四标四实): 标准地址 → 建筑物 → 户 → 人, and 单位.

Every record belongs to one grid (`grid_code`), says where it came from (`source`), when it
was last verified (`verified_at`) and when it is due again (`next_check_at`, from
basedata.cycles), and carries a `version` that each change bumps (an update names the
version it read; a stale one is a conflict, shown to the worker, never overwritten).

Personal fields never travel in the clear past the importer and the API: a person's ID
number and phone are held as `Sealed` (ciphertext, a keyed index for lookups and the last
digits for masked display; basedata.protect). Birth date and sex are derived from the ID
number at collection, kept in the clear because the statistics need them (share of elderly
living alone) and they identify no one alone.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["import", "collect", "verify", "sample"]  # a file, a worker's form, a re-check, generated
BuildingUse = Literal["residential", "commercial", "mixed", "industrial", "public", "other"]
HouseholdKind = Literal["owner", "rental", "vacant", "business", "other"]  # 自住, 出租, 空置, 经营
PersonKind = Literal["registered", "migrant", "tenant"]  # 户籍人口, 来穗人员, 租住人员
Sex = Literal["M", "F"]
OrganisationKind = Literal["shop", "company", "school", "hospital", "site", "government", "other"]
RecordKind = Literal["address", "building", "household", "person", "organisation"]

GRID_CODE = r"^[0-9]{1,15}$"
# A field photo's id (门牌照片), as command_center.photos.PHOTO_ID: kept literal here, because
# the base data knows nothing of the server (tests/test_basedata_collect.py holds them equal).
PHOTO_ID = r"^P[0-9a-f]{12}$"


class Sealed(BaseModel):
    """A personal field as stored: ciphertext (AES-GCM, key outside the database), a keyed
    index (HMAC) that finds the record by the exact value, and the last digits for display
    (*******5678: basedata.protect.mask_phone). basedata.protect makes and opens them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cipher: str = Field(min_length=1, description="v1:<base64 nonce+ciphertext>")
    index: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of the normalised value")
    tail: str = Field(max_length=4, description="the last digits, shown in masked form")


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_code: str = Field(pattern=GRID_CODE)
    source: Source = "import"
    verified_at: date | None = None
    next_check_at: date | None = None
    version: int = Field(default=1, ge=1)


class Address(Record):
    """标准地址: the city's standard address, the key everything else hangs from."""

    code: str = Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z-]+$")
    text: str = Field(min_length=1, max_length=200, description="全称, e.g. 天河区体育西路191号")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class Building(Record):
    """建筑物, with the city's building code (the 430-万-style 建筑物编码)."""

    code: str = Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z-]+$")
    address_code: str = Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z-]+$")
    name: str = Field(default="", max_length=100)
    floors: int = Field(ge=1, le=200)
    use: BuildingUse = "residential"
    rental: bool = Field(default=False, description="出租屋: holds rental households (monthly re-check)")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    plate_photo_id: str | None = Field(default=None, pattern=PHOTO_ID, description="门牌照片 (a field photo)")


class Household(Record):
    """户: a unit of a building (its room), and how it is used."""

    id: str = Field(min_length=1, max_length=64, description="<building code>-<room>")
    building_code: str = Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z-]+$")
    room: str = Field(min_length=1, max_length=20, description="户室号, e.g. 1-1203")
    kind: HouseholdKind = "owner"
    plate_photo_id: str | None = Field(default=None, pattern=PHOTO_ID, description="门牌照片 (a field photo)")


class Person(Record):
    """实有人口: who lives in a household."""

    id: str = Field(min_length=1, max_length=80, description="<household id>-<n>, or the source's own")
    household_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    id_number: Sealed
    phone: Sealed | None = None
    sex: Sex
    birth_date: date
    kind: PersonKind = "registered"
    arrival_date: date | None = Field(default=None, description="来穗日期 (migrants)")
    # 迁出: set by DELETE /api/basedata/people/{id}; lists leave them out, basedata/retention.py deletes them later.
    left_on: date | None = Field(default=None, description="the day they were marked moved out (迁出)")


class Organisation(Record):
    """实有单位: shops, companies, schools, sites."""

    id: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)
    # The alphabet here; the check character by basedata.identity.check_credit_code where it enters.
    credit_code: str | None = Field(default=None, pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$", description="统一社会信用代码")
    kind: OrganisationKind = "shop"
    address_code: str = Field(min_length=1, max_length=40)
    contact_phone: Sealed | None = None
