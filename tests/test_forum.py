"""论坛 and search (issue 22) on a real server, SQLite and PostgreSQL: notices from the community's
officers, threads and replies by residents, a sensitive word refused, a report → hide → the post
gone for residents and kept for moderators with its trail → restore, a ban that stops posting,
another community's officer kept out, and search over notices, services and worker cards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from command_center.api.public import number_of
from dispatch.city import City
from tests.community_world import World, approved_provider, community_world
from tests.helpers import token_for


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[World]:
    yield from community_world(request.param, tmp_path_factory.mktemp("forum"), small_city)


@pytest.fixture
def http(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.srv.url, timeout=10) as client:
        yield client


def thread(world: World, http: httpx.Client, phone: str, title: str, body: str) -> httpx.Response:
    return http.post("/api/residents/me/threads", headers=world.resident(phone),
                     json={"community": world.community.code, "title": title, "body": body})  # fmt: skip


def visible_threads(world: World, http: httpx.Client) -> list[str]:
    items = http.get("/api/community/threads", params={"community": world.community.code}).json()["items"]
    return [t["id"] for t in items]


def test_notices_from_the_communitys_officers_only(world: World, http: httpx.Client) -> None:
    notice = {"community": world.community.code, "title": "停水通知", "body": "本周六 8:00-12:00 停水检修"}
    made = http.post("/api/community-admin/notices", headers=world.officer(), json=notice)
    assert made.status_code == 201 and made.json()["author_name"] == world.community.name, made.text
    assert (
        http.post("/api/community-admin/notices", headers=world.officer("other"), json=notice).status_code
        == 403
    )
    assert (
        http.post(
            "/api/community-admin/notices", headers=world.resident("13900000001"), json=notice
        ).status_code
        == 401
    )
    listed = http.get("/api/community/notices", params={"community": world.grid.code}).json()["items"]
    assert [n["title"] for n in listed] == ["停水通知"]
    assert http.get("/api/community/notices", params={"community": world.other.code}).json()["items"] == []
    article = http.post(
        "/api/community-admin/articles",
        headers=world.officer(),
        json={"title": "垃圾分类新规", "body": "自下月起实行"},
    )
    assert article.status_code == 400 and article.json()["detail"]["field"] == "area"
    admin = {"Authorization": f"Bearer {token_for(world.rt, role='admin', user='admin-city')}"}
    city_wide = http.post(
        "/api/community-admin/articles", headers=admin, json={"title": "垃圾分类新规", "body": "自下月起实行"}
    )
    assert city_wide.status_code == 201, city_wide.text
    articles = http.get("/api/community/articles", params={"community": world.other.code}).json()["items"]
    assert [a["title"] for a in articles] == ["垃圾分类新规"] and articles[0]["area_name"] == "全市"


def test_threads_replies_and_a_sensitive_word(world: World, http: httpx.Client) -> None:
    made = thread(world, http, "13900000011", "小区停车难", "晚上车位不够，大家有什么办法？")
    assert made.status_code == 201 and made.json()["author_name"] == "居民0011", made.text
    post = made.json()["id"]
    reply = http.post(f"/api/residents/me/threads/{post}/replies", headers=world.resident("13900000012"),
                      json={"body": "可以错峰停车"})  # fmt: skip
    assert reply.status_code == 201, reply.text
    shown = http.get(f"/api/community/threads/{post}").json()
    assert [r["body"] for r in shown["reply_items"]] == ["可以错峰停车"]
    assert post in visible_threads(world, http)
    filtered = thread(world, http, "13900000011", "好消息", "网上 赌-博 稳赚")
    assert filtered.status_code == 400 and filtered.json()["detail"] == {"field": "body", "filtered": True}
    assert "敏感词" in filtered.json()["error"]
    wide = thread(world, http, "13900000011", "ｆａｋｅ news", "全角也算")
    assert wide.status_code == 400
    empty = thread(world, http, "13900000011", "", "x")
    assert empty.status_code == 400 and empty.json()["detail"]["field"] == "title"
    with world.rt.store._reading() as db:  # type: ignore[attr-defined]
        bodies = [r[0] for r in db.execute("SELECT body FROM community_posts").fetchall()]
    assert not any("赌" in b or "全角" in b for b in bodies)  # nothing stored


def test_report_hide_restore_and_the_trail(world: World, http: httpx.Client) -> None:
    post = thread(world, http, "13900000021", "卖二手", "联系我 微信 xxx").json()["id"]
    reporter = world.resident("13900000022")
    first = http.post(f"/api/residents/me/posts/{post}/report", headers=reporter, json={"reason": "广告"})
    assert first.status_code == 201 and first.json()["first"]
    assert (
        http.post(
            f"/api/residents/me/posts/{post}/report", headers=reporter, json={"reason": "广告"}
        ).status_code
        == 200
    )
    queue = http.get("/api/community-admin/queue", headers=world.officer()).json()["items"]
    assert queue[0]["id"] == post and queue[0]["reports"] == 1
    assert post not in [
        p["id"]
        for p in http.get("/api/community-admin/queue", headers=world.officer("other")).json()["items"]
    ]
    assert (
        http.post(f"/api/community-admin/posts/{post}/hide", headers=world.officer("other")).status_code
        == 404
    )
    hidden = http.post(
        f"/api/community-admin/posts/{post}/hide", headers=world.officer(), json={"reason": "广告"}
    )
    assert hidden.status_code == 200 and hidden.json()["state"] == "hidden", hidden.text
    assert post not in visible_threads(world, http)
    assert http.get(f"/api/community/threads/{post}").status_code == 404
    assert (
        http.get("/api/community/search", params={"q": "二手", "community": world.community.code}).json()[
            "items"
        ]
        == []
    )
    seen = http.get(f"/api/community-admin/posts/{post}", headers=world.officer()).json()
    assert seen["state"] == "hidden" and seen["body"] == "联系我 微信 xxx"
    assert [(t["action"], t["role"]) for t in seen["trail"]] == [("report", "resident"), ("hide", "officer")]
    assert http.post(f"/api/community-admin/posts/{post}/hide", headers=world.officer()).status_code == 409
    restored = http.post(
        f"/api/community-admin/posts/{post}/restore", headers=world.officer(), json={"reason": "误报"}
    )
    assert restored.status_code == 200 and post in visible_threads(world, http)
    assert http.post(f"/api/community-admin/posts/{post}/burn", headers=world.officer()).status_code == 404


def test_a_ban_stops_posting_in_that_community(world: World, http: httpx.Client) -> None:
    assert thread(world, http, "13900000031", "第一帖", "大家好").status_code == 201
    me = http.get("/api/residents/me", headers=world.resident("13900000031")).json()["id"]
    ban = {"resident_id": me, "community": world.community.code, "days": 7, "reason": "多次发布广告"}
    assert http.post("/api/community-admin/bans", headers=world.officer("other"), json=ban).status_code == 403
    bad = http.post("/api/community-admin/bans", headers=world.officer(), json={**ban, "days": 0})
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "days"
    made = http.post("/api/community-admin/bans", headers=world.officer(), json=ban)
    assert made.status_code == 201, made.text
    blocked = thread(world, http, "13900000031", "第二帖", "还能发吗")
    assert blocked.status_code == 403 and "禁止" in blocked.json()["error"]
    elsewhere = http.post("/api/residents/me/threads", headers=world.resident("13900000031"),
                          json={"community": world.other.code, "title": "别处", "body": "另一个社区"})  # fmt: skip
    assert elsewhere.status_code == 201  # the ban holds in its community


def test_search_finds_notices_services_and_worker_cards(world: World, http: httpx.Client) -> None:
    http.post("/api/community-admin/notices", headers=world.officer(),
              json={"community": world.community.code, "title": "疫苗接种安排", "body": "社区卫生站周三接种"})  # fmt: skip
    provider = approved_provider(world, "13900000041", http)
    http.post("/api/residents/me/services", headers=provider, json={"category": "legal_aid", "title": "免费法律咨询",
              "description": "劳动纠纷、租房合同", "price": 0, "area": world.community.code})  # fmt: skip

    def find(q: str) -> list[dict[str, Any]]:
        answer = http.get("/api/community/search", params={"q": q, "community": world.community.code})
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    assert [(i["type"], i["title"]) for i in find("接种")] == [("notice", "疫苗接种安排")]
    assert [(i["type"], i["title"]) for i in find("租房")] == [("service", "免费法律咨询")]
    worker = world.rt.city.city.workers_by_grid[world.grid.code][0]
    cards = [i for i in find(worker.name) if i["type"] == "worker_card"]
    assert cards and cards[0]["id"] == world.grid.code and cards[0]["url"] == f"/grid/{world.grid.code}"
    assert any(i["id"] == world.grid.code for i in find(number_of(worker)))
    assert find("%") == [] and find("_") == []  # LIKE's own characters are plain text
    assert http.get("/api/community/search", params={"q": ""}).status_code == 400


def test_a_flood_of_posts_is_refused_and_not_stored(world: World, http: httpx.Client) -> None:
    phone = "13900000051"
    for n in range(10):
        assert thread(world, http, phone, f"第{n}帖", "内容").status_code == 201
    flood = thread(world, http, phone, "第十一帖", "内容")
    assert (
        flood.status_code == 429 and flood.headers["retry-after"] == "60" and "频繁" in flood.json()["error"]
    )
    assert thread(world, http, "13900000052", "别人的帖", "内容").status_code == 201  # per resident
    with world.rt.store._reading() as db:  # type: ignore[attr-defined]
        titles = [r[0] for r in db.execute("SELECT title FROM community_posts").fetchall()]
    assert "第十一帖" not in titles
