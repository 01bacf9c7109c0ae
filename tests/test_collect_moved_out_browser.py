"""迁出 on the worker's terminal (the 采集 tab), in Chromium on a 390 px phone against a real
server: offline, the worker marks a person of a household moved out (takes it back while it
waits, then marks it again); back online it is sent
once (one 'basedata.leave' audit, `left_on` the city's date); the person is then shown apart
as moved out, masked as ever, and a mistaken 迁出 is undone on site (撤销迁出: one
'basedata.return' audit, the person back in the household)."""

from __future__ import annotations

from typing import Any

import httpx

from basedata.model import Person
from tests.browser import NEEDS_BROWSER, new_page, overflow_px, sign_in_form
from tests.test_collect_browser import PASSWORD, Field, field, shot  # noqa: F401 - `field` is a fixture

pytestmark = NEEDS_BROWSER


def _audits(field: Field, action: str, key: str) -> int:  # noqa: F811
    return sum(1 for r in field.rt.store.iter_audit() if r["action"] == action and r["target"] == key)


def test_a_person_marked_moved_out_on_site_and_the_mistake_undone(field: Field, browser: Any) -> None:  # noqa: F811
    homes = [h for h in field.records.list("household", "", limit=10000) if h.model_dump()["building_code"] == field.building]
    people = [p for p in field.records.list("person", "", limit=100000) if isinstance(p, Person)
              and p.household_id in {h.model_dump()["id"] for h in homes}]  # fmt: skip
    person = sorted(people, key=lambda p: p.id)[0]
    card = f".collect-person[data-person-id='{person.id}']"
    errors: list[str] = []
    page = new_page(browser, 390, 844, errors)  # a phone
    context = page.context
    try:
        page.goto(f"{field.srv.url}/terminal#collect")
        sign_in_form(page, field.worker, PASSWORD)
        page.click(f".collect-building-item[data-code='{field.building}']", timeout=10000)
        page.wait_for_selector(card, timeout=10000)
        context.set_offline(True)
        page.click(f"{card}:not([data-moved]) [data-act=leave]")
        assert page.inner_text("#collect-form h2") == f"迁出：{person.name}"
        page.click("#collect-form button[type=submit]")
        page.wait_for_selector(f"{card} .collect-state", timeout=5000)  # 待发送, nothing sent yet
        assert page.query_selector(f"{card} [data-act=leave]") is None
        page.click(f"{card} [data-act=withdraw]")  # taken back before it was sent: nothing queued
        page.wait_for_selector("#count-collect:text-is('0')", timeout=5000)
        page.click(f"{card} [data-act=leave]")
        page.click("#collect-form button[type=submit]")
        page.wait_for_selector(f"{card} .collect-state", timeout=5000)
        current = field.records.get("person", person.id)
        assert isinstance(current, Person) and current.left_on is None
        context.set_offline(False)
        page.evaluate("() => window.cc.collect.flush()")
        moved = f"{card}[data-moved=true]"
        page.wait_for_selector(moved, timeout=10000)
        gone = field.records.get("person", person.id)
        assert isinstance(gone, Person) and gone.left_on == field.rt.dispatcher.today()
        assert _audits(field, "basedata.leave", person.id) == 1
        assert "已迁出" in page.inner_text(moved) and person.name in page.inner_text(moved)
        assert page.query_selector(f"{card}:not([data-moved])") is None  # not among the residents
        assert overflow_px(page) == 0
        shot(page, "moved-out")
        # what the page was given: masked as ever, in the worker's scope
        view = httpx.get(f"{field.srv.url}/api/basedata/buildings/{field.building}/households", timeout=10,
                         headers=field.srv.headers(role="worker", worker_id=field.worker)).json()  # fmt: skip
        shown = [p for h in view["households"] for p in h["moved_out"] if p["id"] == person.id]
        assert len(shown) == 1 and shown[0]["id_number"].startswith("*") and shown[0]["left_on"]

        page.click(f"{moved} [data-act=return]")
        assert page.inner_text("#collect-form h2") == f"撤销迁出：{person.name}"
        page.click("#collect-form button[type=submit]")
        page.wait_for_selector(f"{card}:not([data-moved]) [data-act=leave]", timeout=10000)
        back = field.records.get("person", person.id)
        assert isinstance(back, Person) and back.left_on is None
        assert _audits(field, "basedata.return", person.id) == 1 and page.query_selector(moved) is None
        page.wait_for_selector("#count-collect:text-is('0')", timeout=5000)
        assert not errors, errors
    except Exception:
        shot(page, "moved-out-failed")
        raise
    finally:
        context.close()
