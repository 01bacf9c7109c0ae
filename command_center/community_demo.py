"""The demo's community life (服务超市 and 论坛), so that the citizen page's 服务 and 社区 tabs and
/community have something to show on a fresh demo: in the first base-data grid's community, an
approved volunteer provider with three services (the demo phone 13800138000: sign in with it on
/citizen and the printed code to act as that provider), a pending application, a resident's
request accepted and another done and rated, a notice, a city-wide article, a thread with a
reply, and a reported thread waiting in the moderation queue. Only on a store with no providers."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from basedata.protect import FieldCipher
from command_center.basedata_config import base_data_key
from command_center.store.basedata_records import base_data_store
from command_center.store.community_forum import ForumRecords, forum_store
from command_center.store.community_market import market_store
from command_center.store.resident_records import resident_store
from residents.market import Offer
from residents.phone import mask_phone

if TYPE_CHECKING:
    from command_center.config import Config
    from command_center.store import Store
    from dispatch.city import Area, City

PROVIDER, APPLICANT, NEIGHBOUR = "13800138000", "13800138001", "13800138002"


def _resident(store: Store, cipher: FieldCipher, phone: str, now: datetime) -> str:
    sealed = cipher.seal("phone", phone)
    return (
        resident_store(store).sign_in(cipher.index("phone", phone), sealed.cipher, mask_phone(phone), now).id
    )


def _post(forum: ForumRecords, now: datetime, **fields: Any) -> str:
    row = {"scope": "", "area_code": "", "author_kind": "resident", "state": "visible", **fields}
    return str(forum.add(row, now)["id"])


def seed_community(config: Config, store: Store, city: City, grids: list[Area]) -> None:
    if not grids or grids[0].parent not in city.areas:
        return
    market, forum = market_store(store), forum_store(store)
    if market.providers("", None):
        return
    cipher = FieldCipher(
        base_data_key(base_data_store(store), config.basedata.key_path(config.server.data_dir))
    )
    now = datetime.now(UTC) - timedelta(hours=2)
    community = city.areas[str(grids[0].parent)]
    own = [g for g in grids if g.parent == community.code] or grids[:1]
    scope = community.code[:12]
    ids = {phone: _resident(store, cipher, phone, now) for phone in (PROVIDER, APPLICANT, NEIGHBOUR)}
    base = {"kind": "volunteer", "organisation_id": None, "community_code": community.code}
    provider = market.apply(
        ids[PROVIDER], {**base, "name": "邻里互助志愿队", "intro": "退休师傅和大学生志愿者"}, now
    )
    market.apply(ids[APPLICANT], {**base, "name": "阳光家政", "intro": "日常保洁、收纳"}, now)
    assert provider is not None
    market.decide(provider["id"], True, "资料齐全", "demo", now)
    offers = [Offer("elderly_meals", "助老午餐送餐", "独居老人优先，每日送到家", own[0].code, 0, "每天 11:00-12:30"),
              Offer("repairs", "小家电上门维修", "电饭煲、风扇、台灯等", own[-1].code, 3000, "周六 9:00-12:00"),
              Offer("tutoring", "小学作业辅导", "大学生志愿者一对一", community.code, 0, "周三、周五 16:30-18:00")]  # fmt: skip
    services = [market.publish(provider["id"], offer, now) for offer in offers]
    done = market.request(market.service(services[0]) or {}, ids[NEIGHBOUR], own[0].code, "两份午餐", now)
    for was, state in (("requested", "accepted"), ("accepted", "done")):
        market.step(done, provider["id"], was, state, now)
    market.rate(done, ids[NEIGHBOUR], 5, "很准时", now)
    asked = market.request(market.service(services[1]) or {}, ids[NEIGHBOUR], own[-1].code, "风扇不转", now)
    market.step(asked, provider["id"], "requested", "accepted", now)
    staff = {"author_kind": "staff", "author": "officer"}
    _post(forum, now, kind="notice", scope=scope, area_code=community.code, author_name=community.name,
          title="本周六停水检修通知", body="周六 8:00-12:00 小区二次供水设备检修，请提前储水。", **staff)  # fmt: skip
    _post(forum, now, kind="article", author_name="市政府", title="生活垃圾分类管理规定解读",
          body="自下月起，居民应将生活垃圾分为可回收物、有害垃圾、厨余垃圾和其他垃圾四类投放。", **staff)  # fmt: skip
    talk = {"scope": scope, "area_code": community.code, "author": ids[NEIGHBOUR], "author_name": "居民8002"}
    thread = _post(
        forum, now, kind="thread", title="晚上小区停车难怎么办？", body="车位不够，大家有什么好办法？", **talk
    )
    _post(forum, now, kind="reply", thread_id=thread, title="", body="可以和隔壁商场协商夜间错峰停车。",
          **{**talk, "author": ids[PROVIDER], "author_name": "居民8000"})  # fmt: skip
    advert = _post(forum, now, kind="thread", title="低价出售二手家具", body="加微信详聊，价格好商量", **talk)
    forum.report(advert, ids[PROVIDER], "广告", now)
    print(
        f"community: {len(services)} services, 2 providers (one pending), 4 posts in {community.name}",
        file=sys.stderr,
    )
