"""A special-group ledger for the sample's people (basedata.sample), generated deterministically:
the care-demand forecast's backtest and tests need a ledger with a history, and the sample
has none.

From the same stream of records the sample yields (a household's people come one after the
other), each person may join groups with rates of the order Guangzhou's community ledgers
show (assumed, not measured: a sample, not a census):
- 独居老人: 70 % of the people aged 60 or more who live alone (a household of one);
- 残疾人: 2 % of everyone, 6 % of the elderly; 低保: 1.5 %; 特困: 0.3 %, 1 % of the elderly;
  严重精神障碍患者: 0.4 %; 困境儿童: 0.5 % of those under 18.
Half the members joined before the window of `quarters` quarters ending today; the others
joined inside it at a rate growing by `growth` a quarter (an ageing population), on days
drawn at random: a history with a trend and Poisson-like noise, to forecast and backtest.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from basedata.care import CareGroup, CarePolicy, Membership, new_membership
from basedata.forecast import Quarter
from basedata.model import Person, Record
from basedata.sample import years_before

LONG_AGO_DAYS = 5 * 365  # members from before the window joined up to this long before it
# (group, share of everyone, share of the elderly or None for the same)
RATES: tuple[tuple[CareGroup, float, float | None], ...] = (
    ("disabled", 0.02, 0.06),
    ("dibao", 0.015, None),
    ("tekun", 0.003, 0.01),
    ("mental_illness", 0.004, None),
)
ALONE_ENROLLED = 0.7
CHILD_IN_NEED = 0.005
BEFORE_WINDOW = 0.5


@dataclass(frozen=True, slots=True)
class LedgerSpec:
    today: date
    quarters: int = 8  # the window of joining dates before today
    growth: float = 0.12  # the joining rate's rise per quarter, as a share of the first quarter's
    seed: int = 11


def _households(records: Iterable[tuple[str, Record]]) -> Iterator[list[Person]]:
    """The people of each household, as the sample streams them (consecutively)."""
    current: list[Person] = []
    for kind, record in records:
        if kind != "person" or not isinstance(record, Person):
            continue
        if current and current[0].household_id != record.household_id:
            yield current
            current = []
        current.append(record)
    if current:
        yield current


class _Days:
    """Joining days: before the window, or inside it weighted by quarter (a rising rate)."""

    def __init__(self, spec: LedgerSpec, rng: random.Random) -> None:
        self.rng = rng
        last = Quarter.of(spec.today)
        self.quarters = [last.shift(-n) for n in range(spec.quarters - 1, -1, -1)]
        self.weights = [1 + spec.growth * i for i in range(spec.quarters)]
        self.today = spec.today

    def draw(self) -> date:
        first = self.quarters[0].start
        if self.rng.random() < BEFORE_WINDOW:
            return first - timedelta(days=self.rng.randint(1, LONG_AGO_DAYS))
        quarter = self.rng.choices(self.quarters, self.weights)[0]
        end = min(quarter.end, self.today + timedelta(days=1))
        return quarter.start + timedelta(days=self.rng.randrange(max(1, (end - quarter.start).days)))


def _groups(person: Person, alone: bool, today: date, rng: random.Random) -> list[CareGroup]:
    elderly = person.birth_date <= years_before(today, 60)
    child = person.birth_date > years_before(today, 18)
    groups: list[CareGroup] = []
    if elderly and alone and rng.random() < ALONE_ENROLLED:
        groups.append("elderly_alone")
    for group, everyone, old in RATES:
        if rng.random() < (old if elderly and old is not None else everyone):
            groups.append(group)
    if child and rng.random() < CHILD_IN_NEED:
        groups.append("child_in_need")
    return groups


def memberships(
    records: Iterable[tuple[str, Record]], spec: LedgerSpec, policy: CarePolicy
) -> Iterator[Membership]:
    """The ledger of the sample's people: one membership per person and group, visited on
    time (the last visit within the group's period before today)."""
    rng = random.Random(spec.seed)
    days = _Days(spec, rng)
    for household in _households(records):
        for person in household:
            for group in _groups(person, len(household) == 1, spec.today, rng):
                since = days.draw()
                every = policy.every(group)
                last = max(since, spec.today - timedelta(days=rng.randrange(every)))
                yield new_membership(
                    f"M-{person.id}-{group}"[:80], person.id, group, person.grid_code, since, policy,
                    last_visit_at=last, next_visit_due=last + timedelta(days=every),
                )  # fmt: skip
