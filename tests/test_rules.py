"""Incident rules on synthetic tracks: each fires when it should, once, and not otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from command_center.config import ConfigError, load_config
from vision.config import RulesConfig, ZoneConfig
from vision.rules import build_rules
from vision.track import Track

SQUARE = [(0, 0), (100, 0), (100, 100), (0, 100)]
CFG = RulesConfig(dwell_s=2.0, cooldown_s=0.0, crowd_count=3, crowd_s=1.0, fallen_s=1.0, fire_frames=3)


def rule_for(name: str, **zone: object):  # noqa: ANN201
    spec = {"name": "z", "rules": [name], **zone}
    spec.setdefault("polygon", SQUARE) if "line" not in spec else None
    (rule,) = build_rules([ZoneConfig.model_validate(spec)], CFG)
    return rule


def track(tid: int, label: str, box: tuple[float, float, float, float]) -> Track:
    return Track(tid, label, 0.9, box, 0.0, 0.0)


def run(rule, frames: list[list[Track]], fps: float = 5.0) -> list:  # noqa: ANN001
    hits = []
    for i, tracks in enumerate(frames):
        hits += rule.update(tracks, i / fps)
    return hits


def test_crowding_needs_enough_people_for_long_enough() -> None:
    rule = rule_for("crowding")
    people = [track(i, "person", (10 * i, 40, 10 * i + 8, 60)) for i in range(1, 4)]
    assert run(rule, [people[:2]] * 20) == []  # two are not a crowd
    hits = run(rule_for("crowding"), [people] * 10)
    assert len(hits) == 1 and hits[0].track.label == "crowd"
    assert hits[0].track.box == (10, 40, 38, 60)  # the crowd's union box


def test_fire_is_confirmed_over_frames_and_ignores_flicker() -> None:
    fire = track(1, "fire", (20, 20, 40, 50))
    assert run(rule_for("fire"), [[fire], [], [], [fire], [], [], [fire], [], []]) == []
    hits = run(rule_for("fire"), [[fire], [fire], [fire], [fire]])
    assert len(hits) == 1 and hits[0].rule == "fire"
    assert run(rule_for("fire"), [[track(2, "smoke", (0, 0, 50, 50))]] * 4)[0].track.label == "smoke"


def test_fallen_person_needs_a_fall_not_just_a_wide_box() -> None:
    standing = (40, 20, 55, 60)
    lying = (30, 50, 70, 62)
    hits = run(
        rule_for("fallen_person"), [[track(1, "person", standing)]] * 3 + [[track(1, "person", lying)]] * 8
    )
    assert len(hits) == 1
    assert run(rule_for("fallen_person"), [[track(2, "person", lying)]] * 10) == []  # never seen upright
    assert (
        run(
            rule_for("fallen_person"),
            [[track(3, "person", standing)]] * 3 + [[track(3, "person", lying)]] * 3,
        )
        == []
    )


def test_line_crossing_counts_direction() -> None:
    line = {"line": [(50, 0), (50, 100)]}
    left_to_right = [[track(1, "person", (x, 40, x + 10, 60))] for x in range(20, 80, 10)]
    right_to_left = list(reversed(left_to_right))
    rule = rule_for("line_crossing", **line, direction="out")
    assert len(run(rule, left_to_right)) == 0 and rule.counts == {"in": 1, "out": 0}
    assert len(run(rule_for("line_crossing", **line, direction="out"), right_to_left)) == 1
    assert len(run(rule_for("line_crossing", **line), left_to_right + right_to_left)) == 2
    beyond = [
        [track(1, "person", (x, 140, x + 10, 160))] for x in range(20, 80, 10)
    ]  # past the segment's end
    assert run(rule_for("line_crossing", **line), beyond) == []


def test_staying_rules_filter_by_label_and_do_not_realert() -> None:
    garbage = track(1, "garbage", (30, 30, 50, 45))
    person = track(2, "person", (60, 30, 70, 60))
    hits = run(rule_for("dumping"), [[garbage, person]] * 40)
    assert [h.track.id for h in hits] == [1]
    assert run(rule_for("stall"), [[garbage]] * 40) == []
    assert len(run(rule_for("illegal_parking"), [[track(5, "vehicle", (10, 10, 60, 40))]] * 40)) == 1


def test_zone_intrusion_fires_on_entry() -> None:
    outside = track(1, "person", (150, 20, 160, 60))
    inside = track(1, "person", (50, 20, 60, 60))
    hits = run(rule_for("zone_intrusion"), [[outside], [outside], [inside]])
    assert len(hits) == 1
    assert run(rule_for("zone_intrusion", labels=["vehicle"]), [[inside]] * 3) == []


def test_shape_mismatch_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "cc.yaml"
    path.write_text(
        """
cameras:
  - id: c1
    kind: sim
    url: sim://street
    location: {lon: 113.3, lat: 23.1}
    zones:
      - {name: gate, line: [[0, 0], [10, 10]], rules: [crowding]}
      - {name: yard, polygon: [[0, 0], [10, 0], [10, 10]], rules: [line_crossing]}
"""
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = "\n".join(info.value.errors)
    assert "cameras[0].zones[0].rules[0]: zone 'gate': rule 'crowding' needs a 'polygon'" in text
    assert "cameras[0].zones[1].rules[0]: zone 'yard': rule 'line_crossing' needs a 'line'" in text
    path.write_text(
        path.read_text().replace(
            "rules: [line_crossing]}", "rules: [line_crossing]}\n      - {name: both, rules: [fire]}"
        )
    )
    with pytest.raises(ConfigError, match=r"cameras\[0\]\.zones\[2\]: Value error, give a polygon or a line"):
        load_config(path)


def flicker(
    label: str, box: tuple[float, float, float, float], pattern: str, first_id: int = 100
) -> list[list[Track]]:
    """One detection per '1' of the pattern, a new track id after every gap: the tracker lost it."""
    frames, tid = [], first_id
    for i, c in enumerate(pattern):
        if c == "1":
            frames.append([track(tid, label, box)])
        else:
            frames.append([])
            tid += 1 if i and pattern[i - 1] == "1" else 0
    return frames


def test_a_standing_problem_seen_most_of_the_time_is_raised_despite_new_track_ids() -> None:
    # 70 % of frames, a new track id after each gap: a per-track dwell would never reach 2 s.
    pattern = "1101101" * 4  # 28 frames at 5 fps: 5.6 s
    frames = flicker("waterlogging", (30, 60, 70, 80), pattern)
    assert (
        run(rule_for("illegal_parking", labels=["waterlogging"]), frames) == []
    )  # the track-based dwell misses it
    hits = run(rule_for("waterlogging"), frames)
    assert len(hits) == 1 and hits[0].rule == "waterlogging" and hits[0].track.label == "waterlogging"


def test_a_standing_problem_seen_rarely_or_only_briefly_is_not_raised() -> None:
    box = (30, 60, 70, 80)
    assert run(rule_for("open_manhole"), flicker("open_manhole", box, "1000" * 10)) == []  # 25 %: noise
    assert (
        run(rule_for("open_manhole"), flicker("open_manhole", box, "1" * 8 + "0" * 30)) == []
    )  # 1.6 s, then gone
    assert run(rule_for("banner"), flicker("open_manhole", box, "1" * 20)) == []  # another label


def test_a_standing_problem_is_judged_per_spot() -> None:
    # Two manholes each seen in alternate frames: neither spot gets the other's votes.
    left, right = (5, 60, 25, 80), (70, 60, 90, 80)
    frames = [[track(1, "open_manhole", left if i % 2 else right)] for i in range(40)]
    assert len(run(rule_for("open_manhole"), frames)) == 2  # each spot seen 50 %: both raised, once each
    moving = [[track(1, "pothole", (2 * i, 60, 2 * i + 10, 70))] for i in range(40)]
    assert run(rule_for("road_damage"), moving) == []  # a box that travels is no standing spot
