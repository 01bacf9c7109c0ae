"""Rule kinds: one registry from a zone's rule names to rule objects.

Each rule maps to a matter type of the catalog by its name (the catalog's `rules`).
"""

from __future__ import annotations

from collections.abc import Callable

from vision.config import RulesConfig, ZoneConfig
from vision.rules.base import Hit, Rule
from vision.rules.crowd import CrowdRule
from vision.rules.dwell import DwellRule
from vision.rules.fallen import FallenRule
from vision.rules.line import LineRule
from vision.rules.presence import PresenceRule
from vision.rules.standing import StandingRule

RuleFactory = Callable[[str, ZoneConfig, RulesConfig], Rule]

PEOPLE = frozenset({"person"})
MOVERS = frozenset({"person", "vehicle", "bicycle"})


def _labels(zone: ZoneConfig, default: frozenset[str] | None) -> frozenset[str] | None:
    return frozenset(zone.labels) if zone.labels is not None else default


def _staying(default: frozenset[str] | None) -> RuleFactory:
    """Something that stays put in the zone: parked vehicles, dumped garbage, stalls."""

    def build(rule: str, zone: ZoneConfig, cfg: RulesConfig) -> Rule:
        dwell = zone.dwell_s or cfg.dwell_s
        return DwellRule(rule, zone.name, zone.polygon, dwell, _labels(zone, default), cfg.cooldown_s, stationary=True)

    return build


def _standing(default: frozenset[str]) -> RuleFactory:
    """A condition of the place that stays until someone deals with it (vision/rules/standing.py):
    judged per spot, so a detector that misses it now and then still reports it."""

    def build(rule: str, zone: ZoneConfig, cfg: RulesConfig) -> Rule:
        hold = zone.dwell_s or cfg.dwell_s
        labels = _labels(zone, default) or default
        return StandingRule(rule, zone.name, zone.polygon, hold, labels, cfg.cooldown_s, cfg.standing_coverage)

    return build


def _intrusion(rule: str, zone: ZoneConfig, cfg: RulesConfig) -> Rule:
    dwell = zone.dwell_s or 0.0
    return DwellRule(rule, zone.name, zone.polygon, dwell, _labels(zone, MOVERS), cfg.cooldown_s, stationary=False)


def _loitering(rule: str, zone: ZoneConfig, cfg: RulesConfig) -> Rule:
    dwell = zone.dwell_s or cfg.dwell_s
    return DwellRule(rule, zone.name, zone.polygon, dwell, _labels(zone, PEOPLE), cfg.cooldown_s, stationary=False)


def _crowding(rule: str, zone: ZoneConfig, cfg: RulesConfig) -> Rule:
    count = zone.min_count or cfg.crowd_count
    hold = zone.dwell_s if zone.dwell_s is not None else cfg.crowd_s
    return CrowdRule(rule, zone.name, zone.polygon, count, hold, _labels(zone, PEOPLE) or PEOPLE, cfg.cooldown_s)


def _fire(rule: str, zone: ZoneConfig, cfg: RulesConfig) -> Rule:
    labels = _labels(zone, frozenset({"fire", "smoke"})) or frozenset({"fire", "smoke"})
    return PresenceRule(rule, zone.name, zone.polygon, labels, cfg.fire_frames, cooldown_s=cfg.cooldown_s)


def _smoke(rule: str, zone: ZoneConfig, cfg: RulesConfig) -> Rule:
    labels = _labels(zone, frozenset({"smoke"})) or frozenset({"smoke"})
    return PresenceRule(rule, zone.name, zone.polygon, labels, cfg.fire_frames, cooldown_s=cfg.cooldown_s)


def _piled_up(default: frozenset[str], count: int) -> RuleFactory:
    """Many of one thing left standing together (shared bikes): a crowd of still objects."""

    def build(rule: str, zone: ZoneConfig, cfg: RulesConfig) -> Rule:
        hold = zone.dwell_s if zone.dwell_s is not None else cfg.dwell_s
        labels = _labels(zone, default) or default
        return CrowdRule(rule, zone.name, zone.polygon, zone.min_count or count, hold, labels, cfg.cooldown_s)

    return build


def _fallen(rule: str, zone: ZoneConfig, cfg: RulesConfig) -> Rule:
    down = zone.dwell_s if zone.dwell_s is not None else cfg.fallen_s
    return FallenRule(rule, zone.name, zone.polygon, down, _labels(zone, PEOPLE) or PEOPLE, cfg.cooldown_s)


def _line(rule: str, zone: ZoneConfig, cfg: RulesConfig) -> Rule:
    if zone.line is None:
        raise ValueError(f"zone {zone.name!r}: line_crossing needs a 'line'")
    return LineRule(rule, zone.name, zone.line, zone.direction, _labels(zone, MOVERS))


_RULES: dict[str, RuleFactory] = {
    "dwell": _staying(None),  # anything that stays: the motion detector's rule
    "illegal_parking": _staying(frozenset({"vehicle"})),
    "dumping": _staying(frozenset({"garbage"})),
    "stall": _staying(frozenset({"stall"})),
    # Conditions of the street that stay until someone deals with them, one detector class each.
    "overflowing_bin": _standing(frozenset({"overflowing_bin"})),
    "construction_waste": _standing(frozenset({"construction_waste"})),
    "piled_goods": _standing(frozenset({"piled_goods"})),
    "banner": _standing(frozenset({"banner"})),
    "laundry": _standing(frozenset({"laundry"})),
    "waterlogging": _standing(frozenset({"waterlogging"})),
    "fallen_tree": _standing(frozenset({"fallen_tree"})),
    "road_damage": _standing(frozenset({"pothole"})),
    "open_manhole": _standing(frozenset({"open_manhole"})),
    "fire_lane": _staying(frozenset({"vehicle"})),  # any vehicle left in a fire lane's zone
    "bike_pileup": _piled_up(frozenset({"bicycle"}), 5),
    "zone_intrusion": _intrusion,
    "label": _intrusion,  # any label present in the zone: set the zone's labels
    "loitering": _loitering,
    "crowding": _crowding,
    "fire": _fire,
    "smoke": _smoke,
    "fallen_person": _fallen,
    "line_crossing": _line,
}


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
            if (rule == "line_crossing") != (zone.line is not None):
                needs = "a 'line'" if rule == "line_crossing" else "a 'polygon'"
                raise ValueError(f"zone {zone.name!r}: rule {rule!r} needs {needs}")
            out.append(_RULES[rule](rule, zone, config))
    return out


__all__ = ["Hit", "Rule", "DwellRule", "build_rules", "known_rules", "register"]
