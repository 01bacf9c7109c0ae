"""Benchmark: recall of face blurring on real photos.

The photos are the real ones installed packages ship (ultralytics' bus.jpg and zidane.jpg,
matplotlib's grace_hopper.jpg); their faces were labelled by eye in tests/data/faces.json.
Five faces is a small sample: the figure says the detector works on real faces, not how
often it misses in a street camera's view. To see smaller faces, like a camera's, each
photo is also measured shrunk to 1/2 and 1/4 of its size, and re-compressed as a poor
JPEG (quality 20): the same faces under other conditions, not new faces.

A labelled face counts as found when a detected face overlaps it with IoU ≥ 0.3 or has
its centre inside it; as hidden when the blurred regions cover ≥ 90% of its box.
`ratio` is the recall over all conditions (found / labelled). Licence plates are not
measured: no real plate photo is available offline (tests check them on a synthetic one).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.report import report
from vision.privacy import Blurrer, Region

LABELS = Path(__file__).resolve().parent.parent / "tests" / "data" / "faces.json"
CONDITIONS = {"original": (1.0, None), "half": (0.5, None), "quarter": (0.25, None), "jpeg20": (1.0, 20)}


def load_photos(labels: Path = LABELS) -> list[tuple[str, np.ndarray, list[Region]]]:
    """(name, BGR image, labelled face boxes) for each labelled photo that is installed."""
    found: list[tuple[str, np.ndarray, list[Region]]] = []
    for photo in json.loads(labels.read_text())["photos"]:
        spec = importlib.util.find_spec(photo["package"])
        if spec is None or not spec.submodule_search_locations:
            continue
        path = Path(next(iter(spec.submodule_search_locations))) / photo["path"]
        image = cv2.imread(str(path))
        if image is not None:
            faces = [(float(x1), float(y1), float(x2), float(y2)) for x1, y1, x2, y2 in photo["faces"]]
            found.append((path.name, image, faces))
    return found


def iou(a: Region, b: Region) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def matches(label: Region, found: Region) -> bool:
    cx, cy = (found[0] + found[2]) / 2, (found[1] + found[3]) / 2
    return iou(label, found) >= 0.3 or (label[0] <= cx <= label[2] and label[1] <= cy <= label[3])


def coverage(label: Region, regions: list[Region], shape: tuple[int, ...]) -> float:
    """Share of the labelled box inside the union of the blurred regions."""
    mask = np.zeros(shape[:2], np.uint8)
    for x1, y1, x2, y2 in regions:
        mask[max(int(y1), 0) : max(int(np.ceil(y2)), 0), max(int(x1), 0) : max(int(np.ceil(x2)), 0)] = 1
    x1, y1, x2, y2 = (int(round(v)) for v in label)
    box = mask[max(y1, 0) : y2, max(x1, 0) : x2]
    return float(box.mean()) if box.size else 0.0


def _condition(
    image: np.ndarray, faces: list[Region], scale: float, quality: int | None
) -> tuple[np.ndarray, list[Region]]:
    out = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if quality is not None:
        decoded = cv2.imdecode(
            cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR
        )
        assert decoded is not None  # a JPEG just encoded decodes
        out = decoded
    return out, [tuple(v * scale for v in f) for f in faces]  # type: ignore[misc]


def measure(blurrer: Blurrer, photos: list[tuple[str, np.ndarray, list[Region]]]) -> dict[str, Any]:
    figures: dict[str, Any] = {"photos": len(photos)}
    labelled = found = hidden = extra = 0
    seconds = 0.0
    for name, (scale, quality) in CONDITIONS.items():
        n_found = n_labelled = 0
        for _photo, image, faces in photos:
            view, boxes = _condition(image, faces, scale, quality)
            assert blurrer.faces is not None
            started = time.perf_counter()
            detected = [tuple(r[:4]) for r in blurrer.faces.detect(view)]
            seconds += time.perf_counter() - started
            regions = blurrer.regions(view)
            hits = [any(matches(f, d) for d in detected) for f in boxes]
            n_found += sum(hits)
            n_labelled += len(boxes)
            hidden += sum(coverage(f, regions, view.shape) >= 0.9 for f in boxes)
            extra += sum(not any(matches(f, d) for f in boxes) for d in detected)
        figures[f"recall_{name}"] = round(n_found / max(n_labelled, 1), 3)
        labelled, found = labelled + n_labelled, found + n_found
    figures |= {
        "faces_labelled": labelled,
        "faces_found": found,
        "faces_hidden_90pct": hidden,
        "detections_unlabelled": extra,  # not all are false: background faces are not labelled
        "detect_ms_per_image": round(seconds * 1000 / max(len(photos) * len(CONDITIONS), 1), 1),
        "ratio": round(found / max(labelled, 1), 3),
    }
    return figures


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="command-center bench blur", description=__doc__)
    parser.add_argument("--labels", type=Path, default=LABELS, help="faces.json: photos and their face boxes")
    parser.add_argument("--min-face", type=int, default=16, help="smallest face looked for, in pixels")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    photos = load_photos(args.labels)
    if not photos:
        print("no labelled photo is installed", file=sys.stderr)
        raise SystemExit(2)
    blurrer = Blurrer(min_face=args.min_face)
    blurrer.faces.detect(photos[0][1])  # type: ignore[union-attr]  # load the models outside the timing
    return report(measure(blurrer, photos), args.json)


if __name__ == "__main__":
    run()
