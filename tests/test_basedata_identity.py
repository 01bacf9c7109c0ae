"""Chinese identifiers: resident ID numbers (GB 11643), phones, credit codes (GB 32100), ages.

The valid examples are checked by hand in the comments, not by the function under test.
"""

from __future__ import annotations

from datetime import date

import pytest

from basedata.identity import IdFacts, age_on, check_credit_code, check_id_number, check_phone

# GB 11643 weights, position 1..17: 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2; check = "10X98765432"[Σ mod 11].


def test_the_standards_own_example_with_an_x_check_character() -> None:
    # 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2 → 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167;
    # 167 mod 11 = 2 → "10X98765432"[2] = X. Sequence 002 is even: female. Born 1949-12-31.
    facts = check_id_number("11010519491231002X")
    assert facts == IdFacts(number="11010519491231002X", birth_date=date(1949, 12, 31), sex="F")
    # A lower-case x, spaces and full-width digits (as typed in Chinese spreadsheets) normalise.
    assert check_id_number(" 110105 19491231 002x ").number == "11010519491231002X"
    assert check_id_number("１１０１０５１９４９１２３１００２Ｘ").number == "11010519491231002X"


def test_a_tianhe_man_and_a_leap_day_girl() -> None:
    # 4 4 0 1 0 6 1 9 9 0 0 3 0 7 1 2 3 → 28+36+0+5+0+24+2+9+54+0+0+27+0+35+8+8+6 = 242;
    # 242 mod 11 = 0 → "1". Sequence 123 is odd: male.
    assert check_id_number("440106199003071231") == IdFacts("440106199003071231", date(1990, 3, 7), "M")
    # 4 4 0 1 0 6 2 0 0 0 0 2 2 9 0 0 4 → 28+36+0+5+0+24+4+0+0+0+0+18+20+45+0+0+8 = 188;
    # 188 mod 11 = 1 → "0". 2000 is a leap year (divisible by 400); sequence 004: female.
    assert check_id_number("440106200002290040") == IdFacts("440106200002290040", date(2000, 2, 29), "F")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("440106199003071232", r"bad check digit \(expected 1\)"),
        ("44010620000229004X", r"bad check digit \(expected 0\)"),
        ("44010619900307123", "ID number must have 18 characters, not 17"),
        ("4401061990030712311", "must have 18 characters, not 19"),
        ("", "must have 18 characters, not 0"),
        ("44010619900230123X", "birth date 19900230 is not a date"),  # 30 February
        ("440106199902290041", "birth date 19990229 is not a date"),  # 1999 is no leap year
        ("440106199013071231", "birth date 19901307 is not a date"),
        ("440106209901011231", "birth date 20990101 is in the future"),
        ("440106189912311231", "birth date 18991231 is before 1900"),
        ("990106199003071231", "area code 990106 names no province"),
        ("4401061990030712A1", "17 digits and a check character"),
        ("44010619900307123Y", "17 digits and a check character"),
    ],
)
def test_bad_id_numbers_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_id_number(text)


def test_future_is_measured_from_the_day_given() -> None:
    with pytest.raises(ValueError, match="in the future"):
        check_id_number("440106199003071231", today=date(1990, 3, 6))
    assert check_id_number("440106199003071231", today=date(1990, 3, 7)).birth_date == date(1990, 3, 7)


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("0086-19912345678", "19912345678"),
        ("020-87654321", "020-87654321"),
        ("02087654321", "020-87654321"),  # 02x: a 3-digit area code
        ("(020) 8765 4321", "020-87654321"),
        ("010 1234567", "010-1234567"),
        ("07551234567", "0755-1234567"),  # other cities: 4-digit area codes
        ("0755-12345678", "0755-12345678"),
        ("０２０－８７６５４３２１", "020-87654321"),
    ],
)
def test_phones_normalise(text: str, normalised: str) -> None:
    assert check_phone(text) == normalised


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1381234567", "mobile number must be 11 digits"),  # 10 digits
        ("12812345678", "mobile number must be 11 digits starting 13-19"),  # 12x is no mobile range
        ("138123456789", "mobile number must be 11 digits"),
        ("075-512345678", "land line must be an area code"),  # the dash says 075, 9 digits follow
        ("020-123456", "land line must be an area code"),  # 6-digit number
        ("87654321", "mobile .* or a land line"),  # no area code
        ("020-8765432x", "mobile .* or a land line"),
        ("", "mobile .* or a land line"),
    ],
)
def test_bad_phones_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_phone(text)


# GB 32100 weights, position 1..17: 3^i mod 31 = 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28;
# letters count from A=10 skipping I O S V Z; check = alphabet[(31 - Σ mod 31) mod 31].


def test_credit_codes_checked_by_hand() -> None:
    # The standard's example 91350100M000100Y4|3: values 9 1 3 5 0 1 0 0 M=21 0 0 0 1 0 0 Y=30 4 →
    # 9+3+27+135+0+26+0+0+420+0+0+0+8+0+0+900+112 = 1640; 1640 mod 31 = 28; 31-28 = 3 → "3".
    assert check_credit_code("91350100M000100Y43") == "91350100M000100Y43"
    # 9144030071526726X|G: 9 1 4 4 0 3 0 0 7 1 5 2 6 7 2 6 X=29 →
    # 9+3+36+108+0+78+0+0+140+29+125+26+48+168+20+180+812 = 1782; 1782 mod 31 = 15; 31-15 = 16 → G.
    assert check_credit_code(" 9144030071526726xg ") == "9144030071526726XG"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("91350100M000100Y44", r"bad check character \(expected 3\)"),
        ("91350100M000100Y4", "must have 18 characters, not 17"),
        ("91350100I000100Y43", "character 'I' at position 9 is not allowed"),  # I reads as 1
        ("91350100M000100Y4O", "character 'O' at position 18 is not allowed"),
    ],
)
def test_bad_credit_codes_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_credit_code(text)


def test_ages_turn_on_the_birthday() -> None:
    born = date(1990, 3, 7)
    assert age_on(born, date(2020, 3, 6)) == 29
    assert age_on(born, date(2020, 3, 7)) == 30
    assert age_on(born, born) == 0
    leap = date(2000, 2, 29)
    assert age_on(leap, date(2001, 2, 28)) == 0  # not yet: the birthday falls on 1 March
    assert age_on(leap, date(2001, 3, 1)) == 1
    assert age_on(leap, date(2004, 2, 29)) == 4
    with pytest.raises(ValueError, match="before the birth date"):
        age_on(born, date(1990, 3, 6))
