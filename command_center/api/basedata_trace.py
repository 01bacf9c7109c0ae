"""Which export did these rows come from? POST /api/basedata-export/trace {"text": …}: the
masked values in pasted text (a chat message, a document, a sheet found outside) are read
for the mark each export leaves in them (basedata/watermark.py), and the audited exports
whose fingerprint agrees come back, newest first, with who made them, when, and what.

For the city's administrators only (the audit log is theirs: auth/policy.py). A fingerprint
is 14 bits: with many exports a match is a short list to check against the kind, area and
time, not a verdict; no mark read is 422 (nothing to go on).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from basedata.watermark import MARK_BITS, agrees, read_marks
from command_center.api import deps
from command_center.api.basedata_views import bad_field
from command_center.api.errors import json_body

TEXT_LIMIT = 64 * 1024
PAGE = 1000
MAX_SCANNED = 200_000  # exports looked at, newest first
MAX_FOUND = 50


def _matching(store: Any, marks: list[tuple[int, int]]) -> tuple[list[dict[str, Any]], int]:
    """The exports in the audit log whose fingerprint agrees, newest first; how many were read."""
    found: list[dict[str, Any]] = []
    scanned = 0
    while scanned < MAX_SCANNED and len(found) < MAX_FOUND:
        page, _total = store.list_audit(limit=PAGE, offset=scanned, action="basedata.export")
        if not page:
            break
        scanned += len(page)
        found += [row for row in page if agrees(str(row["target"]), marks)]
    return found[:MAX_FOUND], scanned


async def trace(request: Request) -> JSONResponse:
    body = await json_body(request, required=True, limit=TEXT_LIMIT + 1024)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > TEXT_LIMIT:
        raise bad_field("text", f"the pasted rows: up to {TEXT_LIMIT} characters")
    marks = read_marks(text)
    if not marks:
        raise bad_field("text", "no masked ID number or phone in it: nothing carries a mark")
    found, scanned = await asyncio.to_thread(_matching, deps.store(request), marks)
    exports = [
        {
            "export_id": row["target"],
            "actor": row["actor"],
            "role": row["role"],
            "ts": row["ts"],
            "detail": row["detail"],
        }
        for row in found
    ]
    best = max(count for _, count in marks)
    return JSONResponse(
        {"marks": len(marks), "bits": best, "of_bits": MARK_BITS, "scanned": scanned, "exports": exports}
    )
