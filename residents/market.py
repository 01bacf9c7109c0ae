"""The service marketplace's rules (服务超市): providers, services and requests.

A provider is a resident with an approved profile (a volunteer, or acting for an organisation
of the base data); a community's officers approve or reject it. An approved provider
publishes services in their community (the whole community or one grid), free or priced in
CNY (fen, to stay exact), with their hours. A resident requests a service; the provider
accepts or declines, then marks it done; the resident rates it 1–5 once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from residents.forum import BadPost, clean_text

PROVIDER_KINDS = ("volunteer", "organisation")
PROVIDER_STATES = ("pending", "approved", "rejected")
PRICE_MAX_FEN = 10_000_00  # 10,000 CNY: a community service, not a contract

# request state → provider action → next state; "rate" is the resident's, once done
FLOW: dict[str, dict[str, str]] = {
    "requested": {"accept": "accepted", "decline": "declined"},
    "accepted": {"done": "done"},
}
STATE_TEXT = {"requested": "待接单", "accepted": "已接单", "declined": "已婉拒", "done": "已完成"}


def next_state(state: str, action: str) -> str | None:
    """The state after a provider's action, or None when the action does not apply now."""
    return FLOW.get(state, {}).get(action)


@dataclass(frozen=True, slots=True)
class Offer:
    """A service as a provider writes it (validated)."""

    category: str
    title: str
    body: str
    area_code: str
    price_fen: int
    hours: str


def price_fen(value: Any) -> int:
    """CNY amount → fen; 0 is free. A number ≥ 0 with at most two decimals."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadPost("price", "price 必须是数字（元），0 表示免费")
    if not math.isfinite(value):
        raise BadPost("price", "price 必须是数字（元），0 表示免费")
    fen = round(value * 100)
    if fen < 0 or fen > PRICE_MAX_FEN or abs(value * 100 - fen) > 1e-6:
        raise BadPost("price", "price 为0到10000元，最多两位小数")
    return int(fen)


def offer_of(body: dict[str, Any], categories: dict[str, str], area_code: str) -> Offer:
    category = body.get("category")
    if not isinstance(category, str) or category not in categories:
        raise BadPost("category", f"category 须为 {', '.join(categories)} 之一")
    return Offer(
        category=str(category),
        title=clean_text(body.get("title"), "title", 60, 2),
        body=clean_text(body.get("description", ""), "description", 1000, 0),
        area_code=area_code,
        price_fen=price_fen(body.get("price")),
        hours=clean_text(body.get("hours", ""), "hours", 60, 0),
    )


def stars_of(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
        raise BadPost("stars", "请选择1到5颗星")
    return value
