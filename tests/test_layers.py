"""The one-way flow is checked by import-linter (`make lint`); these tests show the
contracts hold on the tree and catch a layer broken on purpose."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _run(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([str(LINT_IMPORTS)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_every_layer_contract() -> None:
    done = _run(ROOT, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _importlinter_section() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    header = re.search(r"^\[tool\.importlinter\]\s*$", text, flags=re.M)  # the table, not a mention of it
    assert header is not None, "pyproject.toml has no [tool.importlinter] table"
    start = header.start()
    following = re.search(r"^\[(?!\[?tool\.importlinter)", text[start + 1 :], flags=re.M)
    return text[start : start + 1 + following.start()] if following else text[start:]


def test_a_broken_layer_fails_the_lint(tmp_path: Path) -> None:
    """The project's own contracts, over a miniature tree where dispatch imports vision
    and one store imports the other: both are reported and the lint exits non-zero."""
    (tmp_path / "pyproject.toml").write_text(_importlinter_section())
    files = {
        "command_center/__init__.py": "",
        "command_center/store/__init__.py": "",
        "command_center/store/sqlite.py": "",
        "command_center/store/postgres.py": "from command_center.store import sqlite  # broken on purpose\n",
        "streams/__init__.py": "",
        "scenes/__init__.py": "",
        "basedata/__init__.py": "",
        "iot/__init__.py": "",
        "vision/__init__.py": "import streams\n",
        "dispatch/__init__.py": "import vision  # broken on purpose\n",
    }
    for name, text in files.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    done = _run(tmp_path, tmp_path / "src")
    assert done.returncode != 0
    assert "dispatch knows nothing of video BROKEN" in done.stdout
    assert "no store imports another BROKEN" in done.stdout
    assert "stages never import the composition root KEPT" in done.stdout


def test_no_page_imports_another_pages_files() -> None:
    """A page imports its own folder's modules, ui/common/ and /vendor/ only: what pages
    share lives in ui/common, so that no page breaks when another one changes."""
    # Statements only (a line that starts with import or export), and import('…'): the word
    # "import" inside a string or an i18n key ("admin.devices.import") is not an import.
    imports = re.compile(
        r"""^\s*(?:import|export)\s*(?:[\w{}\s,*]+\bfrom\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']""",
        flags=re.M,
    )
    strays = []
    for path in sorted((ROOT / "ui").rglob("*.js")):
        for found in imports.findall(path.read_text(encoding="utf-8")):
            target = found[0] or found[1]
            if not target.startswith(("./", "../common/", "/vendor/", "/ui/common/")):
                strays.append(f"{path.relative_to(ROOT)} → {target}")
    assert not strays, strays
    assert (ROOT / "ui" / "common" / "whip.js").exists()  # the check saw the shared modules


def test_only_the_test_hooks_module_writes_window_cc() -> None:
    writers = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "ui").rglob("*.js"))
        if re.search(r"window\.cc\s*=", p.read_text(encoding="utf-8"))
    ]
    assert writers == ["ui/common/testhooks.js"], writers


def _cycles(*packages: str) -> list[list[str]]:
    """Groups of modules that import one another in a circle (Tarjan's strongly connected
    components over grimp's graph). Imports inside functions count, so a cycle hidden by a
    lazy import is found; imports only for type checking do not run, and do not count."""
    import grimp

    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True)
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = [stack.pop()]
            while group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in order:
            visit(module)
    return found


def test_no_import_cycle() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    assert _cycles("command_center", "streams", "scenes", "vision", "dispatch", "basedata", "iot") == []


def test_a_lazy_import_cycle_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "loop/__init__.py": "",
        "loop/runtime.py": "import loop.simulate\n",
        "loop/simulate.py": "def run():\n    from loop import runtime  # hidden cycle\n",
        "loop/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import loop.runtime\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles("loop") == [["loop.runtime", "loop.simulate"]]
