"""Accounts made at start: the demo's documented ones, or a fresh store's first admins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from command_center.auth.principal import normalize_jurisdiction
from command_center.auth.users import demo_accounts, first_accounts

if TYPE_CHECKING:
    from command_center.runtime import Runtime


def _demo_district(rt: Runtime) -> tuple[str, str]:
    """The district of the first camera, so the district officer's wall has something on it."""
    for cam in rt.config.cameras:
        located = rt.index.locate(cam.location.lon, cam.location.lat)
        if located and located.district_code:
            area = rt.city.areas.get(located.district_code)
            return normalize_jurisdiction(located.district_code), area.name if area else located.district_code
    district = next(a for a in rt.city.areas.values() if a.level == "district")
    return normalize_jurisdiction(district.code), district.name


def seed_users(rt: Runtime, demo: bool) -> list[str]:
    """Create the start-up accounts; lines to print about them (none when nothing was made)."""
    users = rt.auth.users
    if demo:
        code, name = _demo_district(rt)
        accounts = demo_accounts([w.id for w in rt.city.workers], code, name)
        users.seed(accounts)
        example = rt.city.workers[0].id if rt.city.workers else "W0000001"
        lines = [f"{a.username}/{a.password}  ({a.note})" for a in accounts if a.role != "worker"]
        return [*lines, f"every worker: <worker id>/worker, e.g. {example}/worker ({len(rt.city.workers)} workers)"]
    if not users.empty():
        return []
    accounts = first_accounts()
    users.seed(accounts)
    return [f"{a.username}/{a.password}  ({a.note})" for a in accounts] + [
        "these passwords are shown once; add accounts with POST /api/users (admin)"
    ]
