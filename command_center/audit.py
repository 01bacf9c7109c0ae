"""The audit log: who did what to which thing, from where (an `audit` table in the store).

Written for every sign-in (ok or not), every case action and report, every incident
ack or dismissal, every account created. A failed write is logged and counted, and
does not undo the action it describes: that action has already happened.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import HTTPConnection

from command_center.auth.principal import Principal
from command_center.store import Store

log = logging.getLogger(__name__)
failures = 0  # audit rows that could not be written, for /metrics


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else ""


def entry(actor: str, role: str, action: str, target: str, ip: str, detail: str | None = None) -> dict[str, Any]:
    return {
        "ts": datetime.now(UTC).isoformat(),
        "actor": actor,
        "role": role,
        "action": action,
        "target": target,
        "ip": ip,
        "detail": detail,
    }


async def record(
    store: Store, conn: HTTPConnection, principal: Principal, action: str, target: str, detail: str | None = None
) -> None:
    await write(store, entry(principal.user, principal.role, action, target, client_ip(conn), detail))


async def write(store: Store, row: dict[str, Any]) -> None:
    global failures
    try:
        await asyncio.to_thread(store.add_audit, row)
    except Exception:
        failures += 1
        log.exception("audit write failed: %s", row)
