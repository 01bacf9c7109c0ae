"""Finding 22: the dependency floors stay past the published multipart and Range advisories.

Both the declared minimum (what a fresh install may resolve to) and the installed version
are checked, so neither a loosened pyproject nor a stale venv passes.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

import pytest

from tests.helpers import ROOT

# The first releases that close every advisory we know of (see pyproject.toml's comments).
FLOORS = {"starlette": (0, 49, 1), "python-multipart": (0, 0, 31)}


def _tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _declared_floor(name: str) -> tuple[int, ...]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        match = re.match(rf"^{re.escape(name)}\s*>=\s*([\d.]+)", dep)
        if match:
            return _tuple(match[1])
    raise AssertionError(f"{name} has no >= floor in pyproject.toml")


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_finding_22_dependency_floors_past_advisories(name: str) -> None:
    assert _declared_floor(name) >= FLOORS[name], f"pyproject.toml lets {name} fall below {FLOORS[name]}"
    assert _tuple(version(name)) >= FLOORS[name], f"installed {name} {version(name)} is below {FLOORS[name]}"
