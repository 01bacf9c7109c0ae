"""Residents' sign-in, "my reports" and ratings (issue 22, part 1) on a real server, on SQLite
and PostgreSQL, with the residents' clock frozen (the code's expiry, the limits' windows).

The code comes from the `log` sender's test hook (residents/sms.LogSender.latest): what the
demo prints to the log. Refusals are checked for their reason and for what they left in the
store: nothing (no code row on a flood, no rating on a refused rating)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image

from command_center.api.residents import Desk
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store.resident_records import ResidentRecords, resident_store
from dispatch.city import City
from residents.codes import MAX_TRIES, TTL
from residents.sms import LogSender
from tests.helpers import ServerThread, build_runtime, postgres_database, serve_app

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
OPEN311 = "/open311/v2/requests.json"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[tuple[ServerThread, Runtime, Clock]]:
    data = tmp_path_factory.mktemp("residents")
    sqlite = contextlib.nullcontext(f"sqlite:///{data / 'cc.db'}")
    with postgres_database("cc_residents") if request.param == "postgresql" else sqlite as url:
        config = parse_config({"server": {"data_dir": str(data)}, "store": url,
                               "citizen": {"reports_per_minute": 600, "burst": 100}})  # fmt: skip
        rt = build_runtime(config, city=small_city)
        with serve_app(rt) as srv:
            httpx.post(srv.url + "/api/residents/code", json={"phone": "x"})  # makes the residents' desk
            clock = Clock()
            desk(srv).clock = clock
            yield srv, rt, clock


def desk(srv: ServerThread) -> Desk:
    found: Desk = srv.app.state.residents  # type: ignore[attr-defined]
    return found


@pytest.fixture
def http(server: tuple[ServerThread, Runtime, Clock]) -> Iterator[httpx.Client]:
    server[2].now += timedelta(hours=2)  # each test starts past the last one's windows
    with httpx.Client(base_url=server[0].url, timeout=10) as client:
        yield client


def records(server: tuple[ServerThread, Runtime, Clock]) -> ResidentRecords:
    return resident_store(server[1].store)


def code_rows(server: tuple[ServerThread, Runtime, Clock]) -> int:
    store = records(server).store
    with store._reading() as db:
        return int(db.execute("SELECT count(*) FROM resident_codes").fetchone()[0])


def latest(srv: ServerThread, phone: str) -> str:
    sender = desk(srv).sender
    assert isinstance(sender, LogSender)
    code = sender.latest(phone)
    assert code is not None
    return code


def sign_in(http: httpx.Client, srv: ServerThread, phone: str) -> dict[str, str]:
    assert http.post("/api/residents/code", json={"phone": phone}).status_code == 202
    answer = http.post("/api/residents/session", json={"phone": phone, "code": latest(srv, phone)})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_a_code_signs_in_once_and_sign_out_revokes(server, http: httpx.Client) -> None:  # noqa: ANN001
    srv = server[0]
    phone = "+86 138-0013-8000"
    sent = http.post("/api/residents/code", json={"phone": phone})
    assert sent.status_code == 202 and sent.json()["expires_in_s"] == 300
    unknown = http.post("/api/residents/code", json={"phone": "13900139000"})
    assert unknown.status_code == 202 and unknown.json() == sent.json()  # known or not: the same answer
    code = latest(srv, "13800138000")
    answer = http.post("/api/residents/session", json={"phone": "13800138000", "code": code})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["resident"]["phone"] == "138****8000" and "cc_resident" in answer.headers["set-cookie"]
    who = {"Authorization": f"Bearer {body['token']}"}
    assert http.get("/api/residents/me", headers=who).json()["phone"] == "138****8000"
    replay = http.post("/api/residents/session", json={"phone": "13800138000", "code": code})
    assert replay.status_code == 400 and replay.json()["error"] == "验证码已使用"
    assert http.delete("/api/residents/session", headers=who).status_code == 200
    assert http.get("/api/residents/me", headers=who).status_code == 401
    # the phone is sealed, not stored in clear
    with records(server).store._reading() as db:
        sealed = db.execute("SELECT phone_sealed, phone_masked FROM residents").fetchall()
    assert sealed and all("13800138000" not in str(row) for row in sealed)


def test_a_code_expires_after_five_minutes(server, http: httpx.Client) -> None:  # noqa: ANN001
    srv, _, clock = server
    assert http.post("/api/residents/code", json={"phone": "13700137000"}).status_code == 202
    code = latest(srv, "13700137000")
    clock.now += TTL + timedelta(seconds=1)
    late = http.post("/api/residents/session", json={"phone": "13700137000", "code": code})
    assert late.status_code == 400 and late.json()["error"] == "验证码已过期，请重新获取"


def test_wrong_codes_are_counted_and_the_sixth_try_is_refused(server, http: httpx.Client) -> None:  # noqa: ANN001
    srv = server[0]
    phone = "13600136000"
    assert http.post("/api/residents/code", json={"phone": phone}).status_code == 202
    code = latest(srv, phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for n in range(MAX_TRIES):
        answer = http.post("/api/residents/session", json={"phone": phone, "code": wrong})
        assert answer.status_code == 400 and answer.json()["error"] == "验证码错误"
        assert answer.json()["detail"]["tries_left"] == MAX_TRIES - n - 1
    sixth = http.post("/api/residents/session", json={"phone": phone, "code": code})
    assert sixth.status_code == 400 and sixth.json()["error"] == "验证码错误次数过多，请重新获取"
    malformed = http.post("/api/residents/session", json={"phone": phone, "code": "12ab"})
    assert malformed.status_code == 400 and malformed.json()["error"] == "验证码为6位数字"


def test_floods_from_one_phone_are_refused_with_retry_after(server, http: httpx.Client) -> None:  # noqa: ANN001
    clock = server[2]
    phone = "13500135000"
    before = code_rows(server)
    assert http.post("/api/residents/code", json={"phone": phone}).status_code == 202
    again = http.post("/api/residents/code", json={"phone": phone})
    assert again.status_code == 429 and 1 <= int(again.headers["retry-after"]) <= 60
    assert "秒后再试" in again.json()["error"]
    for _ in range(4):
        clock.now += timedelta(seconds=61)
        assert http.post("/api/residents/code", json={"phone": phone}).status_code == 202
    clock.now += timedelta(seconds=61)
    sixth = http.post("/api/residents/code", json={"phone": phone})
    assert sixth.status_code == 429 and sixth.json()["error"] == "该手机号获取验证码次数过多，请一小时后再试"
    assert code_rows(server) - before == 5  # nothing stored on a refusal
    bad = http.post("/api/residents/code", json={"phone": "12345"})
    assert bad.status_code == 400 and "手机号" in bad.json()["error"]


def test_floods_from_one_address_are_refused(server, http: httpx.Client) -> None:  # noqa: ANN001
    before = code_rows(server)
    for n in range(20):
        assert http.post("/api/residents/code", json={"phone": f"1590000{n:04d}"}).status_code == 202
    flood = http.post("/api/residents/code", json={"phone": "15900009999"})
    assert flood.status_code == 429 and flood.json()["error"] == "此网络获取验证码过于频繁，请稍后再试"
    assert int(flood.headers["retry-after"]) > 3000
    assert code_rows(server) - before == 20


def test_tokens_are_kept_apart_from_staff(server, http: httpx.Client) -> None:  # noqa: ANN001
    srv = server[0]
    resident = sign_in(http, srv, "13400134000")
    staff = srv.headers(role="officer")
    assert http.get("/api/residents/me", headers=staff).status_code == 403
    assert (
        http.get("/api/residents/me/reports", headers=staff).json()["error"] == "工作人员账号不能使用居民功能"
    )
    for path in ("/api/cases", "/api/auth/me"):
        assert http.get(path, headers=resident).status_code == 401
    assert http.get("/api/residents/me").status_code == 200  # by the cookie sign-in set
    # a change needs the header: the cookie alone (what another site could make a browser send) is not enough
    assert http.post("/api/residents/me/reports/R1/rating", json={"stars": 5}).status_code == 401
    assert httpx.get(srv.url + "/api/residents/me").status_code == 401  # no cookie, no token


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def _close(http: httpx.Client, srv: ServerThread, rt: Runtime, report_id: str) -> str:
    case = rt.store.get_case(rt.store.get_report(report_id)["case_id"])
    assert case is not None
    worker, officer = srv.headers(role="worker", worker_id=case.assignee), srv.headers(role="officer")
    photo = http.post(
        f"/api/cases/{case.id}/photos", content=_photo(), headers=worker | {"Content-Type": "image/jpeg"}
    )
    assert photo.status_code == 201, photo.text
    steps = (("accept", worker, {}), ("feedback", worker, {"note": "已清理完毕", "photos": [photo.json()["id"]]}),
             ("close", officer, {"note": "核查通过"}))  # fmt: skip
    for action, who, body in steps:
        assert http.post(f"/api/cases/{case.id}/{action}", json=body, headers=who).status_code == 200
    return case.id


def test_my_reports_and_a_rating_once_closed(server, http: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    srv, rt, _ = server
    alice, bob = sign_in(http, srv, "13300133000"), sign_in(http, srv, "13200132000")
    grid = small_city.grids[120]
    form = {"service_code": "0101", "lat": str(grid.lat), "long": str(grid.lon), "description": "路灯不亮"}
    made = http.post(OPEN311, data=form, headers=alice)
    assert made.status_code == 201 and made.json()[0]["account_id"]
    report_id = made.json()[0]["service_request_id"]
    anonymous = http.post(OPEN311, data=form | {"description": "匿名上报"})
    assert anonymous.status_code == 201 and anonymous.json()[0]["account_id"] is None
    (mine,) = http.get("/api/residents/me/reports", headers=alice).json()["items"]
    assert (
        mine["id"] == report_id and mine["matter"] and mine["grid"] == grid.name and mine["status"] == "open"
    )
    assert mine["status_text"] and mine["can_rate"] is False and "case_id" not in mine
    assert http.get("/api/residents/me/reports", headers=bob).json()["items"] == []
    rating = f"/api/residents/me/reports/{report_id}/rating"
    assert http.post(rating, json={"stars": 5}, headers=bob).status_code == 404  # not Bob's
    early = http.post(rating, json={"stars": 5}, headers=alice)
    assert early.status_code == 409 and early.json()["error"] == "事件办结后才能评价"
    case_id = _close(http, srv, rt, report_id)
    assert records(server).case_rating(case_id) == (0, None)  # nothing stored on the refusals
    (closed,) = http.get("/api/residents/me/reports", headers=alice).json()["items"]
    assert (
        closed["status"] == "closed" and closed["status_text"] == "已办结" and closed["reply"] == "已清理完毕"
    )
    assert closed["can_rate"] and closed["closed_at"] and closed["closing_photo_url"]
    shown = http.get(closed["closing_photo_url"], headers=alice)
    assert shown.status_code == 200 and shown.content[:2] == b"\xff\xd8"
    assert http.get(closed["closing_photo_url"], headers=bob).status_code == 404
    for bad in ({"stars": 0}, {"stars": "5"}, {"stars": 4, "comment": "长" * 201}):
        assert http.post(rating, json=bad, headers=alice).status_code == 400
    rated = http.post(rating, json={"stars": 4, "comment": "处理及时"}, headers=alice)
    assert rated.status_code == 201, rated.text
    again = http.post(rating, json={"stars": 1}, headers=alice)
    assert again.status_code == 409 and again.json()["error"] == "已评价过，不能重复评价"
    assert records(server).case_rating(case_id) == (1, 4.0)
    (after,) = http.get("/api/residents/me/reports", headers=alice).json()["items"]
    assert after["rating"]["stars"] == 4 and after["can_rate"] is False
    audited = [r for r in rt.store.iter_audit() if r["action"] == "case.rating"]
    assert audited and audited[-1]["target"] == case_id and audited[-1]["role"] == "resident"


# the pure parts (residents/), without a server
def test_phone_numbers_are_normalised_and_checked() -> None:
    from residents.phone import BadPhone, mask_phone, normalise_phone

    for typed in ("13800138000", "+86 138 0013 8000", "0086-138-0013-8000", "１３８００１３８０００"):
        assert normalise_phone(typed) == "13800138000", typed
    for bad in ("12800138000", "1380013800", "020-87654321", "", "1" * 40, None, 13800138000):
        with pytest.raises(BadPhone):
            normalise_phone(bad)
    assert mask_phone("13800138000") == "138****8000"


def test_a_code_is_judged_by_use_then_tries_then_expiry() -> None:
    from residents.codes import StoredCode, Verdict, code_hash, judge, new_code

    key, phone = b"k" * 32, "f" * 64
    code = new_code()
    assert len(code) == 6 and code.isdigit()
    good, bad = code_hash(key, phone, code), code_hash(key, phone, "000000" if code != "000000" else "111111")
    live = StoredCode("C1", good, T0 + TTL, 0, None)
    assert judge(live, good, T0) is Verdict.OK and judge(live, bad, T0) is Verdict.WRONG
    assert judge(live, good, T0 + TTL) is Verdict.EXPIRED
    assert judge(StoredCode("C1", good, T0 + TTL, MAX_TRIES, None), good, T0) is Verdict.TOO_MANY
    assert judge(StoredCode("C1", good, T0 + TTL, 0, T0), good, T0) is Verdict.USED
    assert judge(None, good, T0) is Verdict.NONE
    assert code_hash(b"x" * 32, phone, code) != good  # keyed: another key, another hash
