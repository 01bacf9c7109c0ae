"""The message catalogues (ui/i18n/<lang>/*.json): one per language, the same keys in each,
Chinese in the Chinese one, and every key the pages ask for present (a coverage check).

The pages' visible text in a browser is checked by tests/test_pages_language.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from command_center.config import parse_config
from command_center.i18n import CATALOGUE_DIR, LANGUAGES, CatalogueError, catalogue, name
from dispatch.city import City
from tests.helpers import build_runtime, serve_app

UI = CATALOGUE_DIR.parent
# Latin words allowed in Chinese messages: standards, units and product names people read as is.
LATIN_ALLOWED = frozenset(
    {"CAP", "KPI", "GPS", "QR", "ID", "WebRTC", "WHIP", "WHEP", "RTSP", "RTMP", "AI", "API", "CSV", "XLSX", "GeoJSON",
     "Shapefile", "GeoPackage", "SQLite", "PostgreSQL", "MQTT", "IoT", "A4", "PDF", "ZIP", "URL", "JSON", "HTTP",
     "English", "km", "m", "s", "min", "fps", "px", "MB", "KB", "GB", "ms", "IP", "Open311", "YAML", "UTC", "APP",
     "OK", "PNG", "JPEG", "MP4", "lon", "lat", "WGS84", "EPSG", "HTTPS", "WS", "CPU", "GPU", "ONVIF", "PTZ"}
)  # fmt: skip
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# t('key') / t("key") with a literal key, and data-i18n*="key" in the HTML.
JS_KEY = re.compile(r"""\bt\(\s*['"]([a-z][a-z0-9_]*\.[A-Za-z0-9_.-]+)['"]""")
HTML_KEY = re.compile(r"""data-i18n(?:-title|-placeholder|-aria-label)?=["']([^"']+)["']""")


def english_words(text: str) -> list[str]:
    """Latin words in `text` that are not allowed names or units, placeholders left out."""
    text = re.sub(r"\{\w+\}", "", text)
    return [w for w in LATIN_WORD.findall(text) if w not in LATIN_ALLOWED]


def test_every_language_has_the_same_keys() -> None:
    keys = {lang: set(catalogue(lang)) for lang in LANGUAGES}
    zh = keys["zh"]
    for lang, own in keys.items():
        assert own == zh, f"{lang} lacks {sorted(zh - own)[:20]} and has extra {sorted(own - zh)[:20]}"


def test_the_files_of_each_language_match() -> None:
    """Split by page so pages can be worked on apart: the same file names in each language."""
    names = {lang: sorted(p.name for p in (CATALOGUE_DIR / lang).glob("*.json")) for lang in LANGUAGES}
    assert names["en"] == names["zh"]


def test_the_chinese_catalogue_has_no_english() -> None:
    bad = {key: text for key, text in catalogue("zh").items() if english_words(text)}
    assert not bad, f"English in the Chinese catalogue: {dict(list(bad.items())[:20])}"


def test_every_key_the_pages_use_is_in_the_catalogue() -> None:
    known = set(catalogue("zh"))
    missing: dict[str, list[str]] = {}
    for path in sorted(UI.rglob("*")):
        if path.suffix not in (".js", ".html") or "i18n" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        pattern = JS_KEY if path.suffix == ".js" else HTML_KEY
        used = set(pattern.findall(text)) | (set(HTML_KEY.findall(text)) if path.suffix == ".js" else set())
        lacking = sorted(k for k in used if k not in known)
        if lacking:
            missing[str(path.relative_to(UI))] = lacking
    assert not missing, f"keys the pages use that the catalogue lacks: {missing}"


def test_server_names_come_from_the_catalogue() -> None:
    assert name("rule", "illegal_parking") == "违章停车"
    assert name("rule", "illegal_parking", "en") == "Illegal parking"
    assert name("rule", "a_citys_own_rule") == "a_citys_own_rule"  # unnamed: the identifier, never an error


def test_every_rule_and_detector_class_has_a_name() -> None:
    """Incidents, zones and verdicts name rules and labels: none may reach a page as an identifier."""
    from vision.classes import CLASSES
    from vision.rules import known_rules

    for lang in LANGUAGES:
        names = catalogue(lang)
        missing = [f"rule.{r}" for r in known_rules() if f"rule.{r}" not in names]
        missing += [f"label.{c}" for c in CLASSES if f"label.{c}" not in names]
        assert not missing, (lang, missing)


def test_a_key_in_two_files_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import command_center.i18n as i18n

    for lang in LANGUAGES:
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "a.json").write_text(json.dumps({"x.one": "一"}), encoding="utf-8")
        (tmp_path / lang / "b.json").write_text(json.dumps({"x.one": "二"}), encoding="utf-8")
    monkeypatch.setattr(i18n, "CATALOGUE_DIR", tmp_path)
    i18n.catalogue.cache_clear()
    try:
        with pytest.raises(CatalogueError, match="already in a.json"):
            i18n.catalogue("zh")
    finally:
        monkeypatch.undo()
        i18n.catalogue.cache_clear()


def test_served_to_anyone_with_the_citys_time_zone(tmp_path: Path, small_city: City) -> None:
    config = parse_config(
        {"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}",
         "dispatch": {"timezone": "Asia/Urumqi"}}
    )  # fmt: skip
    with serve_app(build_runtime(config, city=small_city)) as srv:
        zh = httpx.get(f"{srv.url}/api/i18n/zh", timeout=10)
        unknown = httpx.get(f"{srv.url}/api/i18n/fr", timeout=10)
    assert zh.status_code == 200 and zh.json()["state.cancelled"] == "已作废"
    assert zh.headers["x-time-zone"] == "Asia/Urumqi"
    assert unknown.status_code == 404 and unknown.json()["detail"] == {"known": ["zh", "en"]}
