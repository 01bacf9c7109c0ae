"""Chinese identifiers checked and normalised: resident ID numbers (GB 11643-1999), phone
numbers, and unified social credit codes (GB 32100-2015).

Pure functions. Each raises `ValueError` with a short English reason and no value in it
beyond what the reason needs, because the importer puts the reason into a message that names
the file, row and column (and an ID number is personal data, never echoed whole).
"""

from __future__ import annotations

import operator
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from basedata.model import Sex

# GB 11643-1999: weight of position i (0-based, of the 17 body digits) is 2^(17-i) mod 11,
# and the check character is this table indexed by (Σ digit·weight) mod 11.
ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
ID_CHECK_CHARS = "10X98765432"
# Σ digit·2^(17-i) is 2·Σ digit·2^(16-i), and 13 ≡ 2 (mod 11): reading the body as a base-13
# number gives the same sum mod 11 in one C call (an importer checks millions).
ID_SUM_BASE = 13
PLAIN_ID = re.compile(r"[0-9]{17}[0-9Xx]", re.ASCII)  # already clean: NFKC would change nothing
# Province prefixes that issue resident ID numbers (plus 81/82/83: residence permits of Hong
# Kong, Macao and Taiwan residents), so a shifted or mistyped number fails early.
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
EARLIEST_BIRTH_YEAR = 1900
PROVINCE_DIGITS = frozenset(f"{p:02d}" for p in PROVINCES)

# GB 32100-2015: 31 characters (no I, O, S, V, Z: they read as 1, 0, 5, U, 2), weights 3^i mod 31.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_VALUES = {char: value for value, char in enumerate(CREDIT_ALPHABET)}
CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

MOBILE = re.compile(r"1[3-9]\d{9}", re.ASCII)
# Land lines: Beijing (010) and the 02x cities have 3-digit area codes, every other 4 digits;
# the subscriber number has 7 or 8 digits.
LANDLINE = re.compile(r"(0\d{2,3})-(\d{7,8})", re.ASCII)
MARKED_AREA = re.compile(r"\((0\d{2,3})\)|(0\d{2,3})[\s-]", re.ASCII)
SEPARATORS = re.compile(r"[\s\-()]")


@dataclass(frozen=True, slots=True)
class IdFacts:
    """What an ID number says: the number as normalised (upper-case X), birth date and sex."""

    number: str
    birth_date: date
    sex: Sex


def _clean(text: str) -> str:
    # NFKC turns full-width digits and letters (common in Chinese spreadsheets) into ASCII.
    return "".join(unicodedata.normalize("NFKC", text).split())


def id_check_char(body: str) -> str:
    """The check character for the first 17 digits of an ID number."""
    if len(body) != 17 or not body.isascii() or not body.isdigit():
        raise ValueError("ID number body must be 17 digits")
    return ID_CHECK_CHARS[2 * int(body, ID_SUM_BASE) % 11]


def id_weighted_sum(body: str) -> int:
    """Σ digit × weight of GB 11643, the long way (the definition id_check_char shortens)."""
    return sum(map(operator.mul, map(int, body), ID_WEIGHTS))


def check_id_number(text: str, *, today: date | None = None) -> IdFacts:
    """A resident ID number checked: 18 characters, a known province, a real birth date
    between 1900 and `today`, and the MOD 11-2 check character."""
    number = text.upper() if PLAIN_ID.fullmatch(text) else _clean(text).upper()
    if len(number) != 18:
        raise ValueError(f"ID number must have 18 characters, not {len(number)}")
    body, check = number[:17], number[17]
    if not body.isascii() or not body.isdigit() or check not in ID_CHECK_CHARS:
        raise ValueError("ID number must be 17 digits and a check character (0-9 or X)")
    if int(body[:2]) not in PROVINCES:
        raise ValueError(f"area code {body[:6]} names no province")
    birth_date = _birth_date(body[6:14], today or date.today())
    expected = id_check_char(body)
    if check != expected:
        raise ValueError(f"bad check digit (expected {expected})")
    sex: Sex = "M" if int(body[14:17]) % 2 else "F"
    return IdFacts(number=number, birth_date=birth_date, sex=sex)


class IdNumbers:
    """check_id_number for millions of numbers against one `today` (an import): the same
    numbers pass, each as (number, birth date ISO, sex, the number as an int: an identity
    for duplicates); any other raises ValueError, without the words, which check_id_number
    has. A number already clean takes the short way: each birth date checked once a run
    (a district's two million share ~36,000), the province by its two digits."""

    __slots__ = ("_born", "today")

    def __init__(self, today: date) -> None:
        self.today = today
        self._born: dict[str, str] = {}

    def check(self, text: str) -> tuple[str, str, Sex, int]:
        if not PLAIN_ID.fullmatch(text):  # full-width, spaced…: the long way
            facts = check_id_number(text, today=self.today)
            return facts.number, facts.birth_date.isoformat(), facts.sex, int(facts.number[:17])
        number = text.upper()
        body = number[:17]
        if body[:2] not in PROVINCE_DIGITS:
            raise ValueError("area")
        born = self._born.get(body[6:14]) or self._birth(body[6:14])
        if ID_CHECK_CHARS[2 * int(body, ID_SUM_BASE) % 11] != number[17]:
            raise ValueError("check digit")
        return number, born, "M" if int(body[14:17]) % 2 else "F", int(body)

    def _birth(self, digits: str) -> str:
        born = _birth_date(digits, self.today).isoformat()
        if len(self._born) < 100_000:
            self._born[digits] = born
        return born


def _birth_date(digits: str, today: date) -> date:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise ValueError(f"birth date {digits} is not a date") from None
    if born.year < EARLIEST_BIRTH_YEAR:
        raise ValueError(f"birth date {digits} is before {EARLIEST_BIRTH_YEAR}")
    if born > today:
        raise ValueError(f"birth date {digits} is in the future")
    return born


def check_phone(text: str) -> str:
    """A mainland mobile (11 digits; a +86, 86 or 0086 prefix, spaces and dashes dropped) or a
    land line normalised to `<area code>-<number>`, e.g. 020-87654321."""
    if MOBILE.fullmatch(text):  # the usual cell: already a bare mobile (what follows would keep it as is)
        return text
    cleaned = unicodedata.normalize("NFKC", text).strip()
    digits = SEPARATORS.sub("", cleaned)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    if MOBILE.fullmatch(digits):
        return digits
    if digits.startswith("1"):
        raise ValueError("mobile number must be 11 digits starting 13-19")
    return _landline(cleaned, digits)


def _landline(cleaned: str, digits: str) -> str:
    # An area code the writer marked (followed by a dash or space, or in parentheses) is kept;
    # otherwise its length follows the numbering plan: 3 digits for 010 and 02x, else 4.
    if not digits.isascii() or not digits.isdigit() or not digits.startswith("0"):
        raise ValueError("phone must be a mobile (1xxxxxxxxxx) or a land line (0xx-xxxxxxxx)")
    marked = MARKED_AREA.match(cleaned)
    if marked:
        area = marked.group(1) or marked.group(2)
    else:
        area = digits[: 3 if digits.startswith(("010", "02")) else 4]
    match = LANDLINE.fullmatch(f"{area}-{digits[len(area) :]}")
    if match is None:
        raise ValueError("land line must be an area code (0xx or 0xxx) and 7 or 8 digits")
    return f"{match.group(1)}-{match.group(2)}"


def credit_check_char(body: str) -> str:
    """The check character for the first 17 characters of a unified social credit code."""
    if len(body) != 17:
        raise ValueError("credit code body must have 17 characters")
    total = 0
    for position, (char, weight) in enumerate(zip(body, CREDIT_WEIGHTS, strict=True), start=1):
        if char not in CREDIT_VALUES:
            raise ValueError(f"credit code character {char!r} at position {position} is not allowed")
        total += CREDIT_VALUES[char] * weight
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def check_credit_code(text: str) -> str:
    """A unified social credit code (统一社会信用代码) checked and upper-cased."""
    code = _clean(text).upper()
    if len(code) != 18:
        raise ValueError(f"credit code must have 18 characters, not {len(code)}")
    expected = credit_check_char(code[:17])
    if code[17] not in CREDIT_VALUES:
        raise ValueError(f"credit code character {code[17]!r} at position 18 is not allowed")
    if code[17] != expected:
        raise ValueError(f"bad check character (expected {expected})")
    return code


def age_on(birth_date: date, day: date) -> int:
    """Whole years lived on `day` (someone born on 29 February turns a year older on 1 March
    in common years)."""
    if day < birth_date:
        raise ValueError(f"{day.isoformat()} is before the birth date {birth_date.isoformat()}")
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - before_birthday
