"""The service marketplace and the forum (issue 22) as tables, on store/schema.py's `metadata`;
migration 0031 makes the same. Like store/resident_schema.py, not imported by schema.py: the
modules that use the tables import this one. Times are UTC ISO text.

Areas: `community_code` / `area_code` are 15-digit area codes (a community or one of its
grids); a post's `scope` is the significant-digit prefix of its audience ("" the whole city,
a district's 6 digits, a community's 12), so "is this post for community X" is
`X LIKE scope || '%'` and "is it in an officer's jurisdiction" is `area_code LIKE j || '%'`.
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import metadata

T = sa.Text

# 服务提供者: a resident's provider profile (one per resident), approved by the community.
community_providers = sa.Table(
    "community_providers",
    metadata,
    sa.Column("id", T, primary_key=True),  # PV + 12 hex
    sa.Column("resident_id", T, nullable=False, unique=True),
    sa.Column("name", T, nullable=False),
    sa.Column("kind", T, nullable=False),  # volunteer, organisation
    sa.Column("organisation_id", T),  # base data's 实有单位, for kind organisation
    sa.Column("community_code", T, nullable=False),
    sa.Column("intro", T, nullable=False),
    sa.Column("state", T, nullable=False),  # pending, approved, rejected
    sa.Column("reason", T, nullable=False),
    sa.Column("decided_by", T),
    sa.Column("decided_at", T),
    sa.Column("created_at", T, nullable=False),
    sa.Index("community_providers_area", "community_code", "state"),
)

community_services = sa.Table(
    "community_services",
    metadata,
    sa.Column("id", T, primary_key=True),  # SV + 12 hex
    sa.Column("provider_id", T, nullable=False),
    sa.Column("category", T, nullable=False),
    sa.Column("title", T, nullable=False),
    sa.Column("body", T, nullable=False),
    sa.Column("area_code", T, nullable=False),  # the community, or one of its grids
    sa.Column("price_fen", sa.Integer, nullable=False),  # 0: free
    sa.Column("hours", T, nullable=False),
    sa.Column("state", T, nullable=False),  # open, closed
    sa.Column("created_at", T, nullable=False),
    sa.Index("community_services_area", "area_code", "category"),
    sa.Index("community_services_provider", "provider_id"),
)

community_requests = sa.Table(
    "community_requests",
    metadata,
    sa.Column("id", T, primary_key=True),  # SR + 12 hex
    sa.Column("service_id", T, nullable=False),
    sa.Column("provider_id", T, nullable=False),
    sa.Column("resident_id", T, nullable=False),
    sa.Column("category", T, nullable=False),
    sa.Column("grid_code", T, nullable=False),  # where the need is (the demand per grid)
    sa.Column("note", T, nullable=False),
    sa.Column("state", T, nullable=False),  # requested, accepted, declined, done
    sa.Column("created_at", T, nullable=False),
    sa.Column("updated_at", T, nullable=False),
    sa.Column("stars", sa.Integer),
    sa.Column("comment", T),
    sa.Column("rated_at", T),
    sa.Index("community_requests_resident", "resident_id", "created_at"),
    sa.Index("community_requests_provider", "provider_id", "created_at"),
    sa.Index("community_requests_grid", "grid_code", "category"),
)

# notices, articles, threads and replies in one table: one search, one moderation queue
community_posts = sa.Table(
    "community_posts",
    metadata,
    sa.Column("id", T, primary_key=True),  # P + 12 hex
    sa.Column("kind", T, nullable=False),  # notice, article, thread, reply
    sa.Column("thread_id", T),  # a reply's thread
    sa.Column("scope", T, nullable=False),  # the audience's code prefix
    sa.Column("area_code", T, nullable=False),  # 15 digits; "" for a city-wide article
    sa.Column("author_kind", T, nullable=False),  # staff, resident
    sa.Column("author", T, nullable=False),  # username or resident id
    sa.Column("author_name", T, nullable=False),  # shown: a community's name, 居民5678
    sa.Column("title", T, nullable=False),
    sa.Column("body", T, nullable=False),
    sa.Column("state", T, nullable=False),  # visible, hidden, held
    sa.Column("reports", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("created_at", T, nullable=False),
    sa.Column("updated_at", T, nullable=False),
    sa.Index("community_posts_scope", "scope", "kind", "created_at"),
    sa.Index("community_posts_thread", "thread_id", "created_at"),
    sa.Index("community_posts_area", "area_code", "state"),
)

community_post_reports = sa.Table(
    "community_post_reports",
    metadata,
    sa.Column("post_id", T, primary_key=True),
    sa.Column("resident_id", T, primary_key=True),  # one report per resident and post
    sa.Column("reason", T, nullable=False),
    sa.Column("created_at", T, nullable=False),
)

community_bans = sa.Table(
    "community_bans",
    metadata,
    sa.Column("id", T, primary_key=True),
    sa.Column("resident_id", T, nullable=False),
    sa.Column("scope", T, nullable=False),  # the community's prefix the ban holds in
    sa.Column("until", T, nullable=False),
    sa.Column("reason", T, nullable=False),
    sa.Column("banned_by", T, nullable=False),
    sa.Column("created_at", T, nullable=False),
    sa.Index("community_bans_resident", "resident_id", "until"),
)

# a post's moderation trail (report, hide, restore, held), shown to moderators
community_moderation = sa.Table(
    "community_moderation",
    metadata,
    sa.Column("id", T, primary_key=True),
    sa.Column("post_id", T, nullable=False),
    sa.Column("action", T, nullable=False),
    sa.Column("actor", T, nullable=False),
    sa.Column("role", T, nullable=False),
    sa.Column("reason", T, nullable=False),
    sa.Column("at", T, nullable=False),
    sa.Index("community_moderation_post", "post_id", "at"),
)

TABLES = (community_providers, community_services, community_requests, community_posts,
          community_post_reports, community_bans, community_moderation)  # fmt: skip
