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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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


# Shared by both stores: `execute` is sqlite3's or psycopg's connection.execute, `mark`
# its placeholder. The caller holds the append lock and an open transaction.
STORED = ("ts", "actor", "role", "action", "target", "ip", "detail")
LISTED = ("seq", *STORED, "prev_hash", "hash")


def append(execute: Any, mark: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Insert one row chained to the last one; the row as stored."""
    last = execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    prev = (last[0] or GENESIS) if last else GENESIS
    values = [entry.get(k) for k in STORED]
    marks = ", ".join([mark] * (len(STORED) + 1))
    seq = execute(
        f"INSERT INTO audit ({', '.join(STORED)}, prev_hash) VALUES ({marks}) RETURNING seq", [*values, prev]
    ).fetchone()[0]
    row = {"seq": seq, **dict(zip(STORED, values, strict=True)), "prev_hash": prev}
    row["hash"] = row_hash(prev, row)
    execute(f"UPDATE audit SET hash = {mark} WHERE seq = {mark}", (row["hash"], seq))
    return row


def page(execute: Any, mark: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
    rows = execute(
        f"SELECT {', '.join(LISTED)} FROM audit WHERE seq > {mark} ORDER BY seq LIMIT {mark}",
        (after_seq, limit),
    ).fetchall()
    return [dict(zip(LISTED, r, strict=True)) for r in rows]


def chain_existing(execute: Any, mark: str) -> int:
    """Chain the rows written before migration 0005, once, when it is applied: only while
    no row has a hash yet (later, a row without one is a finding for `verify`)."""
    if execute("SELECT 1 FROM audit WHERE hash IS NOT NULL LIMIT 1").fetchone():
        return 0
    prev, count, after = GENESIS, 0, -1
    while rows := page(execute, mark, after, 1000):
        for row in rows:
            row["hash"] = row_hash(prev, row)
            execute(
                f"UPDATE audit SET prev_hash = {mark}, hash = {mark} WHERE seq = {mark}",
                (prev, row["hash"], row["seq"]),
            )
            prev, after, count = row["hash"], row["seq"], count + 1
    return count
