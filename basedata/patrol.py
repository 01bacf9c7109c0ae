"""Patrol plans (巡查): key places, their hazard checks (隐患线索日常排查目录) and GPS check-ins.

Pure domain, no store and no HTTP: a `KeyPlace` is a point with a radius, a checklist and a
frequency; a `CheckIn` is a worker's visit to it. A check-in counts only within the place's
radius (`check_in_allowed`, by great-circle distance: a phone's fix is in degrees, the
radius in metres). Today's route (`route_for`) is the places due in the worker's grids,
walked nearest-neighbour from the most overdue one: a cheap tour a worker can follow,
not an optimal one (a grid holds tens of places, not thousands).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from basedata.model import GRID_CODE

PlaceKind = Literal["fire_exit", "rental_housing", "school_gate", "construction_site", "market", "other"]
Answer = Literal["ok", "hazard", "na"]  # 正常, 发现隐患, 不适用
PLACE_KINDS: tuple[str, ...] = get_args(PlaceKind)
EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG): metres a radian of arc
CHECKLISTS = Path(__file__).resolve().parent.parent / "configs" / "patrol_checklists.yaml"
ITEM_ID = r"^[A-Za-z0-9-]{1,40}$"


class ChecklistItem(BaseModel):
    """One hazard check; `matter` is the case class a hazard found here is reported under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ITEM_ID)
    text: str = Field(min_length=1, max_length=200)
    matter: str = Field(default="9999", pattern=r"^[0-9]{4}$", description="configs/matters.yaml code")


class KeyPlace(BaseModel):
    """重点场所: where a worker goes every `every_days`, and what they check there."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=100)
    kind: PlaceKind
    grid_code: str = Field(pattern=GRID_CODE)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    radius_m: float = Field(default=50.0, ge=10, le=500, description="a check-in counts within this distance")
    checklist: list[ChecklistItem] = Field(min_length=1, max_length=30)
    every_days: int = Field(default=7, ge=1, le=366)
    last_checked_at: datetime | None = None
    next_due: date | None = Field(default=None, description="None: never checked, so due")
    version: int = Field(default=1, ge=1)


class CheckIn(BaseModel):
    """A worker at a place: where the phone was, how far from the place, and the answers."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    place_id: str
    worker_id: str = Field(min_length=1, max_length=64)
    grid_code: str = Field(pattern=GRID_CODE)
    at: datetime
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    distance_m: float = Field(ge=0)
    photo_id: str | None = Field(default=None, max_length=64)
    answers: dict[str, Answer]
    hazard_note: str = Field(default="", max_length=2000)
    case_id: str | None = None


class CatalogueError(ValueError):
    """The checklist catalogue is unusable: names the file and the entry."""


def load_checklists(path: Path = CHECKLISTS) -> dict[str, list[ChecklistItem]]:
    """The default checklist of each place kind; every kind must have 1..30 items and an
    item id must be unique across the catalogue (answers are keyed by it)."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise CatalogueError(f"{path}: a mapping of place kind → items")
    out: dict[str, list[ChecklistItem]] = {}
    seen: set[str] = set()
    for kind, items in raw.items():
        if kind not in PLACE_KINDS:
            raise CatalogueError(f"{path}: unknown place kind {kind!r}; one of {', '.join(PLACE_KINDS)}")
        if not isinstance(items, list) or not 1 <= len(items) <= 30:
            raise CatalogueError(f"{path}: {kind}: a list of 1 to 30 items")
        parsed = []
        for n, item in enumerate(items, 1):
            try:
                parsed.append(ChecklistItem.model_validate(item))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "(item)"
                raise CatalogueError(f"{path}: {kind} item {n}: {where}: {first['msg']}") from None
            if parsed[-1].id in seen:
                raise CatalogueError(f"{path}: {kind} item {n}: id {parsed[-1].id!r} is used twice")
            seen.add(parsed[-1].id)
        out[kind] = parsed
    missing = [k for k in PLACE_KINDS if k not in out]
    if missing:
        raise CatalogueError(f"{path}: no checklist for {', '.join(missing)}")
    return out


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (a sphere: well under 0.5%
    off at these distances, far below a phone's GPS error)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def check_in_allowed(place: KeyPlace, lon: float, lat: float) -> tuple[bool, float]:
    """Whether a fix at (lon, lat) is within the place's radius, and its distance (m)."""
    distance = haversine_m(place.lon, place.lat, lon, lat)
    return distance <= place.radius_m, distance


def is_due(place: KeyPlace, today: date) -> bool:
    return place.next_due is None or place.next_due <= today


def route_for(places: Iterable[KeyPlace], grids: Collection[str], today: date) -> list[KeyPlace]:
    """Today's route: the places due in these grids, starting at the most overdue (never
    checked first, then the earliest due, then by id), each next the nearest not yet on it."""
    due = sorted(
        (p for p in places if p.grid_code in grids and is_due(p, today)),
        key=lambda p: (p.next_due or date.min, p.id),
    )
    if not due:
        return []
    route, left = [due[0]], due[1:]
    while left:
        here = route[-1]
        nearest = min(left, key=lambda p: (haversine_m(here.lon, here.lat, p.lon, p.lat), p.id))
        left.remove(nearest)
        route.append(nearest)
    return route


def check_answers(place: KeyPlace, answers: Mapping[str, Any]) -> dict[str, Answer]:
    """The answers, if each names an item of the place's checklist with ok, hazard or na and
    every item is answered; ValueError naming the item otherwise."""
    if not isinstance(answers, Mapping):
        raise ValueError("answers: an object of checklist item id → ok, hazard or na")
    items = {item.id for item in place.checklist}
    for item_id, answer in answers.items():
        if item_id not in items:
            raise ValueError(f"answers: {item_id!r} is not on this place's checklist ({', '.join(sorted(items))})")
        if answer not in get_args(Answer):
            raise ValueError(f"answers: {item_id}: {answer!r} is not one of ok, hazard, na")
    missing = sorted(items - set(answers))
    if missing:
        raise ValueError(f"answers: unanswered checklist items {', '.join(missing)}")
    return {k: v for k, v in answers.items()}


def hazards(place: KeyPlace, answers: Mapping[str, Answer]) -> list[ChecklistItem]:
    """The checklist items answered `hazard`, in the checklist's order."""
    return [item for item in place.checklist if answers.get(item.id) == "hazard"]


def after_check(place: KeyPlace, at: datetime) -> KeyPlace:
    """The place once checked at `at` (local time): due again `every_days` after that day."""
    return place.model_copy(update={"last_checked_at": at, "next_due": at.date() + timedelta(days=place.every_days)})
