"""Open311 GeoReport v2's two formats and its error shape, for api/open311*.py.

Every resource ends in `.json` or `.xml` (the spec: XML required, JSON at the provider's
discretion; we give both). Lists come as `<services><service>…`, `<service_requests><request>…`,
a service definition as `<service_definition>…<attributes><attribute>…<values><value>`; UTF-8
with the XML declaration. Errors are the spec's: JSON `[{"code": 404, "description": "…"}]`,
XML `<errors><error><code>404</code><description>…</description></error></errors>`, with the
HTTP status of the code, instead of the rest of the API's {"error", "detail"}.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any
from xml.etree import ElementTree as ET

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from command_center.api.errors import ApiError

Handler = Callable[[Request], Awaitable[Response]]
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
# a list's element name → its items' (the spec's plurals)
ITEMS = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
         "errors": "error", "endpoints": "endpoint", "formats": "format"}  # fmt: skip


def fmt_of(request: Request) -> str:
    """The format: "xml" for a resource asked for as .xml, else "json"."""
    return "xml" if request.url.path.endswith(".xml") else "json"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _fill(parent: ET.Element, name: str, value: Any) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(node, key, item)
    elif isinstance(value, list):
        for item in value:
            _fill(node, ITEMS.get(name, "item"), item)
    else:
        node.text = _text(value)


def to_xml(root: str, payload: Any) -> bytes:
    """`payload` (a list or an object) as the spec's XML under `root`."""
    top = ET.Element(root)
    if isinstance(payload, list):
        for item in payload:
            _fill(top, ITEMS.get(root, "item"), item)
    else:
        for key, value in payload.items():
            _fill(top, key, value)
    return bytes(ET.tostring(top, encoding="utf-8", xml_declaration=True))


def render(
    request: Request, root: str, payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The payload in the format the path asks for; `root` names XML's top element."""
    if fmt_of(request) == "xml":
        return Response(to_xml(root, payload), status_code=status, media_type=XML_TYPE, headers=headers)
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type=JSON_TYPE, headers=headers)


def spec_error(
    request: Request, status: int, description: str, headers: dict[str, str] | None = None
) -> Response:
    return render(request, "errors", [{"code": status, "description": description}], status, headers)


def _describe(exc: ApiError) -> str:
    """The error and its detail in one line (the spec's description is a string)."""
    detail = exc.payload_detail
    if detail is None or detail == "":
        return exc.error
    if isinstance(detail, dict) and "retry_after_s" in detail:
        return f"{exc.error}: retry after {detail['retry_after_s']} s"
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    return f"{exc.error}: {text}"


def spec_errors(handler: Handler) -> Handler:
    """The handler, its refusals (ApiError) answered in the spec's error shape."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            retry = exc.payload_detail.get("retry_after_s") if isinstance(exc.payload_detail, dict) else None
            headers = {"Retry-After": str(max(1, round(retry)))} if retry is not None else None
            return spec_error(request, exc.status_code, _describe(exc), headers)
        except HTTPException as exc:  # e.g. the form parser's refusal of a malformed multipart body
            return spec_error(request, exc.status_code, str(exc.detail or "bad request"))

    return wrapped
