"""POST /api/import/{kind}: a city's file, uploaded from the admin console, applied like
`command-center import KIND FILE` (registry/imports.py).

The body is the file itself (any Content-Type); `?filename=` names it, and its suffix
says how to read it (.csv, .xlsx, .geojson, .gpkg, .zip for a zipped Shapefile, .yaml).
Query flags: `skip_bad=1` applies the good rows, `dry_run=1` only checks, `users=1`
(roster) makes sign-in accounts. Answers 200 with the result when applied or checked
clean; 422 with every problem (file, row, column) and nothing changed when refused.
A district admin imports rows of their own district only. Every applied import is
audited; the change is applied on this node at once and on the others within a second.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, read_capped
from command_center.auth.middleware import principal_of
from command_center.registry.imports import IMPORTERS, ImportContext, ImportOptions, run_import

SUFFIXES = {".csv", ".xlsx", ".geojson", ".json", ".gpkg", ".zip", ".yaml", ".yml"}
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-\u4e00-\u9fff]+")


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


def _file_name(request: Request) -> str:
    raw = request.query_params.get("filename", "")
    name = SAFE_NAME.sub("_", Path(raw).name)[:120]
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise ApiError(400, "bad filename", f"?filename= must end in one of {', '.join(sorted(SUFFIXES))}")
    return name


async def import_file(request: Request) -> JSONResponse:
    kind = request.path_params["kind"]
    if kind not in IMPORTERS:
        raise ApiError(404, "unknown import", f"one of {', '.join(IMPORTERS)}")
    principal = principal_of(request)
    name = _file_name(request)
    config = deps.config(request)
    body = await read_capped(request, int(config.limits.import_mb * 1024 * 1024), "file")
    if not body:
        raise ApiError(400, "empty file", "send the file as the request body")
    options = ImportOptions(
        skip_bad=_flag(request, "skip_bad"), dry_run=_flag(request, "dry_run"), actor=principal.user,
        with_users=_flag(request, "users"), district=principal.jurisdiction,
    )  # fmt: skip
    store, city = deps.store(request), deps.city(request)
    with tempfile.TemporaryDirectory(prefix="cc-import-") as folder:
        path = Path(folder) / name
        path.write_bytes(body)
        context = ImportContext(store, city.city, config)
        result = await asyncio.to_thread(run_import, kind, path, context, options)
    if result.applied:
        await deps.registry(request).poll()  # this node now; the others within a second
        counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
        await audit.record(store, request, principal, f"import.{kind}", name, counts)
    status = 422 if result.problems and not result.applied else 200
    body_out = result.to_dict()
    if status == 422:
        return JSONResponse({"error": "import refused", "detail": body_out}, status_code=422)
    return JSONResponse(body_out)


routes: list[BaseRoute] = [Route("/api/import/{kind}", import_file, methods=["POST"])]
