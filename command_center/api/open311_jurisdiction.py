"""Open311's `jurisdiction_id` and `api_key` (api/open311*.py).

This server is one city's endpoint: `jurisdiction_id` may be left out; given, it must be the
configured `report_media.open311_jurisdiction`, else the city's own area code (the spec's 404
"jurisdiction_id not found" otherwise). `api_key` on a POST: a key not in
`report_media.open311_api_keys` is the spec's 403; none at all is taken (the citizens' page and
anonymous apps send none) unless `open311_require_api_key` is set.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from command_center.api import deps
from command_center.api.errors import ApiError


def jurisdiction_id(request: Request) -> str:
    """The jurisdiction this endpoint serves."""
    configured = deps.config(request).report_media.open311_jurisdiction
    if configured:
        return configured
    city = deps.city(request).city
    return next((a.code for a in city.areas.values() if a.level == "city"), "city")


def check_jurisdiction(request: Request, given: str | None = None) -> None:
    """404 for a jurisdiction_id (the query's, or `given` from a POST's body) we do not serve."""
    value = given if given is not None else request.query_params.get("jurisdiction_id")
    if value is not None and value.strip() and value.strip() != jurisdiction_id(request):
        raise ApiError(404, "jurisdiction_id not found", value.strip()[:100])


def check_api_key(request: Request, given: str | None) -> None:
    """403 for a wrong api_key, or for none where one is required."""
    config = deps.config(request).report_media
    key = (given or "").strip()
    if not key:
        if config.open311_require_api_key:
            raise ApiError(403, "api_key was not provided")
        return
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in config.open311_api_keys):
        raise ApiError(403, "invalid api_key")
