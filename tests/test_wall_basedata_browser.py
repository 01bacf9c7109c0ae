"""The wall's building layer and patrol coverage (issue 19), in Chromium: an officer zooms to
a seeded grid and switches buildings on: the map's source holds the buildings the API gives
for that view, coloured by households, and in the overdue mode a building with an overdue
check is drawn red; below the zoom the layer asks to zoom in; moving the map reloads the
view. Patrol coverage on: a grid whose place was checked today is filled otherwise than one
whose place was not. The control and the legend are Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from basedata.patrol import CheckIn, KeyPlace, after_check, load_checklists
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.store.basedata_records import base_data_store
from command_center.store.patrol_records import patrol_store
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, overflow_px, sign_in_form, visible_texts
from tests.helpers import ROOT, build_runtime, serve_app
from tests.test_i18n import english_words

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "wall-basedata"
ZOOM = 16.5

# The centre pixel of the map canvas, or of a point on it, once the map has drawn everything.
PIXEL = """async ([lon, lat]) => {
  const m = window.cc.map().map;
  m.triggerRepaint();
  await new Promise((resolve) => m.once('idle', resolve));
  const canvas = m.getCanvas();
  const ratio = canvas.width / canvas.clientWidth;
  const p = lon == null ? { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 } : m.project([lon, lat]);
  const copy = document.createElement('canvas');
  copy.width = canvas.width;
  copy.height = canvas.height;
  const ctx = copy.getContext('2d');
  ctx.drawImage(canvas, 0, 0);
  return Array.from(ctx.getImageData(Math.round(p.x * ratio), Math.round(p.y * ratio), 1, 1).data);
}"""
JUMP = "([lon, lat, zoom]) => window.cc.map().map.jumpTo({ center: [lon, lat], zoom })"


def _place(pid: str, grid: str, lon: float, lat: float) -> KeyPlace:
    return KeyPlace(id=pid, name=f"场所{pid}", kind="market", grid_code=grid, lon=lon, lat=lat,
                    checklist=load_checklists()["market"])  # fmt: skip


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("wall-basedata")
    config = parse_config({"server": {"data_dir": str(tmp)}, "store": f"sqlite:///{tmp / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    areas = small_city.areas
    mine = small_city.workers[0].grid_code
    other = next(g.code for g in small_city.grids if g.code.startswith("440103") and g.code != mine)
    far = next(g.code for g in small_city.grids if g.code.startswith("440104"))
    # A few grids' base data, checked up to today; 30% of the buildings past their cycle.
    cipher = FieldCipher(FieldKey.generate(tmp / "keys" / "basedata.key"))
    spec = SampleSpec(people=240, seed=11, as_of=rt.dispatcher.today(), overdue_share=0.3, radius_m=80)
    grids = [(g, areas[g].lon, areas[g].lat) for g in (mine, other, far)]
    base_data_store(rt.store).upsert_mixed(generate(grids, spec, cipher), by="test")
    # A key place in each of two grids: the one in `mine` checked today, the other never.
    patrols = patrol_store(rt.store)
    checked = patrols.add_place(_place("P-MINE", mine, areas[mine].lon, areas[mine].lat), "test")
    patrols.add_place(_place("P-OTHER", other, areas[other].lon, areas[other].lat), "test")
    at = rt.dispatcher.local_now()  # the city's now, by which the routes count today
    checkin = CheckIn(id="C-MINE", place_id=checked.id, worker_id=small_city.workers[0].id, grid_code=mine, at=at,
                      lon=checked.lon, lat=checked.lat, distance_m=2.0,
                      answers={item.id: "ok" for item in checked.checklist})  # fmt: skip
    patrols.record_checkin(checkin, after_check(checked, at), "test")
    with serve_app(rt) as server:
        rt.auth.users.seed([Account("officer", "officer", "officer")])
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield {"server": server, "rt": rt, "mine": mine, "other": other, "areas": areas}


def api(hall: dict[str, Any], path: str) -> Any:
    res = httpx.get(
        hall["server"].url + path, headers=hall["server"].headers(role="officer", user="officer"), timeout=10
    )
    assert res.status_code == 200, res.text
    return res.json()


def shown_codes(page: Any) -> list[str]:
    codes: list[str] = page.evaluate(
        "async () => (await window.cc.map().map.getSource('buildings').getData()).features.map((f) => f.properties.code)"
    )
    return sorted(codes)


def wait_shown(page: Any, before: str | None) -> str:
    """Waits until the layer shows a view other than `before`; that view's bbox."""
    page.wait_for_function(
        "(before) => { const b = window.cc.basedata; return b.state === 'shown' && b.query && b.query !== before; }",
        arg=before,
        timeout=10000,
    )
    query: str = page.evaluate("() => window.cc.basedata.query")
    return query


def inside(point: Any) -> tuple[float, float]:
    """A point inside a grid's polygon (its centre may lie outside an odd shape)."""
    rep = point.polygon.representative_point()
    return float(rep.x), float(rep.y)


def test_buildings_and_patrol_coverage_on_the_wall(browser: Any, hall: dict[str, Any]) -> None:
    errors: list[str] = []
    page = new_page(browser, 1600, 900, errors)
    page.goto(f"{hall['server'].url}/wall")
    sign_in_form(page, "officer", "officer")
    page.wait_for_selector("#conn[data-state=open]", timeout=20000)
    page.wait_for_function("() => window.cc && window.cc.basedata", timeout=20000)
    mine = hall["areas"][hall["mine"]]
    page.evaluate(JUMP, [mine.lon, mine.lat, ZOOM])

    # Buildings by household count: the map's source is the API's answer for the view.
    page.click(".bd-control button[data-mode=households]")
    query = wait_shown(page, None)
    answer = api(hall, f"/api/basedata/map?bbox={query}")
    codes = sorted(f["properties"]["code"] for f in answer["features"])
    assert codes and shown_codes(page) == codes and answer["truncated"] is False
    assert {c.split("-")[0] for c in codes} >= {hall["mine"]}
    assert page.get_attribute(".bd-control button[data-mode=households]", "aria-pressed") == "true"
    assert f"本视图 {len(codes)} 栋" in page.inner_text(".bd-legend")

    # By overdue checks: an overdue building is drawn red, one on time is not.
    page.click(".bd-control button[data-mode=overdue]")
    late = [f for f in answer["features"] if f["properties"]["overdue"]]
    fine = [f for f in answer["features"] if not f["properties"]["overdue"]]
    assert late and fine, "the sample should hold both overdue and on-time buildings here"
    page.wait_for_function("() => window.cc.basedata.state === 'shown'", timeout=10000)
    red = page.evaluate(PIXEL, late[0]["geometry"]["coordinates"])
    assert red[0] > 200 and red[1] < 90 and red[2] < 90, red
    rendered = page.evaluate(
        "([lon, lat]) => { const m = window.cc.map().map; return m.queryRenderedFeatures(m.project([lon, lat]), "
        "{ layers: ['buildings'] }).map((f) => f.properties.overdue); }",
        late[0]["geometry"]["coordinates"],
    )
    assert True in rendered
    green = page.evaluate(PIXEL, fine[0]["geometry"]["coordinates"])
    assert green[1] > 150 and green[0] < 150, green
    page.screenshot(path=str(ARTIFACTS / "buildings-overdue.png"))

    # Moving the map reloads the view (debounced); below the zoom it asks to zoom in.
    other = hall["areas"][hall["other"]]
    page.evaluate(JUMP, [other.lon, other.lat, ZOOM])
    moved = wait_shown(page, query)
    assert shown_codes(page) == sorted(
        f["properties"]["code"] for f in api(hall, f"/api/basedata/map?bbox={moved}")["features"]
    )
    page.evaluate(JUMP, [other.lon, other.lat, 13.5])
    page.wait_for_selector(".bd-legend .bd-status[data-state=zoom]", timeout=5000)
    assert shown_codes(page) == [] and "放大地图查看楼栋" in page.inner_text(".bd-legend")

    # Patrol coverage: the grid checked today is filled otherwise than the one not checked.
    page.click(".bd-control button[data-mode=off]")
    page.check(".bd-control input[data-layer=coverage]")
    page.wait_for_function(
        "() => Number(document.querySelector('.bd-control').dataset.coverLoads || 0) > 0", timeout=10000
    )
    states = page.evaluate(
        "(codes) => codes.map((id) => window.cc.map().map.getFeatureState({ source: 'fine', id }).cover)",
        [hall["mine"], hall["other"]],
    )
    assert states == [1, 0]
    fills = []
    for grid in (mine, other):
        page.evaluate(JUMP, [*inside(grid), ZOOM])
        fills.append(page.evaluate(PIXEL, [None, None]))
    checked, unchecked = fills
    assert checked != unchecked
    assert checked[1] > checked[0] and unchecked[0] > unchecked[1], fills  # green against red
    assert "今日已巡 1 / 应巡 2 处" in page.inner_text(".bd-legend")
    page.evaluate(JUMP, [mine.lon, mine.lat, ZOOM - 1.5])
    page.click(".bd-control button[data-mode=households]")
    wait_shown(page, None)
    page.screenshot(path=str(ARTIFACTS / "coverage-and-buildings.png"))

    # The control and the legend are Chinese; every key the wall asked for is catalogued.
    words = visible_texts(page, ".map-panel")["words"]
    assert "楼栋户数" in words and "今日巡查覆盖率" in words and "按逾期核查" in words
    assert sorted(set(english_words(words))) == []
    assert page.evaluate("async () => (await import('/ui/common/i18n.js')).missingKeys()") == []
    # On a phone the control and the legend stay inside the map: the page does not widen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / "wall-390.png"))
    assert overflow_px(page) == 0
    assert not errors, errors
    page.context.close()
