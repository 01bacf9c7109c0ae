"""Headless Chromium (Debian's) driven by Playwright, for the pages' tests."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from command_center.app import MAPLIBRE_DIR

CHROMIUM = Path("/usr/bin/chromium")
# SwiftShader gives headless Chromium a software WebGL context for MapLibre (no GPU here).
ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
]  # fmt: skip

NEEDS_BROWSER = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="needs the playwright package (pip install playwright)"),
    pytest.mark.skipif(not (MAPLIBRE_DIR / "maplibre-gl.mjs").exists(), reason="needs MapLibre from npm: run `make setup`"),
]  # fmt: skip


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless browser; `new_page(browser, width, height)` opens pages in it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, width: int = 1440, height: int = 900, errors: list[str] | None = None) -> Any:
    """A page in a fresh context (its own cookies); uncaught page errors go to `errors`."""
    page = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN").new_page()
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def sign_in_form(page: Any, user: str, password: str) -> None:
    """Through the pages' common login overlay (ui/common/login.js), shown on the first 401."""
    page.wait_for_selector("#login", timeout=15000)
    page.fill("#login input[name=username]", user)
    page.fill("#login input[name=password]", password)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#login", state="detached", timeout=15000)


# Every page must fit these viewports: a phone, the hall's desk screen, a 4K wall.
WIDTHS = ((390, 844), (1600, 900), (3840, 2160))
# The visible text under a root, less what is marked translate="no" (case numbers, usernames:
# copied as they are), as `words`; and the whole of it, for the raw-identifier checks, as `all`.
_TEXTS = """(root) => {
  const node = document.querySelector(root);
  const copy = node.cloneNode(true);
  copy.querySelectorAll('[translate=no], script, style, noscript').forEach((n) => n.remove());
  copy.style.position = 'absolute';
  document.documentElement.append(copy);
  const words = copy.innerText;
  copy.remove();
  return { words, all: node.innerText };
}"""


def visible_texts(page: Any, root: str = "body") -> dict[str, str]:
    """{"words": text without translate="no" parts, "all": the whole visible text} under `root`."""
    texts: dict[str, str] = page.evaluate(_TEXTS, root)
    return texts


def overflow_px(page: Any) -> int:
    """How much wider than its viewport the page is (0: it fits)."""
    return int(page.evaluate("() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"))
