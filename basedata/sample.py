"""A district's base data at scale, generated deterministically for tests and the bench.

`generate` streams records building by building in dependency order (address, building, its
households, their people, then any organisations at that address), so two million people
never sit in memory: the generator keeps a random state, a few counters and one building.
Personal fields are sealed as the importer would seal them; ID numbers carry valid check
digits and are unique within one run; phones are valid mobiles or Guangzhou land lines.

The same spec and seed give the same records (ciphers aside: each seal draws a fresh nonce,
as it must, but opens to the same value and carries the same index under the same key).
"""

from __future__ import annotations

import math
import random
import re
from array import array
from collections.abc import Generator, Iterator, Sequence
from datetime import date, timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from basedata.cycles import CheckCycles, next_check
from basedata.identity import CREDIT_ALPHABET, credit_check_char, id_check_char
from basedata.model import (
    GRID_CODE,
    Address,
    Building,
    Household,
    HouseholdKind,
    Organisation,
    OrganisationKind,
    Person,
    Record,
    RecordKind,
)
from basedata.protect import FieldCipher

SIZE_TRIALS = 7  # a non-alone occupied household has 1 + Binomial(7, p) people: 1 to 8
RENTAL_BUILDING_HOUSEHOLDS = 0.8  # rental housing clusters: 出租屋 buildings are mostly let
TENANT_MIGRANTS = 0.8  # most people renting in Guangzhou are 来穗人员
CHILD_SHARE = 0.2  # of people under 60
ID_SLOTS = 499  # sequence numbers per area, birth date and sex: 001-997 odd, 002-998 even
SPAN_DAYS = 97 * 366  # birth dates up to 96 years back, with room
NUMBERS_PER_STREET = 40
METRES_PER_DEGREE = 111_320.0

# Guangzhou's districts (registered residents); migrants come from elsewhere in China.
GUANGZHOU_AREAS = (
    "440103", "440104", "440105", "440106", "440111", "440112",
    "440113", "440114", "440115", "440117", "440118",
)
MIGRANT_AREAS = (
    "430102", "450103", "360102", "420102", "510104", "350102", "441302", "440882", "411302", "522601",
)
FAMILY_NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡钟"
GIVEN_MALE = "伟强磊军洋勇杰涛明超辉华健鹏斌俊峰浩宇志文博国荣建锋"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞玲燕红婷雪慧琳颖欣怡佳梅晶倩萍秀丹"
MOBILE_PREFIXES = (
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152",
    "158", "159", "176", "177", "180", "186", "187", "188", "189", "199",
)
STREET_HEADS = (
    "体育西", "天河北", "林和西", "华景", "龙口西", "五山", "石牌东", "员村", "猎德", "花城", "珠江东", "临江",
    "江南西", "宝岗", "昌岗", "工业大", "东晓", "南洲", "沙河", "先烈中", "东风东", "农林下", "中山五", "解放北",
)
STREET_ORDINALS = ("", *"一二三四五六七八九十")
# How often each kind of organisation occurs in the sample (shops dominate a street).
ORGANISATION_KINDS: dict[OrganisationKind, float] = {
    "shop": 0.6, "company": 0.25, "site": 0.04, "school": 0.03,
    "hospital": 0.03, "government": 0.02, "other": 0.03,
}
ORGANISATION_KINDS_LIST = list(ORGANISATION_KINDS)
ORGANISATION_WEIGHTS = list(ORGANISATION_KINDS.values())
ORGANISATION_SUFFIXES: dict[OrganisationKind, tuple[str, ...]] = {
    "shop": ("便利店", "餐馆", "五金店", "理发店", "药店", "水果店"),
    "company": ("贸易有限公司", "科技有限公司", "物业管理有限公司", "餐饮管理有限公司"),
    "site": ("建设工地",),
    "school": ("小学", "幼儿园"),
    "hospital": ("诊所", "社区卫生服务站"),
    "government": ("居民委员会", "党群服务中心"),
    "other": ("文化协会", "培训中心"),
}
ORGANISATION_WORDS = ("华润", "金源", "鸿运", "嘉禾", "永兴", "德信", "广信", "粤海", "万福", "安和")
# The first two characters of a credit code: registration authority and kind (GB 32100).
CREDIT_PREFIXES: dict[OrganisationKind, str] = {
    "shop": "92", "company": "91", "site": "91", "school": "12",
    "hospital": "12", "government": "11", "other": "52",
}


class SampleSpec(BaseModel):
    """What to generate. Shares of households count occupied households only."""

    model_config = ConfigDict(extra="forbid")

    people: int = Field(ge=0, le=100_000_000)
    seed: int = 1
    people_per_household: float = Field(default=2.6, ge=1, le=6, description="per occupied household")
    households_per_building: float = Field(default=7, ge=1, le=60)
    rental_share: float = Field(default=0.35, ge=0, le=1, description="of occupied households")
    migrant_share: float = Field(default=0.4, ge=0, le=1, description="of people: 来穗人员")
    elderly_share: float = Field(default=0.18, ge=0, le=1, description="of people aged 60 or more")
    elderly_alone_share: float = Field(default=0.06, ge=0, lt=1, description="of occupied households: 独居老人")
    vacant_share: float = Field(default=0.04, ge=0, lt=1, description="of households: nobody lives there")
    phone_share: float = Field(default=0.9, ge=0, le=1, description="of people aged 16 or more")
    people_per_organisation: float = Field(default=60, gt=0)
    overdue_share: float = Field(default=0.1, ge=0, le=1, description="of buildings, past their cycle")
    radius_m: float = Field(default=300, ge=0, le=5_000, description="points within this of the grid centre")
    as_of: date = Field(default=date(2025, 6, 30), description="the day ages and checks are reckoned from")
    cycles: CheckCycles = Field(default_factory=CheckCycles)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.as_of > date.today() + timedelta(days=1):  # a day ahead is today east of the machine
            raise ValueError("as_of must not be in the future (no one can be born after today)")
        if self.as_of.year < 2000:
            raise ValueError("as_of must be in 2000 or later (birth years start at 1900)")
        _Shares(self)  # raises ValueError when the shares cannot all hold at once
        return self


class _Shares:
    """The probabilities that make the spec's shares hold in expectation."""

    def __init__(self, spec: SampleSpec) -> None:
        alone = spec.elderly_alone_share
        others = (spec.people_per_household - alone) / (1 - alone)  # mean size of the rest
        if not 1 <= others <= 1 + SIZE_TRIALS:
            raise ValueError("people_per_household cannot be met with that elderly_alone_share")
        self.size_p = (others - 1) / SIZE_TRIALS
        single = (1 - self.size_p) ** SIZE_TRIALS  # the rest's share of one-person households
        # Elderly beyond those living alone live in households of two or more (an elderly
        # person alone is, by definition, counted in elderly_alone_share).
        shared = (1 - alone) * (others - single)
        wanted = spec.elderly_share * spec.people_per_household - alone
        if wanted < 0 or (shared <= 0 < wanted) or (shared > 0 and wanted > shared):
            raise ValueError("elderly_share cannot be met with that elderly_alone_share and household size")
        self.elderly_p = wanted / shared if shared > 0 else 0.0
        rental, migrant = spec.rental_share, spec.migrant_share
        low = (migrant - (1 - rental)) / rental if rental > 0 else 0.0
        high = migrant / rental if rental > 0 else 0.0
        self.rental_migrant_p = min(1.0, max(low, min(TENANT_MIGRANTS, high)))
        rest = migrant - self.rental_migrant_p * rental
        self.owner_migrant_p = min(1.0, max(0.0, rest / (1 - rental))) if rental < 1 else 0.0
        self.building_households = math.ceil(2 * (spec.households_per_building - 1)) or 1
        self.building_p = (spec.households_per_building - 1) / self.building_households
        letting = max(rental, RENTAL_BUILDING_HOUSEHOLDS)
        self.rental_building_p = rental / letting
        self.rental_household_p = letting


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def generate(
    grids: Sequence[tuple[str, float, float]], spec: SampleSpec, cipher: FieldCipher
) -> Iterator[tuple[RecordKind, Record]]:
    """Records for `spec.people` people spread evenly over `grids` (code, lon, lat of the
    centre), in dependency order, one building at a time."""
    if spec.people and not grids:
        raise ValueError("no grids to put the sample in")
    for code, lon, lat in grids:  # checked up front: a bad grid would fail half-way through the stream
        if not re.fullmatch(GRID_CODE, code) or not (-180 <= lon <= 180 and -89 <= lat <= 89):
            raise ValueError(f"grid {code!r} at ({lon}, {lat}): need a grid code of digits and a lon/lat")
    return _Generator(spec, cipher).run(grids)


class _Generator:
    def __init__(self, spec: SampleSpec, cipher: FieldCipher) -> None:
        self.spec = spec
        self.cipher = cipher
        self.shares = _Shares(spec)
        self.rng = random.Random(spec.seed)
        self.areas = GUANGZHOU_AREAS + MIGRANT_AREAS
        # One counter per (area, birth date, sex): 3 MB however many people, and it keeps the
        # ID numbers of one run unique (the store indexes them).
        self.issued = array("H", [0]) * (len(self.areas) * SPAN_DAYS * 2)
        ages = (16, 18, 60, 65, 96)
        self.offsets = {years: (spec.as_of - years_before(spec.as_of, years)).days for years in ages}
        self.people_done = 0
        self.next_organisation = spec.people_per_organisation
        self.organisations = 0

    def run(self, grids: Sequence[tuple[str, float, float]]) -> Iterator[tuple[RecordKind, Record]]:
        count = len(grids)
        for index, (code, lon, lat) in enumerate(grids):
            quota = self.spec.people // count + (index < self.spec.people % count)
            number = 0
            while quota > 0:
                quota -= yield from self._building(index, code, lon, lat, number, quota)
                number += 1

    def _point(self, lon: float, lat: float) -> tuple[float, float]:
        # Uniform over a disc: the square root spreads points evenly, not towards the centre.
        distance = self.spec.radius_m * math.sqrt(self.rng.random())
        angle = 2 * math.pi * self.rng.random()
        dlat = distance * math.cos(angle) / METRES_PER_DEGREE
        dlon = distance * math.sin(angle) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
        return round(lon + dlon, 6), round(lat + dlat, 6)

    def _verified(self, rental: bool) -> date:
        """A building's last check: within its cycle, or (overdue_share of them) past it."""
        cycle = self.spec.cycles.rental_days if rental else self.spec.cycles.default_days
        if self.rng.random() < self.spec.overdue_share:
            return self.spec.as_of - timedelta(days=cycle + self.rng.randint(1, 30))
        return self.spec.as_of - timedelta(days=self.rng.randint(0, cycle - 1))

    def _street(self, grid_index: int, number: int) -> str:
        street = number // NUMBERS_PER_STREET
        head = STREET_HEADS[(grid_index * 5 + street) % len(STREET_HEADS)]
        # A large grid runs out of heads and goes round again: 体育西一路, 体育西二路, …
        round_ = street // len(STREET_HEADS)
        ordinal = STREET_ORDINALS[round_] if round_ < len(STREET_ORDINALS) else str(round_)
        return f"{head}{ordinal}路{(number % NUMBERS_PER_STREET) * 2 + 1}号"

    def _plan(self, quota: int) -> tuple[list[tuple[HouseholdKind, int, bool]], bool]:
        """The building's households: (kind, people, elderly alone), and whether it is 出租屋."""
        shares, spec, rng = self.shares, self.spec, self.rng
        count = 1 + sum(rng.random() < shares.building_p for _ in range(shares.building_households))
        rental_building = rng.random() < shares.rental_building_p
        plan: list[tuple[HouseholdKind, int, bool]] = []
        for _ in range(count):
            if quota <= 0:
                break
            if rng.random() < spec.vacant_share:
                plan.append(("vacant", 0, False))
                continue
            kind: HouseholdKind = (
                "rental" if rental_building and rng.random() < shares.rental_household_p else "owner"
            )
            alone = rng.random() < spec.elderly_alone_share
            size = 1 if alone else 1 + sum(rng.random() < shares.size_p for _ in range(SIZE_TRIALS))
            plan.append((kind, min(size, quota), alone))
            quota -= size
        return plan, any(kind == "rental" for kind, _, _ in plan)

    def _building(
        self, grid_index: int, grid: str, lon: float, lat: float, number: int, quota: int
    ) -> Generator[tuple[RecordKind, Record], None, int]:
        """One building and everything in it; returns how many people it holds."""
        plan, rental = self._plan(quota)
        people = sum(size for _, size, _ in plan)
        hosts = 0  # organisations keep pace with people: one per people_per_organisation
        while self.people_done + people >= self.next_organisation:
            hosts += 1
            self.next_organisation += self.spec.people_per_organisation
        verified = self._verified(rental)
        code = f"{grid}-{number:05d}"
        address = self._address(grid_index, grid, f"A{code}", lon, lat, number, verified)
        yield "address", address
        per_floor = self.rng.randint(1, 4)
        yield "building", Building(
            code=code, address_code=address.code, floors=max(1, math.ceil(len(plan) / per_floor)),
            use="mixed" if hosts else "residential", rental=rental, lon=address.lon, lat=address.lat,
            grid_code=grid, source="sample", verified_at=verified,
            next_check_at=next_check("building", verified, rental=rental, cycles=self.spec.cycles),
        )
        households = []
        for slot, (kind, _, _) in enumerate(plan):
            room = f"{slot // per_floor + 1}{slot % per_floor + 1:02d}"  # 101, 102, …, 201
            renting = kind == "rental"
            households.append(Household(
                id=f"{code}-{room}", building_code=code, room=room, kind=kind,
                grid_code=grid, source="sample", verified_at=verified,
                next_check_at=next_check("household", verified, rental=renting, cycles=self.spec.cycles),
            ))
            yield "household", households[-1]
        for household, (_, size, alone) in zip(households, plan, strict=True):
            for member in range(size):
                yield "person", self._person(household, member, size, alone)
        self.people_done += people
        for _ in range(hosts):
            self.organisations += 1
            yield "organisation", self._organisation(f"O{grid}-{self.organisations:06d}", address)
        return people

    def _address(
        self, grid_index: int, grid: str, code: str, lon: float, lat: float, number: int, verified: date
    ) -> Address:
        x, y = self._point(lon, lat)
        return Address(
            code=code, text=self._street(grid_index, number), lon=x, lat=y,
            grid_code=grid, source="sample", verified_at=verified,
            next_check_at=next_check("address", verified, rental=False, cycles=self.spec.cycles),
        )

    def _birth_offset(self, elderly: bool, alone: bool) -> int:
        """Days between birth and as_of, by age group."""
        offsets, rng = self.offsets, self.rng
        if elderly:
            return rng.randint(offsets[65 if alone else 60], offsets[96] - 1)
        if rng.random() < CHILD_SHARE:
            return rng.randint(0, offsets[18] - 1)
        return rng.randint(offsets[18], offsets[60] - 1)

    def _id_number(self, migrant: bool, offset: int, male: bool) -> tuple[str, date]:
        rng = self.rng
        local = len(GUANGZHOU_AREAS)
        area = rng.randrange(local, len(self.areas)) if migrant else rng.randrange(local)
        bucket = (area * SPAN_DAYS + offset) * 2 + male
        while self.issued[bucket] >= ID_SLOTS:  # that birthday is full here: the day before
            offset = (offset + 1) % SPAN_DAYS
            bucket = (area * SPAN_DAYS + offset) * 2 + male
        # A fixed per-bucket start spreads sequence numbers instead of always 001, 003, …
        slot = (bucket * 2654435761 + self.issued[bucket]) % ID_SLOTS
        self.issued[bucket] += 1
        born = self.spec.as_of - timedelta(days=offset)
        body = f"{self.areas[area]}{born:%Y%m%d}{2 * slot + (1 if male else 2):03d}"
        return body + id_check_char(body), born

    def _mobile(self) -> str:
        return f"{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(100_000_000):08d}"

    def _person(self, household: Household, member: int, size: int, alone: bool) -> Person:
        spec, shares, rng = self.spec, self.shares, self.rng
        # One person on their own who is not counted as elderly-alone is under 60, so the
        # elderly-alone share is exactly what the spec says.
        elderly = alone or (size > 1 and rng.random() < shares.elderly_p)
        offset = self._birth_offset(elderly, alone)
        male = rng.random() < 0.5
        renting = household.kind == "rental"
        migrant = rng.random() < (shares.rental_migrant_p if renting else shares.owner_migrant_p)
        number, born = self._id_number(migrant, offset, male)
        phone = None
        if offset >= self.offsets[16] and rng.random() < spec.phone_share:
            phone = self.cipher.seal("phone", self._mobile())
        given = GIVEN_MALE if male else GIVEN_FEMALE
        name = rng.choice(FAMILY_NAMES) + "".join(rng.choice(given) for _ in range(rng.randint(1, 2)))
        arrival = spec.as_of - timedelta(days=rng.randint(0, min(offset, 15 * 365))) if migrant else None
        verified = household.verified_at or spec.as_of
        return Person(
            id=f"{household.id}-{member + 1}", household_id=household.id, name=name,
            id_number=self.cipher.seal("id_number", number), phone=phone, sex="M" if male else "F",
            birth_date=born, kind="migrant" if migrant else "tenant" if renting else "registered",
            arrival_date=arrival, grid_code=household.grid_code, source="sample", verified_at=verified,
            next_check_at=next_check("person", verified, rental=renting, cycles=spec.cycles),
        )

    def _organisation(self, org_id: str, address: Address) -> Organisation:
        rng = self.rng
        kind = rng.choices(ORGANISATION_KINDS_LIST, weights=ORGANISATION_WEIGHTS)[0]
        street = address.text.split("路", 1)[0]
        name = f"{street}{rng.choice(ORGANISATION_WORDS)}{rng.choice(ORGANISATION_SUFFIXES[kind])}"
        body = CREDIT_PREFIXES[kind] + rng.choice(GUANGZHOU_AREAS)
        body += "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
        landline = f"020-{rng.randint(20_000_000, 89_999_999)}"
        phone = self.cipher.seal("phone", landline if rng.random() < 0.5 else self._mobile())
        return Organisation(
            id=org_id, name=name, credit_code=body + credit_check_char(body), kind=kind,
            address_code=address.code, contact_phone=phone, grid_code=address.grid_code,
            source="sample", verified_at=address.verified_at, next_check_at=address.next_check_at,
        )
