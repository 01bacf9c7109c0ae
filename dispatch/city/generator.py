"""A sample city at reference scale (Guangzhou-like), deterministic from a seed.

Every level is a Voronoi partition of its parent, seeded with random but evenly spread
points inside it, so cells are irregular but not slivers. Work happens in a local
metric frame so that cells are not stretched by degrees of longitude being shorter, and
road gaps can be given in metres; polygons are converted to WGS84 degrees at the end.

Each district draws from its own random stream, so `districts=n` builds exactly the
first n districts of the full city: small test cities are slices of the real one.
"""

from __future__ import annotations

import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import shapely
from shapely import MultiPoint, Polygon
from tqdm import tqdm

from dispatch.city.codes import Level, city_code, make_code, reading_order
from dispatch.city.model import Area, City, LocalFrame
from dispatch.city.roster import build_roster

DistrictKind = Literal["urban", "suburban", "rural"]


@dataclass(frozen=True, slots=True)
class DistrictSeed:
    code: str
    name: str
    lon: float
    lat: float
    kind: DistrictKind


# Real GB/T 2260 codes and names; positions are the real layout squeezed into BOX.
# Central districts first, so that a smaller `districts` keeps a contiguous core.
GUANGZHOU: tuple[DistrictSeed, ...] = (
    DistrictSeed("440104", "越秀区", 113.275, 23.135, "urban"),
    DistrictSeed("440103", "荔湾区", 113.215, 23.100, "urban"),
    DistrictSeed("440105", "海珠区", 113.315, 23.080, "urban"),
    DistrictSeed("440106", "天河区", 113.365, 23.160, "urban"),
    DistrictSeed("440111", "白云区", 113.275, 23.290, "suburban"),
    DistrictSeed("440112", "黄埔区", 113.475, 23.185, "suburban"),
    DistrictSeed("440113", "番禺区", 113.365, 22.985, "suburban"),
    DistrictSeed("440114", "花都区", 113.200, 23.420, "rural"),
    DistrictSeed("440115", "南沙区", 113.540, 22.950, "rural"),
    DistrictSeed("440117", "从化区", 113.560, 23.420, "rural"),
    DistrictSeed("440118", "增城区", 113.640, 23.230, "rural"),
)
CITY_NAME = "广州市"
CACHE_FORMAT = 2  # 2: Worker gained code, level, away
BOX = (113.1, 22.9, 113.7, 23.5)  # minlon, minlat, maxlon, maxlat
ORIGIN = (113.4, 23.2)

# Reference counts for the whole city; smaller cities keep the same densities.
TARGET_STREETS = 176
TARGET_COMMUNITIES = 2800
TARGET_GRIDS = 20031

ROAD_HALF_WIDTH_M = 3.0  # grids are shrunk by this much: 6 m roads belong to no grid
PARK_SHARE = 0.06  # communities with a park or water body that no grid covers
_CANDIDATES = 10  # best-candidate sampling: more is more even, and slower
_ANCHOR_MARGIN_M = 6_000.0
# How strongly child counts follow area: below 1, so small central areas are denser.
STREET_AREA_EXP, _COMMUNITY_AREA_EXP, _GRID_AREA_EXP = 0.35, 0.5, 0.6

_PLACE_FIRST = "东西南北中新石沙江龙凤金华明永长和平安光黄白云珠岗塘湖桥兴隆福瑞康泰宝荔榕棠竹松梅兰鹤鹏莲芳碧翠罗冼钟龟鱼鸦洛岭花棉"
_PLACE_SECOND = "村塘岗洲涌头坑围滘田埔岭山湖苑园景城华阳南北东西桥沙湾圃坊里庄林溪源洞口冲基圳岸"


@dataclass(slots=True)
class AreaRecord:
    code: str
    name: str
    level: Level
    parent: str | None
    shape: Polygon  # metric frame


def load_or_generate(
    seed: int = 7, districts: int = 11, cache_dir: Path | str = ".cache", progress: bool = False
) -> City:
    """`generate_city`, cached as a pickle in `cache_dir` (a directory this process trusts:
    unpickling runs code). Bump CACHE_FORMAT whenever generation changes."""
    path = Path(cache_dir) / f"city-v{CACHE_FORMAT}-seed{seed}-d{districts}.pickle"
    try:
        with path.open("rb") as f:
            city = pickle.load(f)
        if isinstance(city, City):
            return city
    except Exception:  # missing, stale or truncated: rebuild, whatever unpickling raised
        pass
    city = generate_city(seed, districts, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as f:
        pickle.dump(city, f, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)  # atomic: a concurrent reader never sees half a file
    return city


def generate_city(seed: int = 7, districts: int = 11, progress: bool = False) -> City:
    """Build the sample city; `districts` keeps the first n of GUANGZHOU (central ones first)."""
    if not 1 <= districts <= len(GUANGZHOU):
        raise ValueError(f"districts must be 1..{len(GUANGZHOU)}, got {districts}")
    frame = LocalFrame(*ORIGIN)
    rng = np.random.default_rng(seed)
    anchors = _anchors(frame, rng)
    outline = _outline(frame, anchors, rng)
    cells = _district_cells(outline, anchors)
    areas = np.array([c.area for c in cells])
    street_counts = allocate(
        TARGET_STREETS, areas**STREET_AREA_EXP * rng.uniform(0.85, 1.15, len(cells)), 3
    )

    kept = GUANGZHOU[:districts]
    root_code = city_code(kept[0].code)
    city_shape = outline if districts == len(GUANGZHOU) else single_polygon(shapely.union_all(cells[:districts]))
    records = [AreaRecord(root_code, CITY_NAME, "city", None, city_shape)]
    core = anchors[0]
    bar = tqdm(
        total=sum(street_counts[:districts]),
        desc="city",
        unit="street",
        file=sys.stderr,
        disable=not progress,
    )
    for i, seed_district in enumerate(kept):
        district_rng = np.random.default_rng([seed, int(seed_district.code)])
        code = make_code(seed_district.code)
        records.append(AreaRecord(code, seed_district.name, "district", root_code, cells[i]))
        builder = DistrictBuilder(seed_district, code, district_rng, anchors[i], core)
        records.extend(builder.build(cells[i], int(street_counts[i]), bar))
    bar.close()

    area_map = to_areas(records, frame)
    grid_codes = [r.code for r in records if r.level == "grid"]
    return City(area_map, build_roster(grid_codes, seed))


class DistrictBuilder:
    def __init__(
        self, seed: DistrictSeed, code: str, rng: np.random.Generator, anchor: np.ndarray, core: np.ndarray
    ) -> None:
        self.seed, self.code, self.rng = seed, code, rng
        self.anchor, self.core = anchor, core
        self.names = _Namer(rng)

    def build(self, shape: Polygon, n_streets: int, bar: tqdm) -> list[AreaRecord]:
        rng = self.rng
        streets = _ordered(_partition(shape, n_streets, rng))
        towns = self._towns(streets)
        n_communities = round(n_streets * TARGET_COMMUNITIES / TARGET_STREETS)
        weights = np.array([s.area for s in streets]) ** _COMMUNITY_AREA_EXP
        per_street = allocate(n_communities, weights * rng.uniform(0.8, 1.2, len(streets)), 3)

        out: list[AreaRecord] = []
        communities: list[AreaRecord] = []
        street_names: set[str] = set()
        for s, (street_shape, n) in enumerate(zip(streets, per_street, strict=True), start=1):
            street_code = make_code(self.seed.code, s)
            suffix = "镇" if towns[s - 1] else "街道"
            out.append(
                AreaRecord(
                    street_code, self.names.place(street_names) + suffix, "street", self.code, street_shape
                )
            )
            community_names: set[str] = set()
            for c, community_shape in enumerate(_ordered(_partition(street_shape, int(n), rng)), start=1):
                village = bool(rng.random() < (0.75 if towns[s - 1] else 0.05))
                name = self.names.place(community_names) + ("村" if village else "社区")
                code = make_code(self.seed.code, s, c)
                communities.append(AreaRecord(code, name, "community", street_code, community_shape))
            bar.update(1)

        n_grids = round(n_communities * TARGET_GRIDS / TARGET_COMMUNITIES)
        weights = np.array([r.shape.area for r in communities]) ** _GRID_AREA_EXP
        per_community = allocate(n_grids, weights * rng.uniform(0.8, 1.2, len(communities)), 2)
        grids: list[AreaRecord] = []
        for community, n in zip(communities, per_community, strict=True):
            out.append(community)
            grids.extend(self._grids(community, int(n)))
        for grid, shape in zip(grids, _shrink([g.shape for g in grids]), strict=True):
            grid.shape = shape
        return out + grids

    def _towns(self, streets: list[Polygon]) -> list[bool]:
        """Which streets are towns (镇) rather than sub-districts (街道): the rural fringe."""
        centres = shapely.get_coordinates(shapely.centroid(np.array(streets, dtype=object)))
        if self.seed.kind == "urban":
            return [False] * len(streets)
        if self.seed.kind == "suburban":
            return [bool(np.hypot(*(c - self.core)) > 22_000) for c in centres]
        # A rural district's seat and its neighbours are 街道, the rest are towns.
        seat = set(np.argsort(np.hypot(*(centres - self.anchor).T))[:2].tolist())
        return [i not in seat for i in range(len(streets))]

    def _grids(self, community: AreaRecord, n: int) -> list[AreaRecord]:
        rng = self.rng
        park = bool(rng.random() < PARK_SHARE)
        cells = _partition(community.shape, n + park, rng)
        if park:
            cells.pop(int(rng.integers(len(cells))))
        out = []
        for g, cell in enumerate(_ordered(cells), start=1):
            code = make_code(community.code[:6], int(community.code[6:9]), int(community.code[9:12]), g)
            out.append(AreaRecord(code, f"{community.name}第{g}网格", "grid", community.code, cell))
        return out


class _Namer:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def place(self, taken: set[str]) -> str:
        """A two-character place name not in `taken` (three characters once two run short)."""
        for attempt in range(200):
            length = 2 if attempt < 100 else 3
            chars = [_PLACE_FIRST[int(self.rng.integers(len(_PLACE_FIRST)))]]
            chars += [_PLACE_SECOND[int(self.rng.integers(len(_PLACE_SECOND)))] for _ in range(length - 1)]
            name = "".join(chars)
            if name not in taken:
                taken.add(name)
                return name
        raise RuntimeError("ran out of place names")


def _outline(frame: LocalFrame, anchors: np.ndarray, rng: np.random.Generator) -> Polygon:
    """An irregular, star-shaped city boundary, clipped to BOX.

    A random star alone could leave a district's anchor outside the city, so the star
    is grown by a margin around the anchors' hull before clipping.
    """
    theta = np.linspace(0.0, 2 * np.pi, 240, endpoint=False)
    wobble = sum(
        a * np.sin(k * theta + rng.uniform(0, 2 * np.pi))
        for k, a in ((2, 0.10), (3, 0.07), (5, 0.04), (9, 0.02))
    )
    radius = 30_000.0 * (1.0 + wobble)
    star = Polygon(np.column_stack([radius * np.cos(theta), radius * np.sin(theta)]))
    core = MultiPoint(anchors).convex_hull.buffer(_ANCHOR_MARGIN_M, quad_segs=4)
    box = frame.project(shapely.box(*BOX))
    return single_polygon(shapely.intersection(shapely.union(star, core), box))


def _anchors(frame: LocalFrame, rng: np.random.Generator) -> np.ndarray:
    lon = np.array([d.lon for d in GUANGZHOU])
    lat = np.array([d.lat for d in GUANGZHOU])
    x, y = frame.to_xy(lon, lat)
    jittered = np.column_stack([x, y]) + rng.normal(0.0, 1_200.0, (len(GUANGZHOU), 2))
    # Keep anchors off the box edge, or an unlucky seed could clip one out of the city.
    (minx, maxx), (miny, maxy) = frame.to_xy([BOX[0], BOX[2]], [BOX[1], BOX[3]])
    margin = 2_000.0
    jittered[:, 0] = jittered[:, 0].clip(minx + margin, maxx - margin)
    jittered[:, 1] = jittered[:, 1].clip(miny + margin, maxy - margin)
    return jittered


def _district_cells(outline: Polygon, anchors: np.ndarray) -> list[Polygon]:
    """One cell per anchor, in anchor order (Voronoi output order is not the input's)."""
    cells = _voronoi(outline, anchors)
    order = [int(np.flatnonzero(shapely.contains_xy(np.array(cells, dtype=object), *a))[0]) for a in anchors]
    return [cells[i] for i in order]


def _partition(shape: Polygon, n: int, rng: np.random.Generator) -> list[Polygon]:
    """Split `shape` into n non-overlapping polygons covering it."""
    if n <= 1:
        return [shape]
    return _voronoi(shape, _spread_points(shape, n, rng))


def _spread_points(shape: Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points inside `shape`, evenly spread (Mitchell's best candidate).

    Uniform points give sliver cells; Lloyd relaxation fixes that too but costs one more
    Voronoi diagram and clip per partition, which was a third of the city's build time.
    """
    candidates = _sample_inside(shape, n * _CANDIDATES, rng).reshape(n, _CANDIDATES, 2)
    chosen = np.empty((n, 2))
    chosen[0] = candidates[0, 0]
    nearest = np.full((n - 1, _CANDIDATES), np.inf)
    for i in range(1, n):
        # distance from every remaining candidate to the closest point chosen so far
        step = candidates[i:] - chosen[i - 1]
        nearest[i - 1 :] = np.minimum(nearest[i - 1 :], np.hypot(step[..., 0], step[..., 1]))
        chosen[i] = candidates[i, int(np.argmax(nearest[i - 1]))]
    return chosen


def _sample_inside(shape: Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = shape.bounds
    shapely.prepare(shape)
    found: list[np.ndarray] = []
    total = 0
    while total < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), (max(2 * n, 16), 2))
        xy = xy[shapely.contains_xy(shape, xy[:, 0], xy[:, 1])]
        found.append(xy)
        total += len(xy)
    return np.concatenate(found)[:n]


def _voronoi(shape: Polygon, points: np.ndarray) -> list[Polygon]:
    diagram = shapely.voronoi_polygons(MultiPoint(points), extend_to=shape)
    cells = shapely.intersection(shapely.get_parts(diagram), shape)
    if len(cells) != len(points):
        raise RuntimeError(f"voronoi gave {len(cells)} cells for {len(points)} points")
    return [single_polygon(c) for c in cells]


def single_polygon(geometry: shapely.Geometry) -> Polygon:
    """The largest polygon of a clipping result; slivers cut off by a concave parent are
    dropped and become land no child covers, which the locator's fallback handles."""
    if isinstance(geometry, Polygon):
        return geometry
    parts = [p for p in shapely.get_parts(geometry) if isinstance(p, Polygon) and not p.is_empty]
    if not parts:
        raise RuntimeError("clipping produced no polygon")
    return max(parts, key=lambda p: p.area)


def _shrink(cells: list[Polygon]) -> list[Polygon]:
    """Pull grids back from their neighbours (roads); a cell too thin to shrink stays whole.

    One vectorised buffer call: per-polygon calls cost three times as much.
    """
    shrunk = shapely.buffer(np.array(cells, dtype=object), -ROAD_HALF_WIDTH_M, join_style="mitre")
    out = []
    for cell, small in zip(cells, shrunk, strict=True):
        if small.is_empty or small.area < 0.2 * cell.area:
            small = cell.buffer(-ROAD_HALF_WIDTH_M / 4, join_style="mitre")
            small = cell if small.is_empty or small.area < 0.2 * cell.area else small
        out.append(single_polygon(small))
    return out


def _ordered(shapes: list[Polygon]) -> list[Polygon]:
    """Children in numbering order: rows north→south, west→east within a row."""
    centres = shapely.get_coordinates(shapely.centroid(np.array(shapes, dtype=object)))
    band = float(np.sqrt(sum(s.area for s in shapes) / len(shapes)))
    order = reading_order(centres[:, 0].tolist(), centres[:, 1].tolist(), band)
    return [shapes[i] for i in order]


def allocate(total: int, weights: np.ndarray, minimum: int) -> list[int]:
    """Split `total` into len(weights) integers ≥ minimum, proportional to weights (largest remainder)."""
    n = len(weights)
    spare = max(total - n * minimum, 0)
    share = spare * weights / weights.sum()
    counts = np.floor(share).astype(int)
    leftover = spare - int(counts.sum())
    counts[np.argsort(-(share - counts), kind="stable")[:leftover]] += 1
    return (counts + minimum).tolist()


def to_areas(records: list[AreaRecord], frame: LocalFrame) -> dict[str, Area]:
    shapes = frame.unproject(np.array([r.shape for r in records], dtype=object))
    points = shapely.get_coordinates(shapely.point_on_surface(shapes))
    return {
        r.code: Area(r.code, r.name, r.level, r.parent, shape, float(lon), float(lat))
        for r, shape, (lon, lat) in zip(records, shapes, points, strict=True)
    }
