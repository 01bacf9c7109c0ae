"""The sample district: valid records in dependency order, the spec's shares, determinism,
streaming and speed; and the re-check cycles it dates its records by."""

from __future__ import annotations

import itertools
import math
import time
import tracemalloc
from collections import Counter
from datetime import date, timedelta
from typing import TypeVar

import pytest
from pydantic import ValidationError

from basedata.cycles import CheckCycles, due, next_check
from basedata.identity import age_on, check_credit_code, check_id_number, check_phone
from basedata.model import Address, Building, Household, Organisation, Person, Record, RecordKind
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate

GRIDS = [("440106001", 113.3245, 23.1372), ("440106002", 113.3410, 23.1290), ("440104003", 113.2700, 23.1300)]
AS_OF = date(2025, 6, 30)
Records = list[tuple[RecordKind, Record]]
R = TypeVar("R", bound=Record)


@pytest.fixture(scope="module")
def cipher(tmp_path_factory: pytest.TempPathFactory) -> FieldCipher:
    return FieldCipher(FieldKey.generate(tmp_path_factory.mktemp("keys") / "basedata.key"))


@pytest.fixture(scope="module")
def records(cipher: FieldCipher) -> Records:
    return list(generate(GRIDS, SampleSpec(people=5000, seed=7, as_of=AS_OF), cipher))


def of(records: Records, kind: type[R]) -> list[R]:
    return [record for _, record in records if isinstance(record, kind)]


def test_every_personal_field_is_valid_and_sealed(records: Records, cipher: FieldCipher) -> None:
    numbers = set()
    for person in of(records, Person):
        number = cipher.open("id_number", person.id_number)
        facts = check_id_number(number)  # check digit, date, province
        assert (facts.birth_date, facts.sex) == (person.birth_date, person.sex)
        assert person.id_number.index == cipher.index("id_number", number)
        numbers.add(number)
        if person.phone is not None:
            assert check_phone(cipher.open("phone", person.phone)) == cipher.open("phone", person.phone)
    assert len(numbers) == 5000  # unique within the run: the store may index them
    for organisation in of(records, Organisation):
        assert organisation.credit_code is not None
        assert check_credit_code(organisation.credit_code) == organisation.credit_code
        assert organisation.contact_phone is not None
        check_phone(cipher.open("phone", organisation.contact_phone))


def test_records_come_in_dependency_order(records: Records) -> None:
    seen: dict[str, set[str]] = {"address": set(), "building": set(), "household": set()}
    for kind, record in records:
        assert record.source == "sample" and record.grid_code in {code for code, _, _ in GRIDS}
        if isinstance(record, Address):
            assert record.code not in seen["address"]
            seen["address"].add(record.code)
        elif isinstance(record, Building):
            assert record.address_code in seen["address"], record.code
            seen["building"].add(record.code)
        elif isinstance(record, Household):
            assert record.building_code in seen["building"], record.id
            assert record.id not in seen["household"]
            seen["household"].add(record.id)
        elif isinstance(record, Person):
            assert record.household_id in seen["household"], record.id
        else:
            assert isinstance(record, Organisation) and record.address_code in seen["address"]
        assert kind == type(record).__name__.lower()


def test_counts_follow_the_spec(records: Records) -> None:
    spec = SampleSpec(people=5000, as_of=AS_OF)
    persons, homes = of(records, Person), of(records, Household)
    occupied = [home for home in homes if home.kind != "vacant"]
    assert len(persons) == 5000
    per_grid = Counter(person.grid_code for person in persons)
    assert [per_grid[code] for code, _, _ in GRIDS] == [1667, 1667, 1666]  # an even spread
    assert len(persons) / len(occupied) == pytest.approx(spec.people_per_household, rel=0.06)
    assert len(homes) / len(of(records, Building)) == pytest.approx(spec.households_per_building, rel=0.1)
    assert len(of(records, Organisation)) == 5000 // 60
    rental = sum(home.kind == "rental" for home in occupied) / len(occupied)
    assert rental == pytest.approx(spec.rental_share, abs=0.06)
    kinds = Counter(person.kind for person in persons)
    assert kinds["migrant"] / 5000 == pytest.approx(spec.migrant_share, abs=0.04)
    assert kinds["tenant"] > 0 and kinds["registered"] > 0
    elderly = [person for person in persons if age_on(person.birth_date, AS_OF) >= 60]
    assert len(elderly) / 5000 == pytest.approx(0.18, abs=0.025)
    size = Counter(person.household_id for person in persons)
    alone = sum(1 for person in elderly if size[person.household_id] == 1)
    assert alone / len(occupied) == pytest.approx(spec.elderly_alone_share, abs=0.015)
    assert all(person.arrival_date is not None for person in persons if person.kind == "migrant")
    adults = [person for person in persons if age_on(person.birth_date, AS_OF) >= 16]
    assert sum(person.phone is not None for person in adults) / len(adults) == pytest.approx(0.9, abs=0.03)


def test_rental_buildings_and_overdue_checks(records: Records) -> None:
    buildings = of(records, Building)
    renting = {home.building_code for home in of(records, Household) if home.kind == "rental"}
    assert {building.code for building in buildings if building.rental} == renting
    overdue = sum(due(building.next_check_at, AS_OF) for building in buildings) / len(buildings)
    assert overdue == pytest.approx(0.1, abs=0.05)
    cycles = CheckCycles()
    for building in buildings:
        assert building.verified_at is not None and building.verified_at <= AS_OF
        expected = next_check("building", building.verified_at, rental=building.rental, cycles=cycles)
        assert building.next_check_at == expected


def test_points_lie_within_300_m_of_their_grid_centre(records: Records) -> None:
    centres = {code: (lon, lat) for code, lon, lat in GRIDS}
    for record in of(records, Address):
        lon, lat = centres[record.grid_code]
        dx = (record.lon - lon) * 111_320 * math.cos(math.radians(lat))
        dy = (record.lat - lat) * 111_320
        assert math.hypot(dx, dy) <= 301
        assert record.text.endswith("号") and "路" in record.text


def strip(records: Records) -> list[dict[str, object]]:
    """Records without their ciphertexts (each seal draws a fresh nonce, as it must)."""
    sealed = {"id_number": {"cipher"}, "phone": {"cipher"}, "contact_phone": {"cipher"}}
    return [record.model_dump(exclude=sealed) for _, record in records]


def test_the_same_seed_gives_the_same_district(cipher: FieldCipher) -> None:
    spec = SampleSpec(people=600, seed=3, as_of=AS_OF)
    first, second = list(generate(GRIDS, spec, cipher)), list(generate(GRIDS, spec, cipher))
    assert strip(first) == strip(second)
    assert [cipher.open("id_number", p.id_number) for p in of(first, Person)] == [
        cipher.open("id_number", p.id_number) for p in of(second, Person)
    ]
    other = list(generate(GRIDS, spec.model_copy(update={"seed": 4}), cipher))
    assert strip(other) != strip(first)


def test_it_streams(cipher: FieldCipher) -> None:
    started = time.perf_counter()
    head = list(itertools.islice(generate(GRIDS, SampleSpec(people=2_000_000, as_of=AS_OF), cipher), 200))
    assert time.perf_counter() - started < 1.0  # nothing is built up front
    assert head[0][0] == "address" and len(head) == 200
    tracemalloc.start()
    for _ in generate(GRIDS, SampleSpec(people=1500, as_of=AS_OF), cipher):
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8_000_000  # the 3 MB ID counters and one building, not the district


def test_speed_including_sealing(cipher: FieldCipher) -> None:
    spec = SampleSpec(people=10_000, as_of=AS_OF)
    started = time.perf_counter()
    count = sum(kind == "person" for kind, _ in generate(GRIDS, spec, cipher))
    rate = count / (time.perf_counter() - started)
    print(f"sample: {rate:,.0f} people/s including sealing")
    assert count == 10_000 and rate >= 3_000


def test_specs_that_cannot_hold_are_refused() -> None:
    with pytest.raises(ValidationError, match="elderly_share cannot be met"):
        SampleSpec(people=10, elderly_share=0.01, elderly_alone_share=0.2)
    with pytest.raises(ValidationError, match="people_per_household cannot be met"):
        SampleSpec(people=10, people_per_household=6, elderly_alone_share=0.3)
    with pytest.raises(ValidationError, match="as_of must not be in the future"):
        SampleSpec(people=10, as_of=date.today() + timedelta(days=2))
    SampleSpec(people=10, as_of=date.today() + timedelta(days=1))  # today in a city east of the machine
    with pytest.raises(ValidationError, match="extra"):
        SampleSpec(people=10, households=3)  # type: ignore[call-arg]
    cipher = FieldCipher(FieldKey(bytes(32)))
    with pytest.raises(ValueError, match="no grids"):
        generate([], SampleSpec(people=10), cipher)
    with pytest.raises(ValueError, match="grid 'G-1' at"):
        generate([("G-1", 113.3, 23.1)], SampleSpec(people=10), cipher)
    with pytest.raises(ValueError, match="grid '440106001' at"):
        generate([("440106001", 23.1, 113.3)], SampleSpec(people=10), cipher)  # lat and lon swapped


def test_check_cycles_by_kind_and_rental() -> None:
    cycles = CheckCycles(rental_days=31, default_days=92, person_rental_days=28)
    day = date(2025, 1, 31)
    assert next_check("building", day, rental=True, cycles=cycles) == date(2025, 3, 3)
    assert next_check("household", day, rental=True, cycles=cycles) == date(2025, 3, 3)
    assert next_check("person", day, rental=True, cycles=cycles) == date(2025, 2, 28)
    assert next_check("person", day, rental=False, cycles=cycles) == date(2025, 5, 3)
    # An address follows the default cycle even in a rental building.
    assert next_check("address", day, rental=True, cycles=cycles) == date(2025, 5, 3)
    assert next_check("organisation", day, rental=False, cycles=CheckCycles()) == date(2025, 5, 1)
    assert due(None, day) and due(day, day) and due(day, day + timedelta(days=1))
    assert not due(day + timedelta(days=1), day)
    for bad in ({"rental_days": 0}, {"default_days": 367}, {"weekly": 7}):
        with pytest.raises(ValidationError):
            CheckCycles.model_validate(bad)
