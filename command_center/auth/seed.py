"""Accounts made at start: the demo's documented ones, or a fresh store's first admins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from command_center.auth.principal import normalize_jurisdiction
from command_center.auth.users import Users, demo_accounts, first_accounts
from command_center.config import CameraConfig

if TYPE_CHECKING:
    from command_center.city_map import CityMap


def _demo_district(city: CityMap, cameras: list[CameraConfig]) -> tuple[str, str]:
    """The district of the first camera, so the district officer's wall has something on it."""
    areas = city.city.areas
    for cam in cameras:
        located = city.index.locate(cam.location.lon, cam.location.lat)
        if located and located.district_code:
            area = areas.get(located.district_code)
            return normalize_jurisdiction(located.district_code), area.name if area else located.district_code
    district = next(a for a in areas.values() if a.level == "district")
    return normalize_jurisdiction(district.code), district.name


def seed_users(users: Users, city: CityMap, cameras: list[CameraConfig], demo: bool) -> list[str]:
    """Create the start-up accounts; lines to print about them (none when nothing was made)."""
    if demo:
        code, name = _demo_district(city, cameras)
        workers = city.city.workers
        accounts = demo_accounts([w.id for w in workers], code, name)
        users.seed(accounts)
        example = workers[0].id if workers else "W0000001"
        lines = [f"{a.username}/{a.password}  ({a.note})" for a in accounts if a.role != "worker"]
        return [*lines, f"every worker: <worker id>/worker, e.g. {example}/worker ({len(workers)} workers)"]
    if not users.empty():
        return []
    accounts = first_accounts()
    users.seed(accounts)
    return [f"{a.username}/{a.password}  ({a.note})" for a in accounts] + [
        "these passwords are shown once; add accounts with POST /api/users (admin)"
    ]
