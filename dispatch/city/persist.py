"""The current map saved as one GeoJSON file, so that a re-drawn map survives a restart.

One file holds the areas of every level and, as a foreign member `workers`, the
roster: a re-draw keeps the people, and both must come back together. It is written
to a temporary file, flushed to disk, then renamed over the old one, so a crash
leaves either the old map or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from dispatch.city.codes import LEVELS
from dispatch.city.geojson import city_to_geojson, read_geojson
from dispatch.city.model import City, Worker
from dispatch.city.validate import build_city, validate_map

# Decimals of a degree kept on disk: 1e-12° is far below any surveyed line, so a
# saved map is the map that was validated, not a rounded neighbour of it.
PRECISION = 12


def save_city(city: City, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = city_to_geojson(city, levels=LEVELS, precision=PRECISION)
    # Leave lives in the store (its instants are not JSON); the file keeps who works where.
    doc["workers"] = [{k: v for k, v in asdict(w).items() if k != "away"} for w in city.workers]
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    partial.replace(path)
    _fsync_dir(path.parent)


def load_saved_city(path: str | Path) -> City | None:
    """The saved map, or None when there is none; ValueError when it no longer validates."""
    path = Path(path)
    if not path.exists():
        return None
    data = read_geojson(path)
    report = validate_map(data)
    if not report.ok:
        raise ValueError(f"{path}: saved map is invalid: " + "; ".join(str(p) for p in report.errors[:10]))
    workers = [Worker(**w) for w in data.get("workers") or []]
    return City(build_city(report).areas, workers)


def _fsync_dir(folder: Path) -> None:
    """The rename itself is durable only once the directory entry is on disk."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
