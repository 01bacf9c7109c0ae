"""Config: a good file loads; a broken one names the file and every bad key, and exits 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from command_center.cli import main
from command_center.config import ConfigError, load_config
from tests.helpers import ROOT

GOOD = ROOT / "configs" / "example.yaml"


def test_example_config_loads() -> None:
    config = load_config(GOOD)
    assert config.cameras[0].id == "tianhe-0001"
    assert config.cameras[0].zones[0].rules == ["illegal_parking"]
    assert config.catalog.exists()


def test_check_config_ok_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(GOOD)]) == 0
    assert "ok" in capsys.readouterr().out


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    return path


def test_every_error_is_reported_with_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        """
server: {port: 99999, colour: blue}
bus: kafka://x
cameras:
  - id: cam-1
    kind: sim
    url: sim://street
    location: {lon: 113.3, lat: 123.0}
    fps: fast
    zones:
      - {name: z, polygon: [[0, 0], [1, 1]], rules: [illegal_parking]}
""",
    )
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    for expected in (
        "server.port",
        "server.colour: unknown key",
        "bus:",
        "cameras[0].location.lat",
        "cameras[0].fps",
        "cameras[0].zones[0].polygon",
    ):
        assert f"{path}: {expected}" in err, (expected, err)


def test_unknown_top_level_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "servr: {port: 8000}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.errors == [f"{path}: servr: unknown key"]


def test_unknown_rule_and_kind_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
cameras:
  - id: cam-1
    kind: betamax
    url: tape://1
    location: {lon: 113.3, lat: 23.1}
    zones:
      - {name: z, polygon: [[0, 0], [10, 0], [10, 10]], rules: [teleporting]}
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = "\n".join(info.value.errors)
    assert "cameras[0].kind: unknown source kind 'betamax'" in text
    assert "cameras[0].zones[0].rules[0]: unknown rule 'teleporting'" in text


def test_duplicate_camera_ids(tmp_path: Path) -> None:
    cam = "  - {id: a, kind: sim, url: 'sim://street', location: {lon: 113.3, lat: 23.1}}\n"
    path = write(tmp_path, "cameras:\n" + cam + cam)
    with pytest.raises(ConfigError, match="duplicate camera id 'a'"):
        load_config(path)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 8000\n bus: memory\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in info.value.errors[0] and "line 3" in info.value.errors[0]


def test_missing_catalog_file(tmp_path: Path) -> None:
    path = write(tmp_path, "catalog: nowhere/matters.yaml\n")
    with pytest.raises(ConfigError, match="catalog: file not found"):
        load_config(path)


def test_missing_file_is_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "command_center", "check-config", "/nonexistent/cc.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "/nonexistent/cc.yaml: cannot read" in proc.stderr
