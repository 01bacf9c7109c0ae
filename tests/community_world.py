"""What tests/test_marketplace.py, tests/test_forum.py and tests/test_community_browser.py share:
a real server (SQLite or PostgreSQL) over the small city with a sensitive-word list, residents
signed in with the log sender's codes, officers of one community and of another."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import Area, City
from residents.sms import LogSender
from tests.helpers import ServerThread, build_runtime, postgres_database, serve_app, token_for

WORDS = ["赌博", "FAKE"]


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    community: Area  # the community the tests live in
    other: Area  # a community of the other district
    phones: dict[str, str] = field(default_factory=dict)  # resident → token

    @property
    def grid(self) -> Area:
        return self.rt.city.city.children(self.community.code)[0]

    def officer(self, whose: str = "mine") -> dict[str, str]:
        area = self.community if whose == "mine" else self.other
        token = token_for(self.rt, role="officer", user=f"officer-{whose}", jurisdiction=area.code[:12])
        return {"Authorization": f"Bearer {token}"}

    def resident(self, phone: str) -> dict[str, str]:
        """A resident's headers, signed in once per phone with the code the log sender kept."""
        if phone not in self.phones:
            url = self.srv.url
            assert httpx.post(f"{url}/api/residents/code", json={"phone": phone}).status_code == 202
            sender = self.srv.app.state.residents.sender  # type: ignore[attr-defined]
            assert isinstance(sender, LogSender)
            answer = httpx.post(
                f"{url}/api/residents/session", json={"phone": phone, "code": sender.latest(phone)}
            )
            assert answer.status_code == 200, answer.text
            self.phones[phone] = answer.json()["token"]
        return {"Authorization": f"Bearer {self.phones[phone]}"}


def community_world(backend: str, data: Any, city: City, **community: Any) -> Iterator[World]:
    """The world on a fresh store of the backend (a pytest fixture's body)."""
    sqlite = contextlib.nullcontext(f"sqlite:///{data / 'cc.db'}")
    with postgres_database("cc_community") if backend == "postgresql" else sqlite as url:
        config = parse_config({
            "server": {"data_dir": str(data)}, "store": url,
            "residents": {"codes_per_address_hour": 1000},
            "community": {"sensitive_words": WORDS, **community},
        })  # fmt: skip
        rt = build_runtime(config, city=city)
        with serve_app(rt) as srv:
            first = city.districts[0].code[:6]
            mine = next(c for c in city.communities if c.code.startswith(first) and city.children(c.code))
            other = next(c for c in city.communities if not c.code.startswith(first))
            yield World(srv, rt, mine, other)


def approved_provider(world: World, phone: str, http: httpx.Client) -> dict[str, str]:
    """A resident whose volunteer profile the community's officer approved."""
    who = world.resident(phone)
    applied = http.post("/api/residents/me/provider", headers=who,
                        json={"name": "张阿姨志愿队", "kind": "volunteer", "community": world.community.code})  # fmt: skip
    assert applied.status_code == 201, applied.text
    provider = applied.json()["provider"]["id"]
    decided = http.post(f"/api/community-admin/providers/{provider}/approve", headers=world.officer())
    assert decided.status_code == 200, decided.text
    return who


def community_steps(world: Any, one: Any) -> None:
    """tests/test_schemathesis.py's targeted steps for 服务超市 and 论坛: two residents (signed in
    with the log sender's codes, the residents' clock past the fuzz's floods), a provider approved
    by the city's officer, a service requested, accepted, done and rated; a notice, an article, a
    thread with a reply, reported, read by the moderator with its trail, hidden, its author banned;
    a search; the service closed. Every operation of the two areas answers 2xx once."""
    from datetime import UTC, datetime, timedelta

    srv = world.srv
    desk = srv.app.state.residents
    desk.clock = lambda: datetime.now(UTC) + timedelta(hours=5)
    for role, phone in (("provider", "13912340001"), ("requester", "13912340002")):
        assert httpx.post(f"{srv.url}/api/residents/code", json={"phone": phone}).status_code == 202
        signed = httpx.post(
            f"{srv.url}/api/residents/session", json={"phone": phone, "code": desk.sender.latest(phone)}
        )
        assert signed.status_code == 200, signed.text
        world.tokens[role] = signed.json()["token"]
    city = world.rt.city.city
    grid = city.grids[len(city.grids) // 3]
    community = str(grid.parent)
    one("GET /api/community/categories", "anonymous")
    one("GET /api/community/communities", "anonymous", query={"q": city.areas[community].name[:2]})
    made = one("POST /api/residents/me/provider", "provider", {"name": "测试志愿队", "community": community})
    assert made.status_code == 201, made.text
    one("GET /api/community-admin/providers", "officer", query={"state": "pending"})
    decided = one("POST /api/community-admin/providers/{id}/{verdict}", "officer", {"reason": "资料齐全"},
                  id=made.json()["provider"]["id"], verdict="approve")  # fmt: skip
    assert decided.status_code == 200, decided.text
    one("GET /api/residents/me/provider", "provider")
    offer = {"category": "repairs", "title": "上门修理家电", "price": 0, "area": grid.code}
    service = one("POST /api/residents/me/services", "provider", offer).json()["id"]
    one("GET /api/residents/me/services", "provider")
    one("GET /api/community/services", "anonymous", query={"community": community})
    wanted = one(
        "POST /api/residents/me/service-requests", "requester", {"service_id": service, "note": "风扇"}
    )
    assert wanted.status_code == 201, wanted.text
    request = wanted.json()["id"]
    one("GET /api/residents/me/service-requests", "requester")
    one("GET /api/residents/me/incoming", "provider")
    one("POST /api/residents/me/incoming/{id}/{action}", "provider", id=request, action="accept")
    one("POST /api/residents/me/incoming/{id}/{action}", "provider", id=request, action="done")
    rated = one("POST /api/residents/me/service-requests/{id}/rating", "requester", {"stars": 5}, id=request)
    assert rated.status_code == 201, rated.text
    one("GET /api/community-admin/supply", "officer", query={"area": community})
    notice = {"community": community, "title": "停水通知", "body": "周六上午停水检修"}
    assert one("POST /api/community-admin/notices", "officer", notice).status_code == 201
    assert (
        one(
            "POST /api/community-admin/articles", "admin", {"title": "垃圾分类新规", "body": "下月起实行"}
        ).status_code
        == 201
    )
    for kind in ("notices", "articles", "threads"):
        one(f"GET /api/community/{kind}", "anonymous", query={"community": community})
    thread = one(
        "POST /api/residents/me/threads",
        "requester",
        {"community": community, "title": "停车难", "body": "车位不够"},
    )
    assert thread.status_code == 201, thread.text
    post = thread.json()["id"]
    one("POST /api/residents/me/threads/{id}/replies", "provider", {"body": "错峰停车"}, id=post)
    one("GET /api/community/threads/{id}", "anonymous", id=post)
    one("POST /api/residents/me/posts/{id}/report", "provider", {"reason": "广告"}, id=post)
    one("GET /api/community-admin/queue", "officer")
    one("GET /api/community-admin/posts/{id}", "officer", id=post)
    one(
        "POST /api/community-admin/posts/{id}/{action}", "officer", {"reason": "广告"}, id=post, action="hide"
    )
    author = httpx.get(
        f"{srv.url}/api/residents/me", headers={"Authorization": f"Bearer {world.tokens['requester']}"}
    )
    ban = {"resident_id": author.json()["id"], "community": community, "days": 1, "reason": "广告"}
    assert one("POST /api/community-admin/bans", "officer", ban).status_code == 201
    one("GET /api/community/search", "anonymous", query={"q": "停水", "community": community})
    one("POST /api/residents/me/services/{id}/close", "provider", id=service)
