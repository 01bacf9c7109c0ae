"""The chat's conversations and messages in the store (tables: store/chat_schema.py), written
once for SQLite and PostgreSQL through the store's own connections, like resident_records.py.

A message and its conversation's `last_seq` are written in one transaction; a resident's
message is counted against the flood limits in that same transaction, so a refusal stores
nothing. Reads page by seq: a conversation's history backwards (`before`), and a client's
catch-up forwards (`after`: everything it has not seen, over all its conversations).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.store.access import StoreAccess
from command_center.store.chat_schema import chat_conversations, chat_messages
from command_center.store.queries import compile_sql, const
from command_center.store.resident_records import iso

PAGE = 50  # messages in one page of history, by default
MAX_PAGE = 200
LISTED = 100  # conversations listed, latest first
RESIDENT = "resident"
FROM_STAFF = ("worker", "staff", "system")  # what a resident reads (and marks read)

CONVERSATION = [c for c in chat_conversations.c]
MESSAGE = [c for c in chat_messages.c]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose conversations a staff reader sees: grids by code prefix (a worker's own grids are
    15-digit prefixes); an empty prefix is the whole city."""

    prefixes: tuple[str, ...]


def _bind(table: sa.Table, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {c.name: sa.bindparam(c.name) for c in table.columns if c.name not in skip}


def _unread(side_resident: bool) -> Any:
    m = chat_messages.c
    senders = (
        m.sender_kind.in_([const(k) for k in FROM_STAFF])
        if side_resident
        else m.sender_kind == const(RESIDENT)
    )
    return (
        sa.select(sa.func.count())
        .where(m.conversation_id == chat_conversations.c.id, m.read_at.is_(None), senders)
        .scalar_subquery()
    )


def _last_text() -> Any:
    m = chat_messages.c
    return sa.select(m.body).where(m.seq == chat_conversations.c.last_seq).scalar_subquery()


def _conversation_statements() -> dict[str, Any]:
    c = chat_conversations.c
    mine = c.resident_id == sa.bindparam("resident")
    in_scope = c.grid_code.like(sa.bindparam("prefix"))
    listed = [*CONVERSATION, _unread(True).label("unread_resident"), _unread(False).label("unread_staff"),
              _last_text().label("last_text")]  # fmt: skip
    statements: dict[str, Any] = {
        "add_conversation": sa.insert(chat_conversations).values(_bind(chat_conversations)),
        "open_for": sa.select(*CONVERSATION)
        .where(mine, c.grid_code == sa.bindparam("grid"), c.state == const("open"))
        .order_by(c.created_at.desc())
        .limit(const(1))
        .offset(const(0)),
        "get": sa.select(*listed).where(c.id == sa.bindparam("id")),
        "light": sa.select(*CONVERSATION).where(c.id == sa.bindparam("id")),
        "open_of_resident": sa.select(*CONVERSATION).where(mine, c.state == const("open")),
        "of_resident": sa.select(*listed)
        .where(mine)
        .order_by(c.updated_at.desc())
        .limit(const(LISTED))
        .offset(const(0)),
        "in_scope": sa.select(*listed)
        .where(in_scope)
        .order_by(c.updated_at.desc())
        .limit(const(LISTED))
        .offset(const(0)),
        "set_worker": sa.update(chat_conversations)
        .where(c.id == sa.bindparam("id"))
        .values(worker_id=sa.bindparam("worker")),
        "set_case": sa.update(chat_conversations)
        .where(c.id == sa.bindparam("id"), c.case_id.is_(None))
        .values(case_id=sa.bindparam("case")),
    }
    return statements


def _message_statements() -> dict[str, Any]:
    c, m = chat_conversations.c, chat_messages.c
    mine = c.resident_id == sa.bindparam("resident")
    in_scope = c.grid_code.like(sa.bindparam("prefix"))
    statements: dict[str, Any] = {
        "add_message": sa.insert(chat_messages).values(_bind(chat_messages, ("seq",))).returning(m.seq),
        "touch": sa.update(chat_conversations)
        .where(c.id == sa.bindparam("id"))
        .values(last_seq=sa.bindparam("seq"), updated_at=sa.bindparam("at")),
        # (in the burst, in the minute): one indexed read for both flood windows
        "recent": sa.select(
            sa.func.coalesce(
                sa.func.sum(sa.case((m.created_at > sa.bindparam("burst"), const(1)), else_=const(0))),
                const(0),
            ),
            sa.func.count(),
        ).where(
            m.sender_id == sa.bindparam("sender"),
            m.sender_kind == const(RESIDENT),
            m.created_at > sa.bindparam("minute"),
        ),
        "history": sa.select(*MESSAGE)
        .where(
            m.conversation_id == sa.bindparam("id"),
            m.seq < sa.bindparam("before"),
            m.seq > sa.bindparam("after"),
        )
        .order_by(m.seq.desc())
        .limit(sa.bindparam("limit"))
        .offset(const(0)),
        "after_resident": sa.select(*MESSAGE)
        .select_from(chat_messages.join(chat_conversations, c.id == m.conversation_id))
        .where(mine, m.seq > sa.bindparam("after"))
        .order_by(m.seq)
        .limit(sa.bindparam("limit"))
        .offset(const(0)),
        "after_scope": sa.select(*MESSAGE)
        .select_from(chat_messages.join(chat_conversations, c.id == m.conversation_id))
        .where(in_scope, m.seq > sa.bindparam("after"))
        .order_by(m.seq)
        .limit(sa.bindparam("limit"))
        .offset(const(0)),
        "read_by_resident": sa.update(chat_messages)
        .where(
            m.conversation_id == sa.bindparam("id"),
            m.seq <= sa.bindparam("upto"),
            m.read_at.is_(None),
            m.sender_kind.in_([const(k) for k in FROM_STAFF]),
        )
        .values(read_at=sa.bindparam("at")),  # fmt: skip
        "read_by_staff": sa.update(chat_messages)
        .where(
            m.conversation_id == sa.bindparam("id"),
            m.seq <= sa.bindparam("upto"),
            m.read_at.is_(None),
            m.sender_kind == const(RESIDENT),
        )
        .values(read_at=sa.bindparam("at")),  # fmt: skip
        "by_ref": sa.select(*MESSAGE).where(
            m.conversation_id == sa.bindparam("id"),
            m.sender_id == sa.bindparam("sender"),
            m.ref == sa.bindparam("ref"),
        ),
        "count_messages": sa.select(sa.func.count()).where(m.conversation_id == sa.bindparam("id")),
    }
    return statements


def _check_statement() -> dict[str, Any]:
    """The send path's checks at the commit in one round trip (chat_fast.py): the
    conversation, the sender's earlier message of that ref, their flood counts."""
    c, m = chat_conversations.c, chat_messages.c
    return {"check": sa.select(
        c.resident_id,
        c.worker_id,
        c.state,
        sa.select(m.seq)
        .where(m.conversation_id == c.id, m.sender_id == sa.bindparam("sender"), m.ref == sa.bindparam("ref"))
        .scalar_subquery(),
        sa.select(sa.func.count())
        .where(m.sender_id == sa.bindparam("sender"), m.sender_kind == const(RESIDENT),
               m.created_at > sa.bindparam("burst"))
        .scalar_subquery(),
        sa.select(sa.func.count())
        .where(m.sender_id == sa.bindparam("sender"), m.sender_kind == const(RESIDENT),
               m.created_at > sa.bindparam("minute"))
        .scalar_subquery(),
    ).where(c.id == sa.bindparam("id"))}  # fmt: skip


@cache
def _sql(dialect: str) -> dict[str, str]:
    statements = _conversation_statements() | _message_statements() | _check_statement()
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _conversation(row: Any) -> dict[str, Any]:
    names = [col.name for col in CONVERSATION]
    out = dict(zip(names, row[: len(names)], strict=True))
    if len(row) > len(names):
        out["unread_resident"], out["unread_staff"], out["last_text"] = (int(row[-3]), int(row[-2]), row[-1])
    out["last_seq"] = int(out["last_seq"])
    return out


def _message(row: Any) -> dict[str, Any]:
    out = dict(zip([col.name for col in MESSAGE], row, strict=True))
    out["seq"] = int(out["seq"])
    return out


class ChatRecords:
    """The chat of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.sql = _sql(store.dialect)

    # conversations
    def open_conversation(
        self, resident_id: str, grid_code: str, worker_id: str | None, now: datetime
    ) -> tuple[dict[str, Any], bool]:
        """The resident's open conversation with the grid, made if there is none; (it, made)."""
        with self.store._writing() as db:
            found = db.execute(self.sql["open_for"], {"resident": resident_id, "grid": grid_code}).fetchone()
            if found is not None:
                return _conversation(found), False
            row = {"id": "CV" + secrets.token_hex(8), "resident_id": resident_id, "grid_code": grid_code,
                   "worker_id": worker_id, "state": "open", "case_id": None, "created_at": iso(now),
                   "updated_at": iso(now), "last_seq": 0}  # fmt: skip
            db.execute(self.sql["add_conversation"], row)
        return row, True

    def get(self, conversation_id: str) -> dict[str, Any] | None:
        with self.store._reading() as db:
            row = db.execute(self.sql["get"], {"id": conversation_id}).fetchone()
        return None if row is None else _conversation(row)

    def of_resident(self, resident_id: str) -> list[dict[str, Any]]:
        with self.store._reading() as db:
            rows = db.execute(self.sql["of_resident"], {"resident": resident_id}).fetchall()
        return [_conversation(r) for r in rows]

    def in_scope(self, scope: Scope) -> list[dict[str, Any]]:
        """The latest conversations of the scope's grids, newest first."""
        found: dict[str, dict[str, Any]] = {}
        with self.store._reading() as db:
            for prefix in scope.prefixes:
                for row in db.execute(self.sql["in_scope"], {"prefix": prefix + "%"}).fetchall():
                    found[row[0]] = _conversation(row)
        return sorted(found.values(), key=lambda c: c["updated_at"], reverse=True)[:LISTED]

    def set_worker(self, conversation_id: str, worker_id: str | None) -> None:
        with self.store._writing_one() as db:
            db.execute(self.sql["set_worker"], {"id": conversation_id, "worker": worker_id})

    def set_case(self, conversation_id: str, case_id: str) -> bool:
        """The case linked, once (False when another tap linked one first)."""
        with self.store._writing_one() as db:
            return (
                int(db.execute(self.sql["set_case"], {"id": conversation_id, "case": case_id}).rowcount) > 0
            )

    # messages
    def recent(self, sender_id: str, limits: tuple[datetime, datetime]) -> tuple[int, int]:
        """The resident's messages since the burst's start and since the minute's."""
        with self.store._reading() as db:
            return self._recent(db, sender_id, limits)

    def _recent(self, db: Any, sender_id: str, limits: tuple[datetime, datetime]) -> tuple[int, int]:
        params = {"sender": sender_id, "burst": iso(limits[0]), "minute": iso(limits[1])}
        burst, minute = db.execute(self.sql["recent"], params).fetchone()
        return int(burst), int(minute)

    # The send path's statements on a connection the caller holds: inside the store's batch
    # (the chat's group commit, chat_service.GroupCommit) the batch's own transaction, with no
    # savepoint per statement (a savepoint costs PostgreSQL two more round trips). A failed
    # statement then fails the whole batch: nothing of it is stored, every sender is told.
    def held(self) -> AbstractContextManager[Any]:
        return self.store._reading()

    def set_worker_in(self, db: Any, conversation_id: str, worker_id: str | None) -> None:
        db.execute(self.sql["set_worker"], {"id": conversation_id, "worker": worker_id})

    def check_in(
        self, db: Any, conversation_id: str, sender_id: str, ref: str | None, limits: tuple[datetime, datetime]
    ) -> dict[str, Any] | None:
        """The conversation's owner, worker and state, the seq of the sender's earlier message of
        `ref` (None: none), and their messages in the burst and the minute; None: no conversation."""
        params = {"id": conversation_id, "sender": sender_id, "ref": ref, "burst": iso(limits[0]),
                  "minute": iso(limits[1])}  # fmt: skip
        row = db.execute(self.sql["check"], params).fetchone()
        if row is None:
            return None
        resident, worker, state, earlier, burst, minute = row
        return {"resident_id": resident, "worker_id": worker, "state": state,
                "earlier": None if earlier is None else int(earlier), "burst": int(burst), "minute": int(minute)}  # fmt: skip

    def by_ref_in(self, db: Any, conversation_id: str, sender_id: str, ref: str) -> dict[str, Any] | None:
        """The sender's message of that ref (their own id for it), if stored: a re-send's first."""
        row = db.execute(self.sql["by_ref"], {"id": conversation_id, "sender": sender_id, "ref": ref}).fetchone()
        return None if row is None else _message(row)

    def add_in(self, db: Any, message: dict[str, Any]) -> dict[str, Any]:
        row = {"photo_id": None, "lon": None, "lat": None, "read_at": None, "msg_id": None, "ref": None, **message}
        (seq,) = db.execute(self.sql["add_message"], row).fetchone()
        db.execute(
            self.sql["touch"], {"id": row["conversation_id"], "seq": int(seq), "at": row["created_at"]}
        )
        return row | {"seq": int(seq)}

    def open_of_resident(self, resident_id: str) -> list[dict[str, Any]]:
        """The resident's open conversations, light rows: what their socket will write in."""
        with self.store._reading() as db:
            return [_conversation(r) for r in db.execute(self.sql["open_of_resident"], {"resident": resident_id}).fetchall()]

    def get_light(self, conversation_id: str) -> dict[str, Any] | None:
        """The conversation's row alone (no unread counts): the send path's lookup."""
        with self.store._reading() as db:
            row = db.execute(self.sql["light"], {"id": conversation_id}).fetchone()
        return None if row is None else _conversation(row)

    def add(
        self,
        message: dict[str, Any],
        limits: tuple[datetime, datetime] | None = None,
        refuse: Callable[[int, int], object | None] | None = None,
    ) -> dict[str, Any] | object:
        """The message stored and numbered (its row with `seq`). With `limits` (the burst's and
        the minute's starts) the sender's recent messages are counted first, in the same
        transaction, and `refuse(in burst, in minute)` asked: what it gives back (a refusal)
        comes back instead, and nothing is stored."""
        row = {"photo_id": None, "lon": None, "lat": None, "read_at": None, "msg_id": None, "ref": None, **message}
        with self.store._writing() as db:
            if limits is not None and refuse is not None:
                refusal = refuse(*self._recent(db, row["sender_id"], limits))
                if refusal is not None:
                    return refusal
            (seq,) = db.execute(self.sql["add_message"], row).fetchone()
            db.execute(
                self.sql["touch"], {"id": row["conversation_id"], "seq": int(seq), "at": row["created_at"]}
            )
        return row | {"seq": int(seq)}

    def history(
        self, conversation_id: str, before: int | None, after: int, limit: int = PAGE
    ) -> list[dict[str, Any]]:
        """A page of the conversation in order: the `limit` messages before `before` (None: the latest)."""
        params = {"id": conversation_id, "before": before if before is not None else 2**62, "after": after,
                  "limit": limit}  # fmt: skip
        with self.store._reading() as db:
            rows = db.execute(self.sql["history"], params).fetchall()
        return [_message(r) for r in reversed(rows)]

    def after_resident(self, resident_id: str, after: int, limit: int = MAX_PAGE) -> list[dict[str, Any]]:
        with self.store._reading() as db:
            rows = db.execute(
                self.sql["after_resident"], {"resident": resident_id, "after": after, "limit": limit}
            ).fetchall()
        return [_message(r) for r in rows]

    def after_scope(self, scope: Scope, after: int, limit: int = MAX_PAGE) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        with self.store._reading() as db:
            for prefix in scope.prefixes:
                params = {"prefix": prefix + "%", "after": after, "limit": limit}
                found.extend(_message(r) for r in db.execute(self.sql["after_scope"], params).fetchall())
        return sorted({m["seq"]: m for m in found}.values(), key=lambda m: m["seq"])[:limit]

    def mark_read(self, conversation_id: str, by_resident: bool, upto: int, at: datetime) -> int:
        """The other side's messages up to `upto` marked read now; how many were unread."""
        name = "read_by_resident" if by_resident else "read_by_staff"
        with self.store._writing_one() as db:
            return int(
                db.execute(self.sql[name], {"id": conversation_id, "upto": upto, "at": iso(at)}).rowcount
            )

    def count(self, conversation_id: str) -> int:
        with self.store._reading() as db:
            return int(db.execute(self.sql["count_messages"], {"id": conversation_id}).fetchone()[0])


def chat_store(store: object) -> ChatRecords:
    """The chat of a store (either backend)."""
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no chat")
    return ChatRecords(store)
