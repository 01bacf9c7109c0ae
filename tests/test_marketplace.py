"""服务超市 (issue 22) on a real server, SQLite and PostgreSQL: a provider applies and is approved by
the community's officer (not by another community's), publishes a service, a resident requests
it, the provider accepts and marks it done, the resident rates it once; the community's supply
and demand per grid; refusals name the field and store nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dispatch.city import City
from tests.community_world import World, approved_provider, community_world


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[World]:
    yield from community_world(request.param, tmp_path_factory.mktemp("market"), small_city)


@pytest.fixture
def http(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.srv.url, timeout=10) as client:
        yield client


def offer(world: World, **extra: object) -> dict[str, object]:
    return {"category": "repairs", "title": "上门修理小家电", "description": "电饭煲、风扇等", "price": 0,
            "hours": "周六 9:00-12:00", "area": world.grid.code, **extra}  # fmt: skip


def test_the_whole_service_flow_and_one_rating(world: World, http: httpx.Client) -> None:
    provider = approved_provider(world, "13800000001", http)
    made = http.post("/api/residents/me/services", headers=provider, json=offer(world, price=15.5))
    assert made.status_code == 201, made.text
    service = made.json()
    assert service["price"] == 15.5 and not service["free"] and service["area_name"] == world.grid.name
    listed = http.get("/api/community/services", params={"community": world.community.code}).json()
    assert [s["id"] for s in listed["items"]] == [service["id"]] and listed["items"][0][
        "provider_name"
    ] == "张阿姨志愿队"
    resident = world.resident("13800000002")
    asked = http.post("/api/residents/me/service-requests", headers=resident,
                      json={"service_id": service["id"], "note": "风扇不转", "grid": world.grid.code})  # fmt: skip
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    assert asked.json()["state_text"] == "待接单"
    too_early = http.post(
        f"/api/residents/me/service-requests/{request_id}/rating", headers=resident, json={"stars": 5}
    )
    assert too_early.status_code == 409 and too_early.json()["error"] == "服务完成后才能评价"
    mine = http.get("/api/residents/me/incoming", headers=provider).json()["items"]
    assert [r["id"] for r in mine] == [request_id] and mine[0]["note"] == "风扇不转"
    assert http.post(f"/api/residents/me/incoming/{request_id}/done", headers=provider).status_code == 409
    for action, state in (("accept", "accepted"), ("done", "done")):
        step = http.post(f"/api/residents/me/incoming/{request_id}/{action}", headers=provider)
        assert step.status_code == 200 and step.json()["state"] == state, step.text
    assert http.post(f"/api/residents/me/incoming/{request_id}/decline", headers=provider).status_code == 409
    bad = http.post(
        f"/api/residents/me/service-requests/{request_id}/rating", headers=resident, json={"stars": 6}
    )
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "stars"
    rated = http.post(f"/api/residents/me/service-requests/{request_id}/rating", headers=resident,
                      json={"stars": 4, "comment": "很及时"})  # fmt: skip
    assert rated.status_code == 201, rated.text
    again = http.post(
        f"/api/residents/me/service-requests/{request_id}/rating", headers=resident, json={"stars": 1}
    )
    assert again.status_code == 409 and again.json()["error"] == "已评价过，不能重复评价"
    mine = http.get("/api/residents/me/service-requests", headers=resident).json()["items"]
    assert mine[0]["rating"]["stars"] == 4 and mine[0]["state_text"] == "已完成" and not mine[0]["can_rate"]
    profile = http.get("/api/residents/me/provider", headers=provider).json()["provider"]
    assert profile["ratings"] == 1 and profile["average_stars"] == 4.0
    # someone else's request is not yours to rate or to act on
    other = world.resident("13800000003")
    assert http.post(f"/api/residents/me/service-requests/{request_id}/rating", headers=other,
                     json={"stars": 1}).status_code == 404  # fmt: skip
    assert http.post(f"/api/residents/me/incoming/{request_id}/accept", headers=other).status_code == 403


def test_a_provider_not_approved_cannot_publish(world: World, http: httpx.Client) -> None:
    who = world.resident("13800000011")
    refused = http.post("/api/residents/me/services", headers=who, json=offer(world))
    assert refused.status_code == 403 and refused.json()["detail"]["state"] is None
    applied = http.post("/api/residents/me/provider", headers=who,
                        json={"name": "李师傅", "kind": "volunteer", "community": world.community.code})  # fmt: skip
    assert applied.status_code == 201 and applied.json()["provider"]["state"] == "pending"
    assert (
        http.post(
            "/api/residents/me/provider",
            headers=who,
            json={"name": "李师傅", "community": world.community.code},
        ).status_code
        == 409
    )
    pending = http.post("/api/residents/me/services", headers=who, json=offer(world))
    assert pending.status_code == 403 and pending.json()["detail"]["state"] == "pending"
    provider = applied.json()["provider"]["id"]
    # an officer of another community neither sees nor decides it
    listed = http.get(
        "/api/community-admin/providers", headers=world.officer("other"), params={"state": "pending"}
    )
    assert listed.status_code == 200 and provider not in [p["id"] for p in listed.json()["items"]]
    foreign = http.post(f"/api/community-admin/providers/{provider}/approve", headers=world.officer("other"))
    assert foreign.status_code == 404
    outside = http.get("/api/community-admin/providers", headers=world.officer("other"),
                       params={"area": world.community.code})  # fmt: skip
    assert outside.status_code == 403 and outside.json()["detail"]["field"] == "area"
    rejected = http.post(f"/api/community-admin/providers/{provider}/reject", headers=world.officer(),
                         json={"reason": "资料不全"})  # fmt: skip
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert http.post("/api/residents/me/services", headers=who, json=offer(world)).status_code == 403
    assert (
        http.post(f"/api/community-admin/providers/{provider}/approve", headers=world.officer()).status_code
        == 409
    )
    with world.rt.store._reading() as db:  # type: ignore[attr-defined]
        assert db.execute("SELECT count(*) FROM community_services WHERE title = '上门修理小家电' AND provider_id = :p"
                          if world.rt.store.dialect == "sqlite" else  # type: ignore[attr-defined]
                          "SELECT count(*) FROM community_services WHERE provider_id = %(p)s", {"p": provider}).fetchone()[0] == 0  # fmt: skip


def test_bad_input_names_the_field(world: World, http: httpx.Client) -> None:
    provider = approved_provider(world, "13800000021", http)
    for body, field in ((offer(world, category="spa"), "category"), (offer(world, price=-1), "price"),
                        (offer(world, price=1.234), "price"), (offer(world, title=""), "title"),
                        (offer(world, area=world.other.code), "area"), (offer(world, area="x"), "area")):  # fmt: skip
        answer = http.post("/api/residents/me/services", headers=provider, json=body)
        assert answer.status_code == 400 and answer.json()["detail"]["field"] == field, (body, answer.text)
    resident = world.resident("13800000022")
    missing = http.post("/api/residents/me/service-requests", headers=resident, json={"service_id": "SVnope"})
    assert missing.status_code == 404
    assert (
        http.get("/api/community/services", params={"community": "bad"}).json()["detail"]["field"]
        == "community"
    )
    assert (
        http.post(
            "/api/residents/me/provider",
            headers=resident,
            json={"name": "x", "community": world.community.code},
        ).json()["detail"]["field"]
        == "name"
    )
    org = http.post("/api/residents/me/provider", headers=resident,
                    json={"name": "某某公司", "kind": "organisation", "community": world.community.code, "organisation_id": "nope"})  # fmt: skip
    assert org.status_code == 400 and org.json()["detail"]["field"] == "organisation_id"
    staff = http.get("/api/residents/me/service-requests", headers=world.officer())
    assert staff.status_code == 403  # staff tokens are no residents'
    assert http.get("/api/community-admin/supply", headers=world.resident("13800000022")).status_code == 401


def test_supply_and_demand_per_grid(world: World, http: httpx.Client) -> None:
    provider = approved_provider(world, "13800000031", http)
    meals = http.post("/api/residents/me/services", headers=provider,
                      json=offer(world, category="elderly_meals", title="助老午餐配送")).json()  # fmt: skip
    for phone in ("13800000032", "13800000033"):
        asked = http.post("/api/residents/me/service-requests", headers=world.resident(phone),
                          json={"service_id": meals["id"], "grid": world.grid.code})  # fmt: skip
        assert asked.status_code == 201
    figures = http.get(
        "/api/community-admin/supply", headers=world.officer(), params={"area": world.community.code}
    )
    assert figures.status_code == 200, figures.text
    cell = next(
        c
        for c in figures.json()["items"]
        if c["area_code"] == world.grid.code and c["category"] == "elderly_meals"
    )
    assert cell["offers"] == 1 and cell["requests"] == 2 and cell["category_name"] == "助老餐"
    assert cell["area_name"] == world.grid.name
    assert http.get("/api/community-admin/supply", headers=world.officer("other"),
                    params={"area": world.community.code}).status_code == 403  # fmt: skip
    mine = http.get("/api/community-admin/supply", headers=world.officer("other")).json()["items"]
    assert all(c["area_code"].startswith(world.other.code[:12]) for c in mine)
