"""The forecast and alerts panels of the statistics page (/stats) in a real browser, over
test_stats_browser.py's generated year (3,000 cases of 2026): the chart holds the API's last
8 weeks and next 7 days, the table its classes, the error line its held-out error, the alerts
list its rows; Chinese by default, English on choice, and the page still fits a 390 px phone.
Screenshots go to var/test-artifacts/stats/."""

from __future__ import annotations

from typing import Any

import pytest

from tests import test_stats_browser as base
from tests.browser import overflow_px, visible_texts
from tests.test_i18n import english_words

pytestmark = base.pytestmark
hall = base.hall  # its fixture: the generated year behind a real server


def _shown(page: Any) -> None:
    page.wait_for_selector("#forecast-panel[data-loaded]", timeout=20000)
    page.wait_for_selector("#forecast-chart[data-drawn]", timeout=20000)


@pytest.mark.parametrize("width", [1440, 390])
def test_forecast_panel_shows_the_api(browser: Any, hall: dict[str, Any], width: int) -> None:
    page = base.open_stats(browser, hall, width=width)
    try:
        _shown(page)
        area = page.get_attribute("#stats", "data-area")
        body = base.get(hall, "/api/stats/forecast", area=str(area))
        alerts = base.get(hall, "/api/stats/alerts", area=str(area))
        drawn = page.evaluate("() => window.cc.stats.forecast.chart.getOption().series.map(s => s.data)")
        assert drawn[0] == [h["count"] for h in body["history"]]
        assert drawn[-1][-7:] == [f["count"] for f in body["forecast"]]
        rows = page.locator("#forecast-classes tr")
        assert rows.count() == len(body["classes"]) == 6
        first = rows.nth(0).locator("td")
        assert first.nth(1).inner_text().replace(",", "") == str(body["classes"][0]["last_week"])
        assert "近 8 周回测" in page.inner_text("#forecast-error")
        items = page.locator("#alerts-list li")
        assert items.count() == max(1, len(alerts["areas"]) + len(alerts["cells"]))
        texts = visible_texts(page, "#forecast-panel")
        assert not english_words(texts["words"]), english_words(texts["words"])[:20]
        if width == 390:
            assert overflow_px(page) <= 0
        base.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator("#forecast-panel").screenshot(path=str(base.ARTIFACTS / f"forecast-{width}.png"))
    finally:
        page.context.close()


def test_forecast_panel_in_english(browser: Any, hall: dict[str, Any]) -> None:
    page = base.open_stats(browser, hall)
    try:
        _shown(page)
        page.evaluate("() => { localStorage.setItem('cc.lang', 'en'); }")
        page.reload()
        _shown(page)
        assert page.inner_text("#forecast-title") == "Next week's forecast"
    finally:
        page.context.close()
