"""Open311 services and their definitions (GET services, GET services/{service_code}), and the
`attribute[...]` values a POST brings for them.

The services are the matter catalogue. Matters of the classes in `WITH_METADATA` have
`metadata: true` and a service definition with attributes the reporter may (or, `required`,
must) answer; the answers are kept on the report and written into the case's description in
words, so the worker reads them where they read the rest.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.api.open311_format import render, spec_errors
from command_center.api.open311_jurisdiction import check_jurisdiction
from dispatch.catalog import Matter

WITH_METADATA = frozenset({"市容环境", "施工管理", "突发事件"})
CHANGESET = "2026-12-06T00:00:00Z"  # when this endpoint last changed what it offers
YES_NO = [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}]


def _attribute(code: str, datatype: str, description: str, order: int, required: bool = False,
               values: list[dict[str, str]] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "variable": True, "code": code, "datatype": datatype, "required": required,
        "datatype_description": "填数字" if datatype == "number" else None, "order": order,
        "description": description, "values": values or [],
    }  # fmt: skip


COMMON = [
    _attribute("hazard", "singlevaluelist", "是否有安全隐患", 1, values=YES_NO),
    _attribute(
        "recurring",
        "singlevaluelist",
        "问题是否反复出现",
        2,
        values=[{"key": "first", "name": "首次发现"}, {"key": "again", "name": "反复出现"}],
    ),  # fmt: skip
    _attribute("landmark", "string", "附近标志物（楼栋、门牌、店名）", 3),
]
EMERGENCY = [_attribute("injured", "number", "受伤人数（不清楚填0）", 4, required=True)]


def attributes_of(matter: Matter) -> list[dict[str, Any]]:
    if matter.klass not in WITH_METADATA:
        return []
    return COMMON + (EMERGENCY if matter.klass == "突发事件" else [])


def service_of(matter: Matter) -> dict[str, Any]:
    return {
        "service_code": matter.code, "service_name": matter.name, "description": matter.closure_standard,
        "metadata": bool(attributes_of(matter)), "type": "realtime",
        "keywords": ",".join([matter.name_en, *matter.labels]), "group": matter.klass,
    }  # fmt: skip


@spec_errors
async def list_services(request: Request) -> Response:
    check_jurisdiction(request)
    return render(request, "services", [service_of(m) for m in deps.catalog(request).items])


@spec_errors
async def service_definition(request: Request) -> Response:
    check_jurisdiction(request)
    code = request.path_params["code"]
    try:
        matter = deps.catalog(request).get(code)
    except KeyError:
        raise ApiError(404, "service_code not found", code) from None
    attributes = attributes_of(matter)
    if not attributes:  # the spec: a definition only for services with metadata
        raise ApiError(404, "service has no metadata", code)
    return render(request, "service_definition", {"service_code": matter.code, "attributes": attributes})


@spec_errors
async def discovery(request: Request) -> Response:
    """The spec's service discovery: where this GeoReport v2 endpoint is and what it speaks."""
    public = deps.config(request).server.public_url
    base = str(public).rstrip("/") if public else str(request.base_url).rstrip("/")
    endpoint = {
        "specification": "http://wiki.open311.org/GeoReport_v2", "url": f"{base}/open311/v2",
        "changeset": CHANGESET, "type": "production", "formats": ["text/xml", "application/json"],
    }  # fmt: skip
    body = {"changeset": CHANGESET, "contact": "城市运行管理中心（市民上报）", "key_service": "api_key: ask the city",
            "endpoints": [endpoint]}  # fmt: skip
    return render(request, "discovery", body)


def _one(attribute: dict[str, Any], raw: list[str]) -> tuple[Any, str]:
    """(the value kept, its words in the case) of one attribute's answer; 400 if it is bad."""
    code, kind = attribute["code"], attribute["datatype"]
    keys = {v["key"]: v["name"] for v in attribute["values"]}
    if kind == "number":
        try:
            number = float(raw[0])
        except ValueError:
            raise ApiError(400, f"attribute[{code}] must be a number", raw[0]) from None
        if not 0 <= number <= 10_000:
            raise ApiError(400, f"attribute[{code}] out of range", raw[0])
        return number, f"{number:g}"
    if kind in ("singlevaluelist", "multivaluelist"):
        bad = [v for v in raw if v not in keys]
        if bad or (kind == "singlevaluelist" and len(raw) > 1):
            raise ApiError(400, f"attribute[{code}] must be one of {', '.join(keys)}", bad or raw)
        return (raw[0] if kind == "singlevaluelist" else raw), "、".join(keys[v] for v in raw)
    text = raw[0].strip()[:200]
    return text, text


def read_attributes(matter: Matter, answers: dict[str, list[str]]) -> tuple[dict[str, Any], str]:
    """The POST's `attribute[code]` answers checked against the matter's definition: (the values
    by code, a line for the case's description). Unknown codes are ignored; a required one
    missing is a 400 naming it."""
    kept: dict[str, Any] = {}
    words: list[str] = []
    for attribute in attributes_of(matter):
        raw = [v for v in answers.get(attribute["code"], []) if v.strip()]
        if not raw:
            if attribute["required"]:
                raise ApiError(400, f"attribute[{attribute['code']}] is required", attribute["description"])
            continue
        kept[attribute["code"]], said = _one(attribute, raw)
        words.append(f"{attribute['description']}：{said}")
    return kept, "；".join(words)
