"""Every page address the README names, and every one the demo's start banner prints, answers
200 on a served app (issue 17: two README links were 404). Placeholders are filled in: a
`<grid code>` with a real grid's code, `W…` with a real worker id."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from command_center.config import parse_config
from command_center.demo import banner, page_urls
from dispatch.city import City
from tests.helpers import ROOT, ServerThread, serve_app

DEMO = "http://127.0.0.1:8000"
URL = re.compile(re.escape(DEMO) + r"[^\s`)'\",;]*")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[ServerThread]:
    data = tmp_path_factory.mktemp("readme")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    with serve_app(config, city=small_city) as srv:
        yield srv


def readme_urls(text: str, grid: str, worker: str) -> list[str]:
    filled = text.replace("<grid code>", grid).replace("W…", worker)
    return sorted({m.rstrip(".") for m in URL.findall(filled)})


def answers(server: ServerThread, url: str) -> int:
    path = url.removeprefix(DEMO) or "/"
    return httpx.get(server.url + path, follow_redirects=True, timeout=10).status_code


def test_every_readme_url_answers(server: ServerThread, small_city: City) -> None:
    grid = small_city.grids[0].code
    worker = (
        small_city.workers_by_grid[grid][0].id
        if small_city.workers_by_grid.get(grid)
        else small_city.workers[0].id
    )
    urls = readme_urls((ROOT / "README.md").read_text(encoding="utf-8"), grid, worker)
    # The pages a newcomer tries first are all there.
    paths = {u.removeprefix(DEMO).split("?")[0] for u in urls}
    assert {
        "/wall",
        "/desk",
        "/stats",
        "/basedata",
        "/terminal",
        "/emergency",
        "/citizen",
        "/publish",
        "/admin",
        f"/grid/{grid}",
    } <= paths, paths
    failing = {u: code for u in urls if (code := answers(server, u)) != 200}
    assert not failing, failing


def test_the_banner_names_every_page_and_they_answer(server: ServerThread, small_city: City) -> None:
    grid, worker = small_city.workers[0].grid_code, small_city.workers[0].id
    text = banner(DEMO, ["admin/admin  (administrator)"], worker, grid, demo=True, simulated=True)
    labels = [label for label, _, _ in page_urls(DEMO, worker, grid)]
    assert labels == [
        "wall",
        "desk",
        "stats",
        "base data",
        "terminal",
        "emergency",
        "admin",
        "citizen",
        "publish",
        "grid card",
    ]
    urls = sorted(set(URL.findall(text)))
    assert f"{DEMO}/terminal?worker={worker}" in urls and "admin/admin" in text
    failing = {u: code for u in urls if not u.endswith("/api/health") and (code := answers(server, u)) != 200}
    assert not failing, failing


def test_no_page_is_named_under_ui() -> None:
    """The pages are served at /citizen, /publish…; /ui/ serves their files, not the pages."""
    for doc in [ROOT / "README.md", *sorted(Path(ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        assert not re.search(r"/ui/(citizen|publish|wall|terminal|emergency|admin)/(\s|`|\))", text), doc
