"""What a resident sees of their reports (我的上报): the matter and grid by name, the case's
status in words, the worker's reply, the closing photo, the times and their rating.

Built from the store's report and case (a case merged into another is followed to the one
that goes on); read on a worker thread by api/residents.py. Never staff's internals: no
assignee id, no timeline actors, no exact point beyond what the resident sent.
"""

from __future__ import annotations

import re
from typing import Any

from command_center.store import Store
from dispatch.cases import Case, CaseState
from dispatch.catalog import Catalog
from dispatch.city import City

S = CaseState
STATUS_WORDS: dict[CaseState, str] = {
    S.REPORTED: "已受理", S.REGISTERED: "已立案", S.DISPATCHED: "已派遣", S.ACCEPTED: "处理中",
    S.IN_PROGRESS: "处理中", S.FEEDBACK: "待核查", S.VERIFIED: "已核查", S.CLOSED: "已办结",
    S.EVALUATED: "已办结", S.MERGED: "已合并", S.DEFERRED: "暂缓办理", S.CANCELLED: "已撤销",
}  # fmt: skip
RATEABLE = frozenset({S.CLOSED, S.EVALUATED})
REPLIES = ("feedback",)  # the worker's report of what was done: the reply (a check's note is internal)
MERGE_HOPS = 3
PHOTO_PREFIX = "/api/cases/"
PHOTO_COUNT = re.compile(r"\s*\[\d+ photos?\]$")  # what the case loop appends to a note: the photo is shown


def followed(store: Store, case_id: str | None) -> Case | None:
    """The case a report went to, followed through merges to the one that goes on."""
    case = store.get_case(case_id) if case_id else None
    for _ in range(MERGE_HOPS):
        if case is None or case.state is not S.MERGED or not case.merged_into:
            break
        case = store.get_case(case.merged_into) or case
    return case


def rateable(store: Store, link: dict[str, Any]) -> Case | None:
    """The closed case a report may be rated on, or None (not closed yet, or gone)."""
    case = followed(store, link.get("case_id"))
    return case if case is not None and case.state in RATEABLE else None


def _closing_photo(case: Case) -> tuple[str, str] | None:
    """(case id, photo id) of the latest photo attached to the case (the feedback's)."""
    for url in reversed(case.photos):
        if url.startswith(PHOTO_PREFIX) and "/photos/" in url:
            owner, _, name = url.removeprefix(PHOTO_PREFIX).partition("/photos/")
            return owner, name.removesuffix(".jpg")
    return None


def report_view(store: Store, city: City, catalog: Catalog, link: dict[str, Any]) -> dict[str, Any]:
    report = store.get_report(link["report_id"]) or {}
    case = followed(store, link.get("case_id"))
    try:
        matter = catalog.get(report.get("service_code", "")).name
    except KeyError:
        matter = None
    area = city.areas.get(case.grid_code) if case else None
    reply = (
        next((e for e in reversed(case.timeline) if e.action in REPLIES and e.note), None) if case else None
    )
    closed = next((e for e in reversed(case.timeline) if e.to_state in RATEABLE), None) if case else None
    photo = _closing_photo(case) if case is not None and case.state in RATEABLE else None
    state = case.state if case else S.REPORTED
    view: dict[str, Any] = {
        "id": link["report_id"],  # the receipt code (回执码)
        "matter": matter,
        "grid": area.name if area else None,
        "description": report.get("description"),
        "state": state.value,
        "status": "closed" if state in RATEABLE or state is S.CANCELLED else "open",
        "status_text": STATUS_WORDS.get(state, state.value),
        "reply": PHOTO_COUNT.sub("", reply.note) if reply else None,
        "replied_at": reply.ts.isoformat() if reply else None,
        "closing_photo_url": f"/api/residents/me/reports/{link['report_id']}/photo.jpg" if photo else None,
        "created_at": link["created_at"],
        "updated_at": (case.updated_at or case.created_at).isoformat() if case else link["created_at"],
        "closed_at": closed.ts.isoformat() if closed else None,
        "rating": link.get("rating"),
        "can_rate": state in RATEABLE and link.get("rating") is None,
    }
    if photo is not None:
        view["_photo"] = photo  # for the photo route; api/residents.py drops it from the list
    return view
