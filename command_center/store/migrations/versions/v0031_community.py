"""0031 service marketplace and forum: providers, services, requests, notices, threads, moderation (issue 22).

The tables of store/community_schema.py, written out here so that the revision stays as it was
made whatever the module becomes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

T = sa.Text


def _col(name: str, kind: type = sa.Text, nullable: bool = False, **kw: Any) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, kind, nullable=nullable, **kw)


def upgrade() -> None:
    op.create_table(
        "community_providers",
        _col("id", primary_key=True), _col("resident_id", unique=True), _col("name"), _col("kind"),
        _col("organisation_id", nullable=True), _col("community_code"), _col("intro"), _col("state"),
        _col("reason"), _col("decided_by", nullable=True), _col("decided_at", nullable=True), _col("created_at"),
    )  # fmt: skip
    op.create_index("community_providers_area", "community_providers", ["community_code", "state"])
    op.create_table(
        "community_services",
        _col("id", primary_key=True), _col("provider_id"), _col("category"), _col("title"), _col("body"),
        _col("area_code"), _col("price_fen", sa.Integer), _col("hours"), _col("state"), _col("created_at"),
    )  # fmt: skip
    op.create_index("community_services_area", "community_services", ["area_code", "category"])
    op.create_index("community_services_provider", "community_services", ["provider_id"])
    op.create_table(
        "community_requests",
        _col("id", primary_key=True), _col("service_id"), _col("provider_id"), _col("resident_id"),
        _col("category"), _col("grid_code"), _col("note"), _col("state"), _col("created_at"), _col("updated_at"),
        _col("stars", sa.Integer, nullable=True), _col("comment", nullable=True), _col("rated_at", nullable=True),
    )  # fmt: skip
    op.create_index("community_requests_resident", "community_requests", ["resident_id", "created_at"])
    op.create_index("community_requests_provider", "community_requests", ["provider_id", "created_at"])
    op.create_index("community_requests_grid", "community_requests", ["grid_code", "category"])
    op.create_table(
        "community_posts",
        _col("id", primary_key=True), _col("kind"), _col("thread_id", nullable=True), _col("scope"),
        _col("area_code"), _col("author_kind"), _col("author"), _col("author_name"), _col("title"), _col("body"),
        _col("state"), _col("reports", sa.Integer, server_default=sa.text("0")), _col("created_at"),
        _col("updated_at"),
    )  # fmt: skip
    op.create_index("community_posts_scope", "community_posts", ["scope", "kind", "created_at"])
    op.create_index("community_posts_thread", "community_posts", ["thread_id", "created_at"])
    op.create_index("community_posts_area", "community_posts", ["area_code", "state"])
    op.create_table(
        "community_post_reports",
        _col("post_id", primary_key=True), _col("resident_id", primary_key=True), _col("reason"), _col("created_at"),
    )  # fmt: skip
    op.create_table(
        "community_bans",
        _col("id", primary_key=True), _col("resident_id"), _col("scope"), _col("until"), _col("reason"),
        _col("banned_by"), _col("created_at"),
    )  # fmt: skip
    op.create_index("community_bans_resident", "community_bans", ["resident_id", "until"])
    op.create_table(
        "community_moderation",
        _col("id", primary_key=True), _col("post_id"), _col("action"), _col("actor"), _col("role"),
        _col("reason"), _col("at"),
    )  # fmt: skip
    op.create_index("community_moderation_post", "community_moderation", ["post_id", "at"])
