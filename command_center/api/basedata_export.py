"""Exports of the grid's base data: GET /api/basedata-export/{kind}?area=&format=xlsx|csv
(&reveal=1&reason=…), watermarked and audited (issue 19: "every reveal and export audited;
exports watermarked with the user").

- **Who.** config `basedata.export.roles` (the hall's officers and admins; auth/policy.py
  opens the path to them alone), scoped like the lists (api/basedata_views.scope_of): an
  area outside the caller's jurisdiction is 403.
- **What.** The records of one kind under the area, as the lists show them: people marked
  moved out left out, ID numbers and phones masked, and each mask marked with the export's
  fingerprint (basedata/watermark.py: it survives copy and paste). `reveal=1` puts them in
  the clear for config `basedata.reveal_roles` only (others 403), with a reason.
- **How much.** Counted by the database first (store/basedata_pages.grid_counts); past
  `basedata.export.max_rows` the export is refused with 400 saying how many and the limit.
- **Audited first.** One audit row (`basedata.export`: the export id as target; kind, area,
  rows, format, clear or masked, the reason) is written BEFORE any record is read for the
  file; if it cannot be, nothing is sent (503). The file holds at most the rows audited.
- **Streamed.** Records are read a page at a time (store/basedata_pages.pages); a CSV goes
  out as they come, an XLSX is built in openpyxl's write-only mode into a temporary file,
  then sent from it. Nothing is kept on the server: the temporary file is gone once sent.

The path is not under /api/basedata/{kind}/…, where "export" could be a record's key.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from basedata.model import Sealed
from basedata.protect import FieldCipher
from basedata.watermark import ExportFormat, fingerprint, mark, new_export_id
from command_center import audit, i18n
from command_center.api import deps
from command_center.api.basedata_export_files import Context, Marking, csv_chunks, headings, rows, write_xlsx
from command_center.api.basedata_trace import trace
from command_center.api.basedata_views import (
    MASKS,
    SEALABLE,
    Scope,
    area_param,
    cipher_of,
    kind_of,
    records_of,
    scope_of,
)
from command_center.api.errors import ApiError, flag_param, text_param
from command_center.auth.middleware import principal_of
from command_center.auth.principal import Principal
from command_center.store.basedata_pages import grid_counts, pages

MAX_REASON = 500
FORMATS: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
SEND_CHUNK = 256 * 1024


def _format(request: Request) -> ExportFormat:
    chosen = request.query_params.get("format", "xlsx")
    if chosen not in FORMATS:
        raise ApiError(400, "bad query parameter 'format'", "xlsx or csv")
    return "csv" if chosen == "csv" else "xlsx"


def _lang(request: Request) -> str:
    chosen = request.query_params.get("lang", i18n.DEFAULT_LANGUAGE)
    if chosen not in i18n.LANGUAGES:
        raise ApiError(400, "bad query parameter 'lang'", " or ".join(i18n.LANGUAGES))
    return chosen


def _reason(request: Request, who: Principal, kind: str) -> str | None:
    """For reveal=1: the caller may reveal, the kind has personal fields, a reason is given."""
    if not flag_param(request, "reveal"):
        return None
    if who.role not in deps.config(request).basedata.reveal_roles:
        raise ApiError(
            403, "forbidden", "your role exports ID numbers and phones masked (config basedata.reveal_roles)"
        )
    if kind not in SEALABLE:
        raise ApiError(400, "nothing to reveal", "reveal=1 is for people and organisations")
    reason = text_param(request, "reason", MAX_REASON)
    if reason is None or not reason.strip():
        raise ApiError(
            400, "bad query parameter 'reason'", "why the clear values are needed (required with reveal=1)"
        )
    return reason.strip()


def _area_words(request: Request, scope: Scope, lang: str) -> str:
    areas = deps.city(request).city.areas
    words = i18n.catalogue(lang)
    names = []
    for prefix in scope.prefixes:
        area = areas.get(prefix.ljust(15, "0")) if prefix else None
        names.append(
            words["basedata.export.whole_city"]
            if not prefix
            else f"{area.name if area else ''} {prefix}".strip()
        )
    return "、".join(names) or words["basedata.export.nothing"]


def _personal(kind: str, cipher: FieldCipher | None, fp: int) -> Any:
    """How a sealed field shows: opened (a reveal), else masked from its tail and marked."""
    as_kind = SEALABLE.get(kind, {})

    def show(name: str, sealed: Sealed | None) -> str | None:
        if sealed is None:
            return None
        if cipher is not None:
            return cipher.open(as_kind[name], sealed)
        return mark(MASKS[name](sealed.tail), fp)

    return show


def _marking(request: Request, who: Principal, what: str, count: int, clear: bool, lang: str) -> Marking:
    zone = ZoneInfo(deps.config(request).dispatch.timezone)
    now = datetime.now(UTC)
    role = i18n.name("role", who.role, lang)
    return Marking(who.user, role, now.astimezone(zone), new_export_id(now), what, count, clear, lang)


async def _audit(request: Request, who: Principal, marking: Marking, detail: str) -> None:
    row = audit.entry(
        who.user, who.role, "basedata.export", marking.export_id, audit.client_ip(request), detail
    )
    try:
        await asyncio.to_thread(deps.store(request).add_audit, row)
    except Exception as exc:  # every export is audited: unaudited, nothing is sent
        raise ApiError(503, "the export could not be audited", type(exc).__name__) from None


def _send(file: IO[bytes]) -> Iterator[bytes]:
    """The built file in chunks, closed (and so deleted) at the end or when the client leaves."""
    try:
        file.seek(0)
        while chunk := file.read(SEND_CHUNK):
            yield chunk
    finally:
        file.close()


def _build_xlsx(title: str, heads: list[str], body: Iterator[list[Any]], marking: Marking) -> IO[bytes]:
    file = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115  (closed by _send)
    try:
        write_xlsx(file, title, heads, body, marking)
    except BaseException:
        file.close()
        raise
    return file


def _counted(grids: list[tuple[str, int]], most: int) -> int:
    """The records the export will hold; 400 past the configured limit, saying both."""
    count = sum(n for _, n in grids)
    if count > most:
        raise ApiError(400, "too many records for one export",
                       f"{count} records under this area; one export holds at most {most}"
                       " (config basedata.export.max_rows): choose a smaller area")  # fmt: skip
    return count


def _headers(title: str, area: str | None, marking: Marking, fmt: str) -> dict[str, str]:
    name = (
        f"{title}-{area or 'all'}-{marking.export_id}.{fmt}"  # the UTF-8 name; an ASCII one for old clients
    )
    return {
        "Content-Disposition": f"attachment; filename=\"basedata-{marking.export_id}.{fmt}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store",
        "X-Export-Id": marking.export_id,
    }


async def export(request: Request) -> Response:
    kind, who = kind_of(request), principal_of(request)
    settings = deps.config(request).basedata.export
    if who.role not in settings.roles:
        raise ApiError(403, "forbidden", "your role does not export base data (config basedata.export.roles)")
    area, fmt, lang = area_param(request), _format(request), _lang(request)
    reason = _reason(request, who, kind)
    scope = scope_of(request, area)
    records = records_of(request)
    cipher = await asyncio.to_thread(cipher_of, request) if reason is not None else None
    grids = await asyncio.to_thread(grid_counts, records, kind, scope.prefixes)
    count = _counted(grids, settings.max_rows)
    title = i18n.catalogue(lang)[f"basedata.export.kind.{kind}"]
    what = f"{title} · {_area_words(request, scope, lang)}"
    marking = _marking(request, who, what, count, reason is not None, lang)
    detail = (f"kind {kind}, area {area or '-'}, rows {count}, format {fmt}, "
              + (f"clear ID numbers and phones: {reason}" if reason else "masked"))  # fmt: skip
    await _audit(request, who, marking, detail)  # before any record is read for the file
    names = {g: a.name for g, _ in grids if (a := deps.city(request).city.areas.get(g)) is not None}
    ctx = Context(lang, names, _personal(kind, cipher, fingerprint(marking.export_id)))
    # At most the rows audited: records added since the count are not sent.
    body = (list(rows(kind, page, ctx)) for page in pages(records, kind, [g for g, _ in grids], count))
    heads, headers = headings(kind, lang), _headers(title, area, marking, fmt)
    if fmt == "csv":
        return StreamingResponse(csv_chunks(heads, body, marking), media_type=FORMATS["csv"], headers=headers)
    file = await asyncio.to_thread(_build_xlsx, title, heads, body, marking)
    return StreamingResponse(_send(file), media_type=FORMATS["xlsx"], headers=headers)


routes: list[BaseRoute] = [
    Route("/api/basedata-export/trace", trace, methods=["POST"]),
    Route("/api/basedata-export/{kind}", export, methods=["GET"]),
]
