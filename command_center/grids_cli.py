"""`command-center grids validate FILE`: every problem of a GeoJSON map, one per line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dispatch.city.geojson import read_geojson
from dispatch.city.validate import Tolerance, validate_map


def validate_file(path: Path, overlap_m2: float, overlap_share: float, as_json: bool) -> int:
    """0 when the map has no errors (warnings are printed but pass), 2 otherwise."""
    try:
        data = read_geojson(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"{path}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 2
    report = validate_map(data, tolerance=Tolerance(overlap_m2, overlap_share))
    if as_json:
        body = {"ok": report.ok, "summary": report.summary(), "problems": [p.to_dict() for p in report.problems]}
        print(json.dumps(body, ensure_ascii=False))
    else:
        out = sys.stderr if not report.ok else sys.stdout
        for problem in report.problems:
            print(f"{path}: {problem}", file=out)
        s = report.summary()
        levels = ", ".join(f"{n} {lv}" for lv, n in s["by_level"].items()) or "no areas"
        verdict = "ok" if report.ok else "invalid"
        print(f"{path}: {verdict}: {s['features']} features ({levels}), {s['errors']} error(s), {s['warnings']} warning(s)", file=out)
    return 0 if report.ok else 2
