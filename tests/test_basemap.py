"""The street basemap (`map.basemap`): its configuration is checked, the pages read it from
/api/map/config, the CSP lets its tile server in, and the wall draws its tiles beneath the
grid outlines (and fetches no tile at all when none is configured)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from command_center.auth.users import Account
from command_center.config import ConfigError, parse_config
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, chromium, new_page, sign_in_form
from tests.helpers import build_runtime, serve_app

TILE = cv2.imencode(".png", np.full((256, 256, 3), (200, 220, 235), np.uint8))[1].tobytes()


@pytest.mark.parametrize(
    ("basemap", "where", "why"),
    [
        ({"url": "https://tiles.example/{z}/{x}.png"}, "map.basemap.url", "needs {y}"),
        ({"url": "ftp://tiles.example/{z}/{x}/{y}.png"}, "map.basemap.url", "http:// or https://"),
        ({"url": "https://tiles.example;img-src=*/{z}/{x}/{y}"}, "map.basemap.url", "host"),
        (
            {"url": "https://t.example/{z}/{x}/{y}.png", "min_zoom": 12, "max_zoom": 3},
            "map.basemap",
            "min_zoom",
        ),
        ({"url": "https://t.example/{z}/{x}/{y}.png", "tiles": 2}, "map.basemap.tiles", "unknown key"),
    ],
)
def test_a_bad_basemap_is_refused_with_its_key_path(basemap: dict[str, Any], where: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"map": {"basemap": basemap}})
    assert len(caught.value.errors) == 1
    assert f": {where}: " in caught.value.errors[0] and why in caught.value.errors[0]


def test_a_vector_style_needs_no_placeholders() -> None:
    config = parse_config(
        {"map": {"basemap": {"kind": "vector", "url": "https://maps.example:8443/style.json"}}}
    )
    assert config.map.basemap is not None and config.map.basemap.origin == "https://maps.example:8443"


class Tiles:
    """A tile server on loopback: one PNG for any /z/x/y.png, counting requests."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        tiles = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                tiles.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(TILE)))
                self.end_headers()
                self.wfile.write(TILE)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tiles() -> Iterator[Tiles]:
    server = Tiles()
    yield server
    server.close()


def config_for(data: Path, basemap: dict[str, Any] | None) -> Any:
    return parse_config(
        {
            "server": {"data_dir": str(data)},
            "store": f"sqlite:///{data / 'cc.db'}",
            "map": {"basemap": basemap},
        }
    )


def test_the_pages_read_the_basemap_and_may_load_it(tmp_path: Path, small_city: City, tiles: Tiles) -> None:
    basemap = {"url": f"{tiles.url}/{{z}}/{{x}}/{{y}}.png", "attribution": "© 测试底图"}
    with serve_app(build_runtime(config_for(tmp_path / "a", basemap), small_city)) as srv:
        assert httpx.get(f"{srv.url}/api/map/config", timeout=10).status_code == 401
        answer = httpx.get(
            f"{srv.url}/api/map/config", headers=srv.headers(role="worker", worker_id="W0000001"), timeout=10
        )
        assert answer.status_code == 200
        assert answer.json()["basemap"] == {
            "kind": "raster", "url": basemap["url"], "attribution": "© 测试底图",
            "min_zoom": 0, "max_zoom": 19, "tile_size": 256,
        }  # fmt: skip
        csp = httpx.get(f"{srv.url}/wall", timeout=10).headers["content-security-policy"]
        assert (
            f"img-src 'self' data: blob: {tiles.url};" in csp
            and f"connect-src 'self' ws: wss: {tiles.url};" in csp
        )
    with serve_app(build_runtime(config_for(tmp_path / "b", None), small_city)) as srv:
        signed_in = srv.headers(role="officer")
        assert httpx.get(f"{srv.url}/api/map/config", headers=signed_in, timeout=10).json() == {
            "basemap": None
        }
        assert tiles.url not in httpx.get(f"{srv.url}/wall", timeout=10).headers["content-security-policy"]


WATCH_CSP = """window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));"""
MAP_READY = "() => window.cc?.map()?.map?.isStyleLoaded() && window.cc.map().cityBounds"


def open_wall(browser: Any, url: str) -> Any:
    page = new_page(browser, 1280, 800)
    page.add_init_script(WATCH_CSP)
    page.goto(f"{url}/wall")
    sign_in_form(page, "officer", "officer")
    page.wait_for_function(MAP_READY, timeout=30000)
    return page


@pytest.mark.parametrize("browser_marks", [pytest.param(None, marks=NEEDS_BROWSER)], ids=["chromium"])
def test_the_wall_draws_the_tiles_beneath_the_grids(
    tmp_path: Path, small_city: City, tiles: Tiles, browser_marks: None
) -> None:
    basemap = {"url": f"{tiles.url}/{{z}}/{{x}}/{{y}}.png", "attribution": "<b>© 测试底图</b>"}
    with chromium() as browser:
        rt = build_runtime(config_for(tmp_path / "none", None), small_city)
        with serve_app(rt) as srv:
            rt.auth.users.seed([Account("officer", "officer", "officer")])
            page = open_wall(browser, srv.url)
            page.wait_for_timeout(1500)
            layers = page.evaluate("window.cc.map().map.getStyle().layers.map((l) => l.id)")
            assert "basemap" not in layers and tiles.paths == []  # offline: no tile asked for
        rt = build_runtime(config_for(tmp_path / "tiles", basemap), small_city)
        with serve_app(rt) as srv:
            rt.auth.users.seed([Account("officer", "officer", "officer")])
            page = open_wall(browser, srv.url)
            page.wait_for_function("() => window.cc.map().map.getLayer('basemap')", timeout=15000)
            page.wait_for_function("() => window.cc.map().map.isSourceLoaded('basemap')", timeout=15000)
            layers = page.evaluate("window.cc.map().map.getStyle().layers.map((l) => l.id)")
            attribution = page.inner_text(".maplibregl-ctrl-attrib")
            assert page.evaluate("window.__csp") == []  # the tile server's origin is let in
    assert len(tiles.paths) > 0 and all(p.endswith(".png") and p.count("/") == 3 for p in tiles.paths)
    assert layers.index("basemap") == 1, layers  # right above the background
    assert all(
        layers.index(grid) > layers.index("basemap") for grid in ("fine-fill", "fine-line", "district-line")
    )
    assert "<b>© 测试底图</b>" in attribution  # shown as text, not as HTML
