"""The service marketplace in the store (tables: store/community_schema.py), written once for
SQLite and PostgreSQL (compiled per dialect, like store/resident_records.py).

A request's step (accept, decline, done) and its rating are conditional UPDATEs on the state
it must be in (and, for the rating, `stars IS NULL`): two taps racing, on one node or two, make
one change, and a second rating is refused rather than overwriting the first.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.store.access import StoreAccess
from command_center.store.community_schema import community_providers, community_requests, community_services
from command_center.store.queries import compile_sql, const
from residents.market import Offer

LIST_MAX = 200

PROVIDER = ("id", "resident_id", "name", "kind", "organisation_id", "community_code", "intro", "state",
            "reason", "decided_by", "decided_at", "created_at")  # fmt: skip
SERVICE = ("id", "provider_id", "category", "title", "body", "area_code", "price_fen", "hours", "state",
           "created_at")  # fmt: skip
REQUEST = ("id", "service_id", "provider_id", "resident_id", "category", "grid_code", "note", "state",
           "created_at", "updated_at", "stars", "comment", "rated_at")  # fmt: skip


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _bind(table: sa.Table) -> dict[str, Any]:
    return {c.name: sa.bindparam(c.name) for c in table.columns}


def _cols(table: sa.Table, names: tuple[str, ...]) -> list[Any]:
    return [table.c[name] for name in names]


@cache
def _sql(dialect: str) -> dict[str, str]:
    """Providers and services (and, merged in, _request_sql's)."""
    p, s = community_providers.c, community_services.c
    approved = sa.and_(p.id == s.provider_id, p.state == const("approved"))
    service_cols = [*_cols(community_services, SERVICE), p.name.label("provider_name")]
    prefix: Any = sa.bindparam("prefix")
    statements: dict[str, Any] = {
        "add_provider": sa.insert(community_providers).values(_bind(community_providers)),
        "provider_of": sa.select(*_cols(community_providers, PROVIDER)).where(
            p.resident_id == sa.bindparam("resident")
        ),
        "provider": sa.select(*_cols(community_providers, PROVIDER)).where(p.id == sa.bindparam("id")),
        "providers": sa.select(*_cols(community_providers, PROVIDER))
        .where(
            p.community_code.like(prefix),
            sa.or_(p.state == sa.bindparam("state"), sa.bindparam("any") == const(1)),
        )
        .order_by(p.created_at.desc())
        .limit(const(LIST_MAX))
        .offset(const(0)),
        "reapply": sa.update(community_providers)
        .where(p.resident_id == sa.bindparam("resident"), p.state == const("rejected"))
        .values(
            {
                k: sa.bindparam(k)
                for k in (
                    "name",
                    "kind",
                    "organisation_id",
                    "community_code",
                    "intro",
                    "state",
                    "reason",
                    "created_at",
                )
            }
        ),  # fmt: skip
        "decide": sa.update(community_providers)
        .where(p.id == sa.bindparam("id"), p.state == const("pending"))
        .values(
            state=sa.bindparam("state"),
            reason=sa.bindparam("reason"),
            decided_by=sa.bindparam("by"),
            decided_at=sa.bindparam("at"),
        ),  # fmt: skip
        "add_service": sa.insert(community_services).values(_bind(community_services)),
        "service": sa.select(*service_cols)
        .select_from(community_services.join(community_providers, approved))
        .where(s.id == sa.bindparam("id")),
        "services": sa.select(*service_cols)
        .select_from(community_services.join(community_providers, approved))
        .where(
            s.area_code.like(prefix),
            s.state == const("open"),
            sa.or_(s.category == sa.bindparam("category"), sa.bindparam("category") == const("")),
        )
        .order_by(s.created_at.desc())
        .limit(const(LIST_MAX))
        .offset(const(0)),  # fmt: skip
        "services_of": sa.select(*_cols(community_services, SERVICE))
        .where(s.provider_id == sa.bindparam("provider"))
        .order_by(s.created_at.desc())
        .limit(const(LIST_MAX))
        .offset(const(0)),
        "close_service": sa.update(community_services)
        .where(s.id == sa.bindparam("id"), s.provider_id == sa.bindparam("provider"))
        .values(state=const("closed")),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()} | _request_sql(
        dialect
    )


def _request_sql(dialect: str) -> dict[str, str]:
    """Requests, ratings, and supply against demand."""
    p, s, r = community_providers.c, community_services.c, community_requests.c
    approved = sa.and_(p.id == s.provider_id, p.state == const("approved"))
    prefix: Any = sa.bindparam("prefix")
    statements: dict[str, Any] = {
        "add_request": sa.insert(community_requests).values(_bind(community_requests)),
        "requests_of": sa.select(*_cols(community_requests, REQUEST), s.title, p.name)
        .select_from(
            community_requests.join(community_services, s.id == r.service_id).join(
                community_providers, p.id == r.provider_id
            )
        )
        .where(r.resident_id == sa.bindparam("resident"))
        .order_by(r.created_at.desc())
        .limit(const(LIST_MAX))
        .offset(const(0)),  # fmt: skip
        "incoming": sa.select(*_cols(community_requests, REQUEST), s.title, p.name)
        .select_from(
            community_requests.join(community_services, s.id == r.service_id).join(
                community_providers, p.id == r.provider_id
            )
        )
        .where(r.provider_id == sa.bindparam("provider"))
        .order_by(r.created_at.desc())
        .limit(const(LIST_MAX))
        .offset(const(0)),  # fmt: skip
        "request": sa.select(*_cols(community_requests, REQUEST)).where(r.id == sa.bindparam("id")),
        "step": sa.update(community_requests)
        .where(
            r.id == sa.bindparam("id"),
            r.provider_id == sa.bindparam("provider"),
            r.state == sa.bindparam("was"),
        )
        .values(state=sa.bindparam("state"), updated_at=sa.bindparam("at")),
        "rate": sa.update(community_requests)
        .where(
            r.id == sa.bindparam("id"),
            r.resident_id == sa.bindparam("resident"),
            r.state == const("done"),
            r.stars.is_(None),
        )
        .values(
            stars=sa.bindparam("stars"), comment=sa.bindparam("comment"), rated_at=sa.bindparam("at")
        ),  # fmt: skip
        # supply and demand: open offers of approved providers, and requests since a day, per area and category
        "supply": sa.select(s.area_code, s.category, sa.func.count())
        .select_from(community_services.join(community_providers, approved))
        .where(s.area_code.like(prefix), s.state == const("open"))
        .group_by(s.area_code, s.category),
        "demand": sa.select(r.grid_code, r.category, sa.func.count())
        .where(r.grid_code.like(prefix), r.created_at >= sa.bindparam("since"))
        .group_by(r.grid_code, r.category),
        "ratings": sa.select(sa.func.count(r.stars), sa.func.avg(r.stars)).where(
            r.provider_id == sa.bindparam("provider")
        ),
    }
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _row(names: tuple[str, ...], raw: Any) -> dict[str, Any]:
    return dict(zip(names, raw, strict=False))


class MarketRecords:
    """Providers, services and requests of one store."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.sql = _sql(store.dialect)

    def _one(self, name: str, names: tuple[str, ...], params: dict[str, Any]) -> dict[str, Any] | None:
        with self.store._reading() as db:
            raw = db.execute(self.sql[name], params).fetchone()
        return None if raw is None else _row(names, raw)

    def _all(self, name: str, names: tuple[str, ...], params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.store._reading() as db:
            return [_row(names, raw) for raw in db.execute(self.sql[name], params).fetchall()]

    def _write(self, name: str, params: dict[str, Any]) -> int:
        with self.store._writing_one() as db:
            return int(db.execute(self.sql[name], params).rowcount)

    # providers
    def apply(self, resident_id: str, fields: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        """A new application (pending); a rejected one may apply again. None when the resident
        has a pending or approved profile already."""
        row = {"resident_id": resident_id, "state": "pending", "reason": "", "created_at": iso(now), **fields}
        with self.store._writing() as db:
            if db.execute(self.sql["provider_of"], {"resident": resident_id}).fetchone() is None:
                db.execute(self.sql["add_provider"], {"id": "PV" + secrets.token_hex(6), "decided_by": None,
                                                      "decided_at": None, **row})  # fmt: skip
            elif not db.execute(self.sql["reapply"], {"resident": resident_id, **row}).rowcount:
                return None
        return self.provider_of(resident_id)

    def provider_of(self, resident_id: str) -> dict[str, Any] | None:
        return self._one("provider_of", PROVIDER, {"resident": resident_id})

    def provider(self, provider_id: str) -> dict[str, Any] | None:
        return self._one("provider", PROVIDER, {"id": provider_id})

    def providers(self, prefix: str, state: str | None) -> list[dict[str, Any]]:
        params = {"prefix": prefix + "%", "state": state or "", "any": 0 if state else 1}
        return self._all("providers", PROVIDER, params)

    def decide(self, provider_id: str, approve: bool, reason: str, by: str, now: datetime) -> bool:
        """A pending application approved or rejected; False when it was decided already."""
        params = {"id": provider_id, "state": "approved" if approve else "rejected", "reason": reason,
                  "by": by, "at": iso(now)}  # fmt: skip
        return self._write("decide", params) > 0

    # services
    def publish(self, provider_id: str, offer: Offer, now: datetime) -> str:
        service_id = "SV" + secrets.token_hex(6)
        row = {"id": service_id, "provider_id": provider_id, "category": offer.category, "title": offer.title,
               "body": offer.body, "area_code": offer.area_code, "price_fen": offer.price_fen,
               "hours": offer.hours, "state": "open", "created_at": iso(now)}  # fmt: skip
        self._write("add_service", row)
        return service_id

    def service(self, service_id: str) -> dict[str, Any] | None:
        """A service of an approved provider (open or closed), with the provider's name."""
        return self._one("service", (*SERVICE, "provider_name"), {"id": service_id})

    def services(self, prefix: str, category: str = "") -> list[dict[str, Any]]:
        return self._all(
            "services", (*SERVICE, "provider_name"), {"prefix": prefix + "%", "category": category}
        )

    def services_of(self, provider_id: str) -> list[dict[str, Any]]:
        return self._all("services_of", SERVICE, {"provider": provider_id})

    def close_service(self, service_id: str, provider_id: str) -> bool:
        return self._write("close_service", {"id": service_id, "provider": provider_id}) > 0

    # requests
    def request(
        self, service: dict[str, Any], resident_id: str, grid_code: str, note: str, now: datetime
    ) -> str:
        request_id = "SR" + secrets.token_hex(6)
        row = {"id": request_id, "service_id": service["id"], "provider_id": service["provider_id"],
               "resident_id": resident_id, "category": service["category"], "grid_code": grid_code, "note": note,
               "state": "requested", "created_at": iso(now), "updated_at": iso(now), "stars": None,
               "comment": None, "rated_at": None}  # fmt: skip
        self._write("add_request", row)
        return request_id

    def get_request(self, request_id: str) -> dict[str, Any] | None:
        return self._one("request", REQUEST, {"id": request_id})

    def requests_of(self, resident_id: str) -> list[dict[str, Any]]:
        return self._all("requests_of", (*REQUEST, "title", "provider_name"), {"resident": resident_id})

    def incoming(self, provider_id: str) -> list[dict[str, Any]]:
        return self._all("incoming", (*REQUEST, "title", "provider_name"), {"provider": provider_id})

    def step(self, request_id: str, provider_id: str, was: str, state: str, now: datetime) -> bool:
        params = {"id": request_id, "provider": provider_id, "was": was, "state": state, "at": iso(now)}
        return self._write("step", params) > 0

    def rate(self, request_id: str, resident_id: str, stars: int, comment: str, now: datetime) -> bool:
        """Stored once, after done; False otherwise (not done, or rated already)."""
        params = {
            "id": request_id,
            "resident": resident_id,
            "stars": stars,
            "comment": comment,
            "at": iso(now),
        }
        return self._write("rate", params) > 0

    def provider_rating(self, provider_id: str) -> tuple[int, float | None]:
        with self.store._reading() as db:
            count, average = db.execute(self.sql["ratings"], {"provider": provider_id}).fetchone()
        return int(count), None if average is None else round(float(average), 2)

    def supply_demand(self, prefix: str, since: datetime) -> tuple[list[Any], list[Any]]:
        """(offers, requests) as (area code, category, count) rows under an area prefix."""
        with self.store._reading() as db:
            offers = db.execute(self.sql["supply"], {"prefix": prefix + "%"}).fetchall()
            wanted = db.execute(self.sql["demand"], {"prefix": prefix + "%", "since": iso(since)}).fetchall()
        return [tuple(r) for r in offers], [tuple(r) for r in wanted]


def market_store(store: object) -> MarketRecords:
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no marketplace")
    return MarketRecords(store)
