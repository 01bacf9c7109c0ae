"""Rule kinds: one registry from a zone's rule names to rule objects."""

from __future__ import annotations

from collections.abc import Callable

from vision.config import RulesConfig, ZoneConfig
from vision.rules.base import Hit, Rule
from vision.rules.dwell import DwellRule

RuleFactory = Callable[[str, ZoneConfig, RulesConfig], Rule]

# Until the trained model lands, every zone rule is a dwell rule over the labels it is about.
_DEFAULT_LABELS: dict[str, frozenset[str] | None] = {
    "dwell": None,
    "illegal_parking": frozenset({"vehicle"}),
    "loitering": frozenset({"person"}),
    "dumping": None,
    "stall": None,
    "fallen_person": None,
    "crowding": None,
    "zone_intrusion": None,
    "fire": None,
}


def _dwell(rule: str, zone: ZoneConfig, rules: RulesConfig) -> Rule:
    labels = frozenset(zone.labels) if zone.labels is not None else _DEFAULT_LABELS[rule]
    # Intrusion fires on entry; loitering is moving about; the others are things that stay put.
    dwell = 0.0 if rule == "zone_intrusion" else (zone.dwell_s or rules.dwell_s)
    stationary = rule not in ("zone_intrusion", "loitering")
    return DwellRule(rule, zone.name, zone.polygon, dwell, labels, rules.cooldown_s, stationary)


_RULES: dict[str, RuleFactory] = {name: _dwell for name in _DEFAULT_LABELS}


def register(name: str, factory: RuleFactory) -> None:
    _RULES[name] = factory


def known_rules() -> list[str]:
    return sorted(_RULES)


def build_rules(zones: list[ZoneConfig], config: RulesConfig) -> list[Rule]:
    out: list[Rule] = []
    for zone in zones:
        for rule in zone.rules:
            if rule not in _RULES:
                raise ValueError(f"zone {zone.name!r}: unknown rule {rule!r}; known: {', '.join(known_rules())}")
            out.append(_RULES[rule](rule, zone, config))
    return out


__all__ = ["Hit", "Rule", "DwellRule", "build_rules", "known_rules", "register"]
