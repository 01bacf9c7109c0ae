"""How every benchmark reports: its figures, then `ratio: X.XX` as the last line, or one JSON object."""

from __future__ import annotations

import json
from typing import Any


def report(figures: dict[str, Any], as_json: bool) -> dict[str, Any]:
    if as_json:
        print(json.dumps(figures, ensure_ascii=False))
        return figures
    for key, value in figures.items():
        if key != "ratio":
            print(f"{key}: {value}")
    print(f"ratio: {figures['ratio']:.2f}")
    return figures
