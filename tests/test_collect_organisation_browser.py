"""新增单位 on the worker's terminal (the 采集 tab), in Chromium on a 390 px phone against a real
server: offline, the worker adds a shop on one of the grid's standard addresses; a mistyped
unified social credit code is caught on the phone (its check character, as the server
computes it); the name is corrected while the form waits in the queue; back online the shop
is made ONCE under its credit code, its phone sealed. A workshop without a credit code gets a
key made on the phone and is made once too. The page names them, never shows the keys. Then
the shop's re-check (the re-check list's hook) opens its own form: the phone shown masked,
changed, and the re-check recorded with it."""

from __future__ import annotations

from typing import Any

from basedata.identity import credit_check_char
from basedata.model import Organisation
from tests.browser import NEEDS_BROWSER, new_page, overflow_px, sign_in_form
from tests.test_collect_browser import PASSWORD, Field, field, shot, wait_for  # noqa: F401 - `field` is a fixture

pytestmark = NEEDS_BROWSER
CREDIT_BODY = "91440106MA5CXXXX7"
CREDIT = CREDIT_BODY + credit_check_char(CREDIT_BODY)
MISTYPED = CREDIT_BODY + ("0" if credit_check_char(CREDIT_BODY) != "0" else "1")
SHOP, SHOP_RENAMED, WORKSHOP = "好又多便利店", "好又多便利店（体育西店）", "陈记五金加工"


def _add(page: Any, name: str, address: str, credit: str = "", phone: str = "") -> None:
    page.click("[data-act=new_organisation]")
    page.fill("#collect-form input[name=name]", name)
    page.select_option("#collect-form select[name=kind]", "shop")
    page.fill("#collect-form input[name=address_code]", address)
    page.fill("#collect-form input[name=credit_code]", credit)
    page.fill("#collect-form input[name=contact_phone]", phone)
    page.click("#collect-form button[type=submit]")


def test_a_new_organisation_is_checked_on_the_phone_and_made_once(field: Field, browser: Any) -> None:  # noqa: F811
    address = field.records.get("building", field.building).model_dump()["address_code"]  # type: ignore[union-attr]
    errors: list[str] = []
    page = new_page(browser, 390, 844, errors)  # a phone
    context = page.context
    try:
        page.goto(f"{field.srv.url}/terminal#collect")
        sign_in_form(page, field.worker, PASSWORD)
        page.wait_for_selector(f".collect-building-item[data-code='{field.building}']", timeout=10000)
        context.set_offline(True)
        _add(page, SHOP, address, MISTYPED, "13800138000")
        refused = page.wait_for_selector("#collect-form .rounds-error:not([hidden])", timeout=3000).inner_text()
        assert "校验位不正确" in refused, refused
        assert page.inner_text("#collect-form [data-field=name] .collect-label") == "单位名称"
        page.fill("#collect-form input[name=credit_code]", CREDIT.lower())  # typed in lower case: taken
        page.click("#collect-form button[type=submit]")
        queued = f".collect-new[data-code='{CREDIT}'][data-kind=organisation]"
        page.wait_for_selector(queued, timeout=5000)
        assert page.inner_text(f"{queued} .collect-name") == SHOP and "商铺" in page.inner_text(queued)
        page.click(f"{queued} [data-act=edit]")  # corrected while it waits: the same entry
        assert page.input_value("#collect-form input[name=credit_code]") == CREDIT
        page.fill("#collect-form input[name=name]", SHOP_RENAMED)
        page.click("#collect-form button[type=submit]")
        page.wait_for_selector(f"{queued}:has-text('{SHOP_RENAMED}')", timeout=5000)
        _add(page, WORKSHOP, address)
        page.wait_for_selector(f".collect-new[data-kind=organisation]:has-text('{WORKSHOP}')", timeout=5000)
        assert page.inner_text("#count-collect") == "2" and overflow_px(page) == 0
        assert CREDIT not in page.inner_text("#collect-buildings")  # names on the page, not keys
        shot(page, "organisation-offline")

        context.set_offline(False)
        page.evaluate("() => window.cc.collect.flush()")
        page.wait_for_selector("#count-collect:text-is('0')", timeout=10000)
        made = [o for o in field.records.list("organisation", "", limit=1000) if o.model_dump()["name"] in (SHOP, SHOP_RENAMED, WORKSHOP)]
        assert sorted(o.model_dump()["name"] for o in made) == sorted([SHOP_RENAMED, WORKSHOP])
        shop = next(o for o in made if isinstance(o, Organisation) and o.name == SHOP_RENAMED)
        workshop = next(o for o in made if isinstance(o, Organisation) and o.name == WORKSHOP)
        assert shop.id == shop.credit_code == CREDIT and shop.source == "collect" and shop.address_code == address
        assert shop.contact_phone is not None and shop.contact_phone.tail == "8000" and "13800138000" not in shop.contact_phone.cipher
        assert workshop.credit_code is None and workshop.id.startswith("U-") and len(workshop.id) <= 40
        assert field.creates(CREDIT) == 1 and field.creates(workshop.id) == 1
        wait_for(lambda: not page.query_selector(".collect-new[data-kind=organisation]"), 5, "the sent forms to leave the list")

        # re-checked from the re-check list's hook: the organisation's own form, its phone changed
        page.evaluate("(id) => window.dispatchEvent(new CustomEvent('collect:edit', {detail: {kind: 'organisations', id}}))", CREDIT)
        page.wait_for_selector("#collect-form form.collect-form", timeout=10000)
        assert page.inner_text("#collect-form h2") == f"核查单位：{SHOP_RENAMED}"
        assert page.input_value("#collect-form input[name=name]") == SHOP_RENAMED
        assert "8000" in page.inner_text("#collect-form [data-field=contact_phone]")  # masked, kept unless typed
        assert page.input_value("#collect-form input[name=contact_phone]") == ""
        page.fill("#collect-form input[name=contact_phone]", "13900139000")
        page.click("#collect-form button[type=submit]")

        def rechecked() -> Organisation | None:
            found = field.records.get("organisation", CREDIT)
            return found if isinstance(found, Organisation) and found.version == 2 else None

        after = wait_for(rechecked, 10, "the re-check")
        assert after.contact_phone is not None and after.contact_phone.tail == "9000" and after.name == SHOP_RENAMED
        assert after.source == "verify" and after.verified_at == field.rt.dispatcher.today()
        assert not errors, errors
    except Exception:
        shot(page, "organisation-failed")
        raise
    finally:
        context.close()
