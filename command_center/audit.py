"""The audit log: who did what to which thing, from where (an `audit` table in the store).

Written for every sign-in (ok or not), every case action and report, every incident
ack or dismissal, every account created, every map replacement and emergency change.
A failed write is retried, then logged with the whole row (so it can be entered by
hand), counted (`cc_audit_write_failures_total`) and shown as degraded by /api/health
until a later write succeeds; it does not undo the action it describes: that action has
already happened.

The rows form a hash chain (store/audit_chain.py): `command-center audit verify` walks
it and names the first row that was changed, removed or inserted outside the store.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import HTTPConnection

from command_center.auth.principal import Principal
from command_center.auth.proxies import client_address
from command_center.store import Store
from command_center.store.audit_chain import Verdict, verify

log = logging.getLogger(__name__)
ATTEMPTS = 3
failures = 0  # audit rows that could not be written, for /metrics
last_failure: str | None = None  # when the latest write failed for good; None once one succeeds


def client_ip(conn: HTTPConnection) -> str:
    """The client's address; X-Forwarded-For counts only from `server.trusted_proxies`."""
    return client_address(conn)


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
    global failures, last_failure
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await asyncio.to_thread(store.add_audit, row)
        except Exception as exc:
            if attempt < ATTEMPTS:
                log.warning("audit write failed (attempt %d of %d), retrying: %s", attempt, ATTEMPTS, exc)
                await asyncio.sleep(0.05 * 4 ** (attempt - 1))
                continue
            failures += 1
            last_failure = datetime.now(UTC).isoformat()
            log.error("audit write failed, row NOT recorded: %s", json.dumps(row, ensure_ascii=False), exc_info=True)
            return
        last_failure = None
        return


def health() -> dict[str, Any]:
    """For /api/health: degraded while the latest audit write failed."""
    return {"ok": last_failure is None, "failures": failures, "last_failure": last_failure}


def verify_store(store: Store) -> Verdict:
    """Walk the whole chain (blocking: call it from a thread or the CLI)."""
    return verify(store.iter_audit())
