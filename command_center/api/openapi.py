"""The API contract: GET /api/openapi.json serves the OpenAPI 3.1 description kept beside the
code in openapi.yaml (tests/test_openapi.py checks it names every route, and only those)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

SPEC = Path(__file__).with_name("openapi.yaml")


@functools.cache
def description() -> dict[str, Any]:
    """The description as data, read once per process."""
    with SPEC.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


@functools.cache
def _body() -> bytes:
    # Serialized once: the answer is the same for every caller.
    return json.dumps(description(), ensure_ascii=False, separators=(",", ":")).encode()


async def openapi_json(_request: Request) -> Response:
    return Response(_body(), media_type="application/json", headers={"Cache-Control": "no-cache"})


routes: list[BaseRoute] = [
    Route("/api/openapi.json", openapi_json, methods=["GET"]),
]
