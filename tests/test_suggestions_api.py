"""Suggested classes of reports over HTTP (command_center/api/suggestions.py), on a real server:
text (JSON) and a rendered photo with a street stall (multipart), the choice recorded and
linked to a case (by the worker, and by Open311's `suggestion_id`), the desk's suggestions of
a case, the figures, refusals with reasons, the rate limit, and who may call what."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cv2
import httpx
import pytest

from command_center.api.suggestions import LIMITER_KEY
from command_center.config import parse_config
from command_center.ratelimit import RateLimiter
from command_center.runtime import Runtime
from dispatch.city import City
from scenes import SceneRenderer
from tests.helpers import ServerThread, build_runtime, serve_app

pytestmark = pytest.mark.slow
URL = "/api/suggestions"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("suggestions")
    config = parse_config(
        {
            "server": {"data_dir": str(data)},
            "store": f"sqlite:///{data / 'cc.db'}",
            "citizen": {"reports_per_minute": 600, "burst": 100},
        }
    )
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        # The module's public calls all come from 127.0.0.1: more than the default burst (15)
        # within seconds on a fast run. The rate limit has its own test, with its own limiter.
        setattr(srv.app.state, LIMITER_KEY, RateLimiter(6000.0, 1000))
        yield srv, rt


@pytest.fixture
def public(server: tuple[ServerThread, Runtime]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].url, timeout=60) as client:
        yield client


def staff(server: tuple[ServerThread, Runtime], **who: str) -> httpx.Client:
    return httpx.Client(base_url=server[0].url, timeout=60, headers=server[0].headers(**who))


def stall_photo() -> bytes:
    """A street camera's frame with a stall open in it (the renderer's ground truth says so)."""
    renderer = SceneRenderer(5, kind="street")
    stall = next(e for e in renderer.events if e["kind"] == "stall")
    image, labels = renderer.render(stall["active_s"][0] + 10)
    assert "stall" in [label for label, _ in labels]
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    return jpeg.tobytes()


def codes(answer: dict[str, Any]) -> list[str]:
    return [item["code"] for item in answer["items"]]


def test_a_description_gets_named_classes_and_is_stored(server, public: httpx.Client) -> None:  # noqa: ANN001
    answer = public.post(URL, json={"text": "路边有人摆摊卖水果，人行道都堵了"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert codes(body)[0] == "0501" and len(body["items"]) == 5
    first = body["items"][0]
    assert first["name"] == "占道经营" and first["name_en"].startswith("Street vending") and 0 < first["score"] <= 1
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    row = server[1].suggestions.records.get(body["id"])
    assert row is not None and row["source"] == "citizen" and row["chosen_code"] is None
    assert row["suggested"][0][0] == "0501" and not row["has_photo"]


def test_a_photo_with_a_stall_suggests_street_vending(server, public: httpx.Client) -> None:  # noqa: ANN001
    photo = stall_photo()
    answer = public.post(URL, data={"text": "", "source": "citizen"}, files={"photo": ("street.jpg", photo, "image/jpeg")})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert "0501" in codes(body)[:3], body
    assert body["photo_labels"]["stall"] >= 0.3
    # With a vague text the photo still carries it into the top 3.
    mixed = public.post(URL, data={"text": "这里有问题"}, files={"photo": ("street.jpg", photo, "image/jpeg")}).json()
    assert "0501" in codes(mixed)[:3], mixed
    assert server[1].suggestions.records.get(mixed["id"])["has_photo"]


def test_the_choice_is_recorded_once_and_officers_may_change_it(server, public: httpx.Client) -> None:  # noqa: ANN001
    made = public.post(URL, json={"text": "垃圾桶满了，垃圾溢出来一地"}).json()
    top = made["items"][0]["code"]
    chosen = public.post(f"{URL}/{made['id']}/choice", json={"code": top})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["accepted"] is True
    again = public.post(f"{URL}/{made['id']}/choice", json={"code": "0101"})
    assert again.status_code == 409 and again.json()["detail"]["chosen_code"] == top
    with staff(server, role="officer", user="officer1") as officer:
        changed = officer.post(f"{URL}/{made['id']}/choice", json={"code": "0101"})
        assert changed.status_code == 200 and changed.json()["accepted"] is (top == "0101")
    row = server[1].suggestions.records.get(made["id"])
    assert row["chosen_code"] == "0101" and row["chosen_by"] == "officer1" and row["chosen_at"]


def test_bad_input_is_refused_with_reasons(public: httpx.Client) -> None:
    cases = [
        (public.post(URL, json={}), 400, "nothing to suggest from"),
        (public.post(URL, json={"text": "x" * 4001}), 400, "bad field 'text'"),
        (public.post(URL, json={"text": "垃圾", "source": "robot"}), 400, "bad field 'source'"),
        (public.post(URL, json={"text": "垃圾", "source": "officer"}), 403, "forbidden"),
        (public.post(URL, json={"text": 42}), 400, "bad fields"),
        (public.post(URL, json={"photo": "not base64!"}), 400, "bad field 'photo'"),
        (public.post(URL, content=b"{", headers={"content-type": "application/json"}), 400, "malformed JSON"),
        (public.post(URL, content=b"text=x", headers={"content-type": "text/plain"}), 415, "unsupported content type"),
        (public.post(URL, files={"photo": ("a.jpg", b"not an image", "image/jpeg")}), 400, "the photo is not an image we can read"),
        (public.post(URL, files={"photo": ("a.jpg", b"\xff\xd8" + b"0" * 800_000, "image/jpeg")}), 413, "photo too large"),
        (public.post(f"{URL}/Snope/choice", json={"code": "0101"}), 404, "no such suggestion"),
        (public.post(f"{URL}/S{'0' * 24}/choice", json={"code": "0101"}), 404, "no such suggestion"),
    ]
    for answer, status, error in cases:
        assert answer.status_code == status, (status, error, answer.text)
        assert answer.json()["error"] == error
    made = public.post(URL, json={"text": "井盖不见了"}).json()
    assert public.post(f"{URL}/{made['id']}/choice", json={"code": "nope"}).status_code == 400
    assert public.post(f"{URL}/{made['id']}/choice", json={}).status_code == 400
    linked = public.post(f"{URL}/{made['id']}/choice", json={"code": "9902", "case_id": "C1"})
    assert linked.status_code == 403  # only a signed-in user links a choice to a case


def test_the_public_is_rate_limited(server, public: httpx.Client) -> None:  # noqa: ANN001
    state = server[0].app.state
    kept = getattr(state, LIMITER_KEY)
    setattr(state, LIMITER_KEY, RateLimiter(1.0, 2))
    try:
        answers = [public.post(URL, json={"text": "路灯不亮"}) for _ in range(3)]
    finally:
        setattr(state, LIMITER_KEY, kept)
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].json()["detail"]["retry_after_s"] > 0


def test_a_worker_suggests_reports_and_links_the_choice(server, small_city: City) -> None:  # noqa: ANN001
    worker = small_city.workers[3]
    with staff(server, role="worker", worker_id=worker.id) as phone:
        made = phone.post(URL, json={"text": "巡查发现共享单车乱停放堵塞人行道"})
        assert made.status_code == 201 and "0503" in codes(made.json())[:3]
        assert phone.post(URL, json={"text": "单车", "source": "officer"}).status_code == 403
        grid = small_city.grids[10]
        case = phone.post("/api/cases", json={"matter_code": "0503", "lon": grid.lon, "lat": grid.lat, "description": "单车乱停"})
        assert case.status_code in (200, 201), case.text
        case_id = case.json()["id"]
        chosen = phone.post(f"{URL}/{made.json()['id']}/choice", json={"code": "0503", "case_id": case_id})
        assert chosen.status_code == 200, chosen.text
        assert phone.get("/api/suggestions/stats").status_code == 403
        assert phone.get(f"/api/cases/{case_id}/suggestions").status_code == 403
    row = server[1].suggestions.records.get(made.json()["id"])
    assert row["source"] == "worker" and row["case_id"] == case_id and row["chosen_by"] == worker.id


def test_a_citizen_report_names_the_suggestion_it_followed(server, public: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    answer = public.post(URL, json={"text": "小区门口一堆垃圾没人清理"})
    assert answer.status_code == 201, answer.text
    made = answer.json()
    grid = small_city.grids[120]
    form = {"service_code": "0101", "lat": str(grid.lat), "long": str(grid.lon), "description": "小区门口一堆垃圾没人清理",
            "suggestion_id": made["id"]}  # fmt: skip
    report = public.post("/open311/v2/requests.json", data=form)
    assert report.status_code == 201, report.text
    row = server[1].suggestions.records.get(made["id"])
    assert row["chosen_code"] == "0101" and row["chosen_by"] == "citizen" and row["case_id"]
    # An unknown suggestion id does not cost the citizen their report.
    lost = public.post("/open311/v2/requests.json", data=form | {"suggestion_id": "Sbogus", "description": "垃圾又来了"})
    assert lost.status_code == 201


def test_the_desk_gets_a_cases_suggestions_and_the_figures(server, small_city: City) -> None:  # noqa: ANN001
    grid = small_city.grids[30]
    with staff(server, role="officer", user="desk1") as officer:
        case = officer.post(
            "/api/cases",
            json={"matter_code": "9999", "lon": grid.lon, "lat": grid.lat, "description": "楼下井盖缺失，晚上很危险", "source": "citizen"},
        ).json()
        first = officer.get(f"/api/cases/{case['id']}/suggestions")
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["matter_code"] == "9999" and codes(body)[0] == "9902" and body["chosen_code"] is None
        assert officer.get(f"/api/cases/{case['id']}/suggestions").json()["id"] == body["id"]  # the same row
        officer.post(f"{URL}/{body['id']}/choice", json={"code": "9902", "case_id": case["id"]}).raise_for_status()
        assert officer.get(f"/api/cases/{case['id']}/suggestions").json()["chosen_code"] == "9902"
        assert officer.get("/api/cases/nope/suggestions").status_code == 404
        stats = officer.get("/api/suggestions/stats").json()
    assert stats["total"] >= 5 and stats["chosen"] >= 3 and 0 <= stats["top1_agreement"] <= 1
    assert stats["by_source"]["officer"]["chosen"] >= 1 and stats["classifier"]["matters"] == 56  # every matter of configs/matters.yaml
    assert httpx.get(f"{server[0].url}/api/suggestions/stats", timeout=10).status_code == 401
