"""The matter catalog: the shipped YAML, detector mappings and validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from dispatch.catalog import Catalog, Matter, load_catalog

CATALOG = Path(__file__).resolve().parents[1] / "configs" / "matters.yaml"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOG)


def test_shipped_catalog_is_complete(catalog: Catalog) -> None:
    codes = [m.code for m in catalog.items]
    assert len(codes) >= 35
    assert len(set(codes)) == len(codes)
    assert {m.klass for m in catalog.items} == {
        "市容环境",
        "宣传广告",
        "施工管理",
        "突发事件",
        "街面秩序",
        "其他",
    }
    assert {m.handler for m in catalog.items} == {"worker", "department"}
    names = {m.name for m in catalog.items}
    assert {"暴露垃圾", "火情", "烟雾", "人员倒地", "人群聚集", "占道经营", "违法停车", "井盖缺失"} <= names
    assert all(m.name_en and m.department and m.closure_standard for m in catalog.items)


@pytest.mark.parametrize(
    ("rule", "label", "name"),
    [
        ("illegal_parking", None, "违法停车"),
        (None, "vehicle", "违法停车"),
        ("fire", None, "火情"),
        (None, "fire", "火情"),
        ("smoke", None, "烟雾"),
        (None, "smoke", "烟雾"),
        ("fallen_person", None, "人员倒地"),
        ("crowding", None, "人群聚集"),
        ("dumping", None, "暴露垃圾"),
        (None, "garbage", "暴露垃圾"),
        ("stall", None, "占道经营"),
        (None, "stall", "占道经营"),
    ],
)
def test_match_maps_rules_and_labels(
    catalog: Catalog, rule: str | None, label: str | None, name: str
) -> None:
    assert catalog.match(rule, label).name == name


def test_street_order_rules(catalog: Catalog) -> None:
    assert catalog.match("loitering", "person").klass == "街面秩序"
    assert catalog.match("zone_intrusion", "person").klass == "街面秩序"
    assert catalog.match("loitering", None) != catalog.match("zone_intrusion", None)


def test_rule_wins_over_label_and_unmapped_falls_back(catalog: Catalog) -> None:
    assert catalog.match("illegal_parking", "fire").name == "违法停车"
    assert catalog.match("no_such_rule", "fire").name == "火情"
    default = catalog.get(catalog.default)
    assert default.name == "其他事项"
    assert catalog.match(None, None) == default
    assert catalog.match("no_such_rule", "no_such_label") == default


def test_get_and_time_limits(catalog: Catalog) -> None:
    fire = catalog.match("fire", None)
    assert catalog.get(fire.code) is fire
    with pytest.raises(KeyError):
        catalog.get("no-such-code")
    assert catalog.time_limit_hours(catalog.match("dumping", None)) == 2
    two_days = catalog.get(catalog.default)
    assert two_days.time_limit.days == 2
    assert catalog.time_limit_hours(two_days) == 16
    assert catalog.time_limit_hours(two_days.code, hours_per_day=7.5) == 15


def test_class_is_read_and_written_as_class(catalog: Catalog) -> None:
    dumped = catalog.items[0].model_dump()
    assert "class" in dumped and "klass" not in dumped
    assert Matter.model_validate(dumped) == catalog.items[0]


def _entry(**changes: object) -> dict:
    entry = {
        "code": "0101",
        "name": "暴露垃圾",
        "name_en": "Exposed garbage",
        "class": "市容环境",
        "department": "城管",
        "handler": "worker",
        "time_limit": {"hours": 2},
        "closure_standard": "清理干净",
        "rules": ["dumping"],
        "labels": ["garbage"],
    }
    entry.update(changes)
    return entry


def _load(tmp_path: Path, matters: list[dict], default: str = "0101") -> Catalog:
    path = tmp_path / "matters.yaml"
    path.write_text(
        yaml.safe_dump({"default": default, "matters": matters}, allow_unicode=True), encoding="utf-8"
    )
    return load_catalog(path)


def test_malformed_entries_raise_validation_errors_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="colour"):
        _load(tmp_path, [_entry(colour="red")])
    with pytest.raises(ValidationError, match="time_limit"):
        _load(tmp_path, [_entry(time_limit="4h")])
    with pytest.raises(ValidationError, match="time_limit"):
        _load(tmp_path, [_entry(time_limit={"hours": 2, "days": 1})])
    with pytest.raises(ValidationError, match="handler"):
        _load(tmp_path, [_entry(handler="robot")])
    with pytest.raises(ValidationError, match="class"):
        _load(tmp_path, [_entry(**{"class": "杂项"})])
    with pytest.raises(ValidationError) as raised:
        _load(tmp_path, [_entry(), _entry(department=None)])
    assert raised.value.errors()[0]["loc"] == ("matters", 1, "department")


def test_catalog_level_consistency_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="duplicate matter code"):
        _load(tmp_path, [_entry(), _entry(rules=[], labels=[])])
    with pytest.raises(ValidationError, match="default"):
        _load(tmp_path, [_entry()], default="9999")
    with pytest.raises(ValidationError, match="rule 'dumping' maps to both"):
        _load(tmp_path, [_entry(), _entry(code="0102", labels=[])])
    assert len(_load(tmp_path, [_entry(), _entry(code="0102", rules=[], labels=[])]).items) == 2
