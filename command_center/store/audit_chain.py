"""The audit log's hash chain: each row is bound to the one before it (finding 19).

A row's `hash` is sha256(prev_hash + canonical JSON of its chained fields), and its
`prev_hash` is the previous row's (by seq) `hash`; the first row's is "". Changing a
row's content breaks its own hash; removing, inserting or reordering rows breaks the
next row's link. Both stores append under a lock that spans the read of the last hash
and the insert (SQLite: its write transaction; PostgreSQL: an advisory transaction lock),
so nodes sharing a database never fork the chain.

The client address (`ip`) is deliberately outside the chain: it is personal data with a
retention limit, and the retention sweep blanks old ones (`scrub_audit_ips_before`)
without breaking the chain. Everything else a row says is covered.

The hashes are not keyed: someone who can rewrite the table can also recompute every
hash after the row they changed. `command-center audit verify` prints the head hash so
that it can be written down elsewhere (a ticket, a log shipped off the machine), which
turns any later rewrite of the history before it into a detectable one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from command_center.store.queries import AUDIT_CHAINED, AUDIT_STORED, Statements

# A connection's execute (sqlite3's or psycopg's): SQL with named parameters, and them.
Execute = Callable[[str, dict[str, Any]], Any]

CHAINED = ("seq", "ts", "actor", "role", "action", "target", "detail")
GENESIS = ""  # the prev_hash of the first row
MIGRATION = "0005_audit_chain"  # the migration that added the columns


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    canonical = json.dumps(
        {k: row.get(k) for k in CHAINED}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    rows: int  # rows checked (up to and including the first bad one)
    head: str  # the last good row's hash
    bad_seq: int | None = None
    reason: str = ""

    def message(self) -> str:
        if self.ok:
            return f"ok, {self.rows} rows" + (f", head {self.head}" if self.rows else "")
        return f"audit chain broken at seq {self.bad_seq}: {self.reason}"


def verify(rows: Iterable[dict[str, Any]]) -> Verdict:
    """Walk rows in seq order; the first row that does not fit the chain is named."""
    prev, count, last_seq = GENESIS, 0, None
    for row in rows:
        count += 1
        seq = row.get("seq")
        if last_seq is not None and isinstance(seq, int) and seq <= last_seq:
            return Verdict(False, count, prev, seq, f"seq not after {last_seq}")
        if row.get("hash") is None:
            return Verdict(
                False, count, prev, seq, "row has no hash (written outside the store, or its hash removed)"
            )
        if row.get("prev_hash") != prev:
            return Verdict(
                False,
                count,
                prev,
                seq,
                "prev_hash is not the previous row's hash (a row removed or inserted?)",
            )
        if row_hash(prev, row) != row["hash"]:
            return Verdict(
                False, count, prev, seq, "hash does not match the row's content (the row was changed)"
            )
        prev, last_seq = row["hash"], seq
    return Verdict(True, count, prev)


# Shared by both stores: `execute(sql, params)` runs one of `sql`'s statements (store/queries.py)
# on the store's connection. The caller holds the append lock and an open transaction.
STORED = AUDIT_STORED
LISTED = AUDIT_CHAINED


def append(execute: Execute, sql: Statements, entry: dict[str, Any]) -> dict[str, Any]:
    """Insert one row chained to the last one; the row as stored."""
    last = execute(sql.last_audit_hash, {}).fetchone()
    prev = (last[0] or GENESIS) if last else GENESIS
    values = {k: entry.get(k) for k in STORED}
    seq = execute(sql.insert_audit, {**values, "prev_hash": prev}).fetchone()[0]
    row = {"seq": seq, **values, "prev_hash": prev}
    row["hash"] = row_hash(prev, row)
    execute(sql.set_audit_hash, {"hash": row["hash"], "seq": seq})
    return row


def page(execute: Execute, sql: Statements, after_seq: int, limit: int) -> list[dict[str, Any]]:
    rows = execute(sql.audit_page, {"after": after_seq, "limit": limit}).fetchall()
    return [dict(zip(LISTED, r, strict=True)) for r in rows]


def chain_existing(execute: Execute, sql: Statements) -> int:
    """Chain the rows written before migration 0005, once, when it is applied: only while
    no row has a hash yet (later, a row without one is a finding for `verify`)."""
    if execute(sql.any_audit_hashed, {}).fetchone():
        return 0
    prev, count, after = GENESIS, 0, -1
    while rows := page(execute, sql, after, 1000):
        for row in rows:
            row["hash"] = row_hash(prev, row)
            execute(sql.chain_audit_row, {"prev_hash": prev, "hash": row["hash"], "seq": row["seq"]})
            prev, after, count = row["hash"], row["seq"], count + 1
    return count
