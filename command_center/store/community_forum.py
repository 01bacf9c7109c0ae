"""The forum in the store: notices, articles, threads and replies (one table, community_posts),
residents' reports of posts, posting bans and the moderation trail (store/community_schema.py).

What residents read is `state = 'visible'` only; moderators read every state. A report is one
row per resident and post (the primary key), so a resident reporting twice counts once. Search
is LIKE '%词%' over titles and bodies (Chinese has no spaces; at a community's scale a scan of
the visible posts of the audience is cheap), the same SQL on both databases.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.access import StoreAccess
from command_center.store.community_market import iso
from command_center.store.community_schema import (
    community_bans,
    community_moderation,
    community_post_reports,
    community_posts,
    community_providers,
    community_services,
)
from command_center.store.queries import compile_sql, const

LIST_MAX = 100
SEARCH_MAX = 20
POST = ("id", "kind", "thread_id", "scope", "area_code", "author_kind", "author", "author_name", "title",
        "body", "state", "reports", "created_at", "updated_at")  # fmt: skip
TRAIL = ("action", "actor", "role", "reason", "at")


def like_pattern(text: str) -> str:
    """'%text%' with LIKE's own characters escaped (by backslash)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _page(statement: Any, most: int = LIST_MAX) -> Any:
    return statement.limit(const(most)).offset(const(0))


@cache
def _sql(dialect: str) -> dict[str, str]:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    c, b, m, s = community_posts.c, community_bans.c, community_moderation.c, community_services.c
    cols = [c[name] for name in POST]
    audience = sa.bindparam("area").like(c.scope.concat(const("%")))  # the post is for this community
    visible = c.state == const("visible")
    pattern: Any = sa.bindparam("pattern")
    reply = community_posts.alias("reply")
    replies = (
        sa.select(sa.func.count())
        .where(reply.c.thread_id == c.id, reply.c.state == const("visible"))
        .correlate(community_posts)
        .scalar_subquery()
    )
    p = community_providers.c
    approved = sa.and_(p.id == s.provider_id, p.state == const("approved"))
    statements: dict[str, Any] = {
        "add": sa.insert(community_posts).values({n: sa.bindparam(n) for n in POST}),
        "get": sa.select(*cols).where(c.id == sa.bindparam("id")),
        "list": _page(sa.select(*cols, replies).where(c.kind == sa.bindparam("kind"), audience, visible)
                      .order_by(c.created_at.desc())),
        "replies": _page(sa.select(*cols).where(c.thread_id == sa.bindparam("thread"), visible)
                         .order_by(c.created_at), 500),
        "report": insert(community_post_reports).values(
            post_id=sa.bindparam("post"), resident_id=sa.bindparam("resident"), reason=sa.bindparam("reason"),
            created_at=sa.bindparam("at")).on_conflict_do_nothing(),
        "count_report": sa.update(community_posts).where(c.id == sa.bindparam("post"))
        .values(reports=c.reports + sa.bindparam("one")),
        "set_state": sa.update(community_posts)
        .where(c.id == sa.bindparam("id"), c.state == sa.bindparam("was"))
        .values(state=sa.bindparam("state"), updated_at=sa.bindparam("at")),
        "trail_add": sa.insert(community_moderation).values(
            {n: sa.bindparam(n) for n in ("id", "post_id", *TRAIL)}),
        "trail": sa.select(*(m[n] for n in TRAIL)).where(m.post_id == sa.bindparam("post")).order_by(m.at),
        "queue": _page(sa.select(*cols).where(
            c.area_code.like(sa.bindparam("prefix")), sa.or_(c.reports > const(0), c.state != const("visible")))
            .order_by((c.state == const("visible")).asc(), c.reports.desc(), c.updated_at.desc())),
        "recent": sa.select(sa.func.count()).where(
            c.author == sa.bindparam("author"), c.author_kind == const("resident"), c.created_at > sa.bindparam("since")
        ),
        "ban": sa.insert(community_bans).values({col.name: sa.bindparam(col.name) for col in community_bans.c}),
        "bans": sa.select(b.until).where(
            b.resident_id == sa.bindparam("resident"), sa.bindparam("area").like(b.scope.concat(const("%"))),
            b.until > sa.bindparam("now")),
        "search_posts": _page(sa.select(c.id, c.kind, c.thread_id, c.title, c.body, c.area_code, c.created_at)
            .where(visible, c.kind != const("reply"), audience,
                   sa.or_(c.title.like(pattern, escape="\\"), c.body.like(pattern, escape="\\")))
            .order_by(c.created_at.desc()), SEARCH_MAX),
        "search_services": _page(sa.select(s.id, s.title, s.body, s.category, s.area_code)
            .select_from(community_services.join(community_providers, approved))
            .where(s.state == const("open"), s.area_code.like(sa.bindparam("prefix")),
                   sa.or_(s.title.like(pattern, escape="\\"), s.body.like(pattern, escape="\\")))
            .order_by(s.created_at.desc()), SEARCH_MAX),
    }  # fmt: skip
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _row(raw: Any) -> dict[str, Any]:
    return dict(zip(POST, raw, strict=False))


class ForumRecords:
    """The posts, reports, bans and moderation trail of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.sql = _sql(store.dialect)

    def add(self, fields: dict[str, Any], now: datetime) -> dict[str, Any]:
        """A post stored (fields: kind, thread_id, scope, area_code, author…, title, body, state)."""
        row = {"id": "P" + secrets.token_hex(6), "reports": 0, "created_at": iso(now), "updated_at": iso(now),
               "thread_id": None, **fields}  # fmt: skip
        with self.store._writing() as db:
            db.execute(self.sql["add"], row)
            if row["state"] == "held":
                self._trail(db, row["id"], "held", "filter", "system", "内容含敏感词，待审核", now)
        return row

    def get(self, post_id: str) -> dict[str, Any] | None:
        with self.store._reading() as db:
            raw = db.execute(self.sql["get"], {"id": post_id}).fetchone()
        return None if raw is None else _row(raw)

    def listing(self, kind: str, area_code: str) -> list[dict[str, Any]]:
        """Visible posts of a kind for a community (15-digit code), newest first, with reply counts."""
        with self.store._reading() as db:
            rows = db.execute(self.sql["list"], {"kind": kind, "area": area_code}).fetchall()
        return [{**_row(raw), "replies": int(raw[len(POST)])} for raw in rows]

    def replies(self, thread_id: str) -> list[dict[str, Any]]:
        with self.store._reading() as db:
            return [_row(raw) for raw in db.execute(self.sql["replies"], {"thread": thread_id}).fetchall()]

    def report(self, post_id: str, resident_id: str, reason: str, now: datetime) -> bool:
        """A resident's report, counted once per resident; False when they reported it before."""
        with self.store._writing() as db:
            params = {"post": post_id, "resident": resident_id, "reason": reason, "at": iso(now)}
            if not db.execute(self.sql["report"], params).rowcount:
                return False
            db.execute(self.sql["count_report"], {"post": post_id, "one": 1})
            self._trail(db, post_id, "report", resident_id, "resident", reason, now)
        return True

    def moderate(self, post_id: str, was: tuple[str, ...], state: str, actor: str, role: str, reason: str,
                 now: datetime) -> bool:  # fmt: skip
        """The post moved from one of `was` to `state`, with a trail row; False when it was not in one."""
        with self.store._writing() as db:
            for before in was:
                params = {"id": post_id, "was": before, "state": state, "at": iso(now)}
                if db.execute(self.sql["set_state"], params).rowcount:
                    action = "hide" if state == "hidden" else "restore"
                    self._trail(db, post_id, action, actor, role, reason, now)
                    return True
        return False

    def _trail(
        self, db: Any, post_id: str, action: str, actor: str, role: str, reason: str, now: datetime
    ) -> None:
        row = {"id": "M" + secrets.token_hex(6), "post_id": post_id, "action": action, "actor": actor,
               "role": role, "reason": reason, "at": iso(now)}  # fmt: skip
        db.execute(self.sql["trail_add"], row)

    def trail(self, post_id: str) -> list[dict[str, Any]]:
        with self.store._reading() as db:
            rows = db.execute(self.sql["trail"], {"post": post_id}).fetchall()
        return [dict(zip(TRAIL, raw, strict=True)) for raw in rows]

    def queue(self, prefix: str) -> list[dict[str, Any]]:
        """Reported, hidden and held posts under a jurisdiction prefix: held and reported first."""
        with self.store._reading() as db:
            return [_row(raw) for raw in db.execute(self.sql["queue"], {"prefix": prefix + "%"}).fetchall()]

    def recent(self, resident_id: str, since: datetime) -> int:
        """The resident's posts (any state) since a time: the flood limit's count."""
        with self.store._reading() as db:
            return int(
                db.execute(self.sql["recent"], {"author": resident_id, "since": iso(since)}).fetchone()[0]
            )

    def ban(self, resident_id: str, scope: str, until: datetime, reason: str, by: str, now: datetime) -> str:
        ban_id = "B" + secrets.token_hex(6)
        row = {"id": ban_id, "resident_id": resident_id, "scope": scope, "until": iso(until), "reason": reason,
               "banned_by": by, "created_at": iso(now)}  # fmt: skip
        with self.store._writing_one() as db:
            db.execute(self.sql["ban"], row)
        return ban_id

    def bans(self, resident_id: str, area_code: str, now: datetime) -> list[str]:
        """The ends of the resident's active bans that hold in this community."""
        with self.store._reading() as db:
            rows = db.execute(self.sql["bans"], {"resident": resident_id, "area": area_code, "now": iso(now)})
            return [str(r[0]) for r in rows.fetchall()]

    def search(self, text: str, area_code: str, prefix: str) -> tuple[list[Any], list[Any]]:
        """(posts, services) whose title or body holds `text`: visible notices, articles and
        threads for the community, open services under the area prefix."""
        pattern = like_pattern(text)
        with self.store._reading() as db:
            posts = db.execute(self.sql["search_posts"], {"pattern": pattern, "area": area_code}).fetchall()
            services = db.execute(self.sql["search_services"], {"pattern": pattern, "prefix": prefix + "%"})
            return [tuple(r) for r in posts], [tuple(r) for r in services.fetchall()]


def forum_store(store: object) -> ForumRecords:
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no forum")
    return ForumRecords(store)
