"""The bulk import's row checks: one row's cells straight into its table's columns, no model
and no dict per row (importing/basedata_fast.py calls them).

The rules are the model path's (importing/basedata_models.py readers): the same cell
parsers (basedata_columns: codes, texts within LIMITS, numbers, choices, dates; basedata.
identity: ID numbers, phones, credit codes), the same defaults. A row any of them refuses
raises ValueError here, and the caller reads it again through the model path, which names
every problem it has: so only good rows are done here, and at full speed: each ID number
checked once and sealed once (its check is its normalisation), dates parsed once a run
(a district repeats a few thousand), the sealed fields as their three columns.

`values` of a row are its table's columns in FIELDS' order; the key is first, then grid
(None: the parent's, filled in later), verified_at and next_check_at (None: counted later).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from basedata.identity import IdNumbers, check_credit_code, check_phone
from basedata.protect import BulkSealer, FieldCipher
from command_center.importing import basedata_columns as bc
from command_center.importing.basedata_models import Run, person_id
from command_center.importing.tables import normalize_header

FIELDS: dict[str, tuple[str, ...]] = {
    "address": ("code", "grid_code", "verified_at", "next_check_at", "text", "lon", "lat"),
    "building": ("code", "grid_code", "verified_at", "next_check_at", "address_code", "name", "floors", "use",
                 "rental", "lon", "lat"),
    "household": ("id", "grid_code", "verified_at", "next_check_at", "building_code", "room", "kind"),
    "person": ("id", "grid_code", "verified_at", "next_check_at", "household_id", "name", "id_number_cipher",
               "id_number_index", "id_number_tail", "phone_cipher", "phone_index", "phone_tail", "sex", "birth_date",
               "kind", "arrival_date"),
    "organisation": ("id", "grid_code", "verified_at", "next_check_at", "name", "credit_code", "kind",
                     "address_code", "contact_phone_cipher", "contact_phone_index", "contact_phone_tail"),
}  # fmt: skip
STAMPS = ("source", "version", "created_at", "updated_at", "updated_by")  # the same on every row of an import
DATES_KEPT = 200_000  # distinct date cells remembered a run (birth dates span ~36,000 days)
NONE3 = (None, None, None)

# One row's check: its cells → (values, parent key, the ID number as a number for people).
Parse = Callable[[list[str]], tuple[list[Any], str | None, int | None]]


class Cells1:
    """What the checks of one run share: today, the grids, parsed dates, the cipher."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.today = run.today
        self.today_iso = run.today.isoformat()
        self.grids = run.grid_codes
        self._past = bc.past_date(run.today)
        self._dates: dict[str, str] = {}
        self._later: dict[tuple[str, int], str] = {}
        self._sealer: BulkSealer | None = None
        self.ids = IdNumbers(run.today)

    def date(self, text: str) -> str:
        """A date cell as ISO text; ValueError as basedata_columns.past_date says."""
        found = self._dates.get(text)
        if found is None:
            found = self._past(text).isoformat()
            if len(self._dates) < DATES_KEPT:
                self._dates[text] = found
        return found

    def verified(self, text: str) -> str:
        return self.date(text) if text else self.today_iso

    def grid(self, text: str) -> str | None:
        if not text:
            return None  # the parent's
        if text not in self.grids:
            raise ValueError(text)
        return text

    def later(self, day: str, days: int) -> str:
        """`day` plus `days`, ISO (the next check: a few hundred distinct a run)."""
        found = self._later.get((day, days))
        if found is None:
            found = self._later[day, days] = (date.fromisoformat(day) + timedelta(days=days)).isoformat()
        return found

    def cipher(self) -> FieldCipher:
        return self.run.cipher()

    def sealer(self) -> BulkSealer:
        """One sealer for the run's thread (its nonces drawn in bulk); made at first use, as
        the key may be missing and only a file with personal fields needs it."""
        if self._sealer is None:
            self._sealer = self.run.cipher().bulk()
        return self._sealer


def choice(values: dict[str, str], text: str, default: str) -> str:
    """basedata_columns.choice without its message: KeyError sends the row to the model path."""
    return values[normalize_header(text)] if text else default


def _fits(text: str, kind: str, column: str) -> str:
    if len(text) > bc.LIMITS[kind, column]:
        raise ValueError(column)
    return text


def _required(text: str, kind: str, column: str) -> str:
    if not text:
        raise ValueError(column)
    return _fits(text, kind, column)


LONGITUDE, LATITUDE = bc.coordinate("longitude", 180), bc.coordinate("latitude", 90)


def _positions(at: dict[str, int], columns: str) -> list[int]:
    """Where each of these columns is in a row (a parse reads its cells by position)."""
    return [at[column] for column in columns.split()]


FLOORS = bc.whole(1, 200)


def address(at: dict[str, int], ck: Cells1) -> Parse:
    i = _positions(at, "code grid_code verified_at text lon lat")

    def parse(c: list[str]) -> tuple[list[Any], str | None, int | None]:
        grid = ck.grid(c[i[1]])
        if grid is None:
            raise ValueError("grid_code")  # required: no parent to take it from
        text = _required(c[i[3]], "address", "text")
        values = [
            bc.code(c[i[0]]),
            grid,
            ck.verified(c[i[2]]),
            None,
            text,
            LONGITUDE(c[i[4]]),
            LATITUDE(c[i[5]]),
        ]
        return values, None, None

    return parse


def building(at: dict[str, int], ck: Cells1) -> Parse:
    i = _positions(at, "code grid_code verified_at address_code name floors use rental lon lat")

    def parse(c: list[str]) -> tuple[list[Any], str | None, int | None]:
        parent = bc.code(c[i[3]])
        rental = bc.yes_no(c[i[7]]) if c[i[7]] else False
        values = [bc.code(c[i[0]]), ck.grid(c[i[1]]), ck.verified(c[i[2]]), None, parent,
                  _fits(c[i[4]], "building", "name"), FLOORS(c[i[5]]), choice(bc.USES, c[i[6]], "residential"),
                  rental, LONGITUDE(c[i[8]]), LATITUDE(c[i[9]])]  # fmt: skip
        return values, parent, None

    return parse


def household(at: dict[str, int], ck: Cells1) -> Parse:
    i = _positions(at, "id grid_code verified_at building_code room kind")

    def parse(c: list[str]) -> tuple[list[Any], str | None, int | None]:
        parent, room = bc.code(c[i[3]]), _required(c[i[4]], "household", "room")
        key = _fits(c[i[0]], "household", "id") or f"{parent}-{room}"  # the model's own form
        values = [key, ck.grid(c[i[1]]), ck.verified(c[i[2]]), None, parent, room,
                  choice(bc.HOUSEHOLD_KINDS, c[i[5]], "owner")]  # fmt: skip
        return values, parent, None

    return parse


def person(at: dict[str, int], ck: Cells1, sealing: bool = True) -> Parse:
    """A person's row; `sealing` False (a rescan for where a key first was): the key only."""
    i = _positions(
        at, "id grid_code verified_at household_id name id_number phone sex birth_date kind arrival_date"
    )
    check_id, date_of = ck.ids.check, ck.date
    limits = [bc.LIMITS["person", column] for column in ("id", "household_id", "name")]

    def parse(c: list[str]) -> tuple[list[Any], str | None, int | None]:
        key, parent, name = c[i[0]], c[i[3]], c[i[4]]
        if len(key) > limits[0] or not parent or len(parent) > limits[1] or not name or len(name) > limits[2]:
            raise ValueError("id, household_id or name")
        number, born, sex, ident = check_id(c[i[5]])  # once: the number is checked and normalised
        if (c[i[7]] and bc.SEXES.get(normalize_header(c[i[7]])) != sex) or (
            c[i[8]] and date_of(c[i[8]]) != born
        ):
            raise ValueError("sex or birth date not the ID number's")
        phone = check_phone(c[i[6]]) if c[i[6]] else None
        kind = choice(bc.PERSON_KINDS, c[i[9]], "registered")
        arrival = date_of(c[i[10]]) if c[i[10]] else None
        grid, verified = ck.grid(c[i[1]]), ck.verified(c[i[2]])
        if not sealing:
            return [key or person_id(ck.cipher().index("id_number", number))], parent, ident
        seal = ck.sealer().seal
        sealed = seal("id_number", number)
        values = [key or person_id(sealed[1]), grid, verified, None, parent, name, *sealed,
                  *(seal("phone", phone) if phone else NONE3), sex, born, kind, arrival]  # fmt: skip
        return values, parent, ident  # the ID number's identity, for duplicates

    return parse


def organisation(at: dict[str, int], ck: Cells1) -> Parse:
    i = _positions(at, "id grid_code verified_at name credit_code kind address_code contact_phone")

    def parse(c: list[str]) -> tuple[list[Any], str | None, int | None]:
        name, parent = _required(c[i[3]], "organisation", "name"), bc.code(c[i[6]])
        credit = check_credit_code(c[i[4]]) if c[i[4]] else None
        key = _fits(c[i[0]], "organisation", "id") or credit
        if not key:
            raise ValueError("id")
        phone = check_phone(c[i[7]]) if c[i[7]] else None
        sealed = ck.sealer().seal("phone", phone) if phone else NONE3
        values = [key, ck.grid(c[i[1]]), ck.verified(c[i[2]]), None, name, credit,
                  choice(bc.ORGANISATION_KINDS, c[i[5]], "shop"), parent, *sealed]  # fmt: skip
        return values, parent, None

    return parse


PARSERS: dict[str, Callable[[dict[str, int], Cells1], Parse]] = {
    "address": address, "building": building, "household": household, "person": person,
    "organisation": organisation,
}  # fmt: skip
# Where a row's own rental flag is (buildings: the rental column; households: kind).
RENTAL_AT = {"building": FIELDS["building"].index("rental"), "household": FIELDS["household"].index("kind")}
