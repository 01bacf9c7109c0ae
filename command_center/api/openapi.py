"""The API contract: GET /api/openapi.json serves the OpenAPI 3.1 description kept beside the
code in openapi.yaml, with the parts in spec/*.yaml merged in (one file per area: its paths,
tags and component schemas). tests/test_openapi.py checks it names every route, and only those."""

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
PARTS = Path(__file__).with_name("spec")


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.safe_load(f) or {}
    return loaded


@functools.cache
def description() -> dict[str, Any]:
    """The description as data, read once per process; a part that names a path or a
    schema the rest already has is an error, not a silent overwrite."""
    spec = _read(SPEC)
    for part in sorted(PARTS.glob("*.yaml")):
        extra = _read(part)
        spec["tags"] = [*spec.get("tags", []), *extra.get("tags", [])]
        _merge(spec["paths"], extra.get("paths", {}), part)
        for section, items in extra.get("components", {}).items():
            _merge(spec["components"].setdefault(section, {}), items, part)
    return spec


def _merge(into: dict[str, Any], extra: dict[str, Any], part: Path) -> None:
    clash = sorted(set(into) & set(extra))
    if clash:
        raise ValueError(f"{part.name}: {', '.join(clash)} already described")
    into.update(extra)


@functools.cache
def _body() -> bytes:
    # Serialized once: the answer is the same for every caller.
    return json.dumps(description(), ensure_ascii=False, separators=(",", ":")).encode()


async def openapi_json(_request: Request) -> Response:
    return Response(_body(), media_type="application/json", headers={"Cache-Control": "no-cache"})


routes: list[BaseRoute] = [
    Route("/api/openapi.json", openapi_json, methods=["GET"]),
]
