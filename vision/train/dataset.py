"""Rendered training data in YOLO format: street, plaza and drone frames with exact labels.

Frames are drawn with randomized light, scale, occlusion, blur and noise, and most
of them at moments when an event (fire, a fallen person, a crowd, a parked car,
garbage, a stall, and the governance problems: an overflowing bin, rubble, piled
goods, a banner, laundry, standing water, a fallen tree, a pothole, an open manhole,
a bike pile-up) is on screen, so the rare classes are not starved. A held-out
set is the same recipe with another seed: no scene layout is shared.

Most samples are model-input-sized crops at the camera's own scale, because that is
what the motion-gated pipeline feeds the model (regions of at least `crop` pixels
around motion and tracks, see vision/gate.py); the rest are whole frames, as an
ungated camera sees them. Crops are centred on an object chosen class-first, so rare
classes appear about as often as people. Objects smaller than `min_box` pixels at the
model's input, or less than `min_visible` inside a crop, are not labelled: nothing
can be asked of a detector about a 3-pixel person.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from scenes import AerialRenderer, SceneRenderer
from vision.classes import CLASSES, class_id

FRAMES_PER_SCENE = 8
# Training scenes stage an event every 12–15 s (a camera in the field sees far fewer): with
# 17 kinds a round takes at most 17 × 15 × 1.25 s, so every kind occurs within the span.
EVENT_EVERY_S = (12.0, 15.0)
SCENE_SPAN_S = 340.0
# Small flat marks far down the road fall under `min_box` more often than a stall does:
# their events are picked more often, so they end up with about as many instances.
# Governance problems standing through a whole scene, besides those its events stage: real
# ones stay for days, and 9 new classes would otherwise each be rarer than garbage.
STANDING_PROBLEMS = (0, 1, 2, 3)
KIND_WEIGHT = {"pothole": 1.6, "open_manhole": 1.8, "waterlogging": 1.2, "construction_waste": 1.3}


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    images: int = 1500
    seed: int = 1000
    imgsz: tuple[int, int] = (640, 360)  # rendered frame size (w, h); the trainer letterboxes
    drone_share: float = 0.15
    event_share: float = 0.7
    crop: int = 320  # the model's input size
    crop_share: float = 0.75
    min_box: float = 8.0  # longest side at the model's input, pixels
    min_visible: float = 0.5
    # Extra event weights for a training set only (e.g. (("garbage", 2.0),) for a class the
    # last run was weak on); the held-out set keeps the plain recipe so runs stay comparable.
    boost: tuple[tuple[str, float], ...] = ()
    # The chance that a training scene also has a dumped pile standing through it (garbage, the
    # rarest class of the 16, is otherwise only an event); 0 for the held-out set, as above.
    standing_garbage: float = 0.0


Label = tuple[str, tuple[float, float, float, float]]


def render_samples(spec: DatasetSpec) -> Iterator[tuple[np.ndarray, list[Label]]]:
    rng = random.Random(spec.seed + 1)
    for image, labels in render_frames(spec):
        if labels and rng.random() < spec.crop_share:
            yield _crop_sample(image, labels, spec, rng)
        else:
            scale = spec.crop / max(image.shape[:2])
            yield image, [(n, b) for n, b in labels if _big_enough(b, scale, spec.min_box)]


def _crop_sample(image: np.ndarray, labels: list[Label], spec: DatasetSpec, rng: random.Random) -> tuple[np.ndarray, list[Label]]:
    h, w = image.shape[:2]
    side = min(spec.crop, w, h)
    # Class first, weighted by 1/instances in the frame: one fire is not drowned by twenty people.
    counts = Counter(n for n, _ in labels)
    names = sorted(counts)
    name = rng.choices(names, weights=[1 / counts[n] for n in names])[0]
    x1, y1, x2, y2 = rng.choice([b for n, b in labels if n == name])
    cx = (x1 + x2) / 2 + rng.uniform(-0.35, 0.35) * side
    cy = (y1 + y2) / 2 + rng.uniform(-0.35, 0.35) * side
    left = int(min(max(cx - side / 2, 0), w - side))
    top = int(min(max(cy - side / 2, 0), h - side))
    kept: list[Label] = []
    for n, (bx1, by1, bx2, by2) in labels:
        cut = (max(bx1, left) - left, max(by1, top) - top, min(bx2, left + side) - left, min(by2, top + side) - top)
        area = (bx2 - bx1) * (by2 - by1)
        if cut[2] <= cut[0] or cut[3] <= cut[1] or area <= 0:
            continue
        if (cut[2] - cut[0]) * (cut[3] - cut[1]) / area >= spec.min_visible and _big_enough(cut, 1.0, spec.min_box):
            kept.append((n, cut))
    return np.ascontiguousarray(image[top : top + side, left : left + side]), kept


def _big_enough(box: tuple[float, float, float, float], scale: float, min_box: float) -> bool:
    return max(box[2] - box[0], box[3] - box[1]) * scale >= min_box


def render_frames(spec: DatasetSpec) -> Iterator[tuple[np.ndarray, list[Label]]]:
    rng = random.Random(spec.seed)
    w, h = spec.imgsz
    made = 0
    scene_seed = spec.seed * 1000
    while made < spec.images:
        scene_seed += 1
        if rng.random() < spec.drone_share:
            aerial = AerialRenderer(scene_seed, width=w, height=h)
            heading = rng.uniform(0, 360)
            for _ in range(min(FRAMES_PER_SCENE, spec.images - made)):
                yield aerial.render(rng.uniform(0, SCENE_SPAN_S), heading)
                made += 1
            continue
        kind = rng.choice(("street", "plaza"))
        garbage = int(rng.random() < spec.standing_garbage) if spec.standing_garbage else 0
        scene = SceneRenderer(
            scene_seed,
            width=w,
            height=h,
            kind=kind,
            randomize=True,
            density=rng.uniform(0.6, 1.6),
            event_every_s=rng.uniform(*EVENT_EVERY_S),
            first_event_s=rng.uniform(2.0, 10.0),
            standing_problems=rng.choice(STANDING_PROBLEMS),
            standing_garbage=garbage,
        )
        times = sorted(_sample_times(scene, rng, spec.event_share, {**KIND_WEIGHT, **dict(spec.boost)}))
        for t in times[: spec.images - made]:
            yield scene.render(t)
            made += 1


def _sample_times(scene: SceneRenderer, rng: random.Random, event_share: float, kind_weight: dict[str, float]) -> list[float]:
    events = [e for e in scene.events_until(SCENE_SPAN_S) if e["active_s"][0] < SCENE_SPAN_S]
    weights = [kind_weight.get(e["kind"], 1.0) for e in events]
    times = []
    for _ in range(FRAMES_PER_SCENE):
        if events and rng.random() < event_share:
            start, end = rng.choices(events, weights)[0]["active_s"]
            times.append(rng.uniform(start, min(end, SCENE_SPAN_S)))
        else:
            times.append(rng.uniform(0, SCENE_SPAN_S))
    return times


def yolo_lines(labels: list[Label], width: int, height: int) -> list[str]:
    lines = []
    for name, (x1, y1, x2, y2) in labels:
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        lines.append(f"{class_id(name)} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return lines


def write_split(root: Path, split: str, spec: DatasetSpec, progress: bool = True) -> Counter[str]:
    """Render `spec` into root/images/split and root/labels/split; returns instances per class."""
    from tqdm import tqdm

    images, labels = root / "images" / split, root / "labels" / split
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    samples = render_samples(spec)
    for i, (image, truth) in enumerate(tqdm(samples, total=spec.images, desc=f"render {split}", disable=not progress)):
        name = f"{split}_{i:05d}"
        cv2.imwrite(str(images / f"{name}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        h, w = image.shape[:2]
        (labels / f"{name}.txt").write_text("\n".join(yolo_lines(truth, w, h)) + ("\n" if truth else ""))
        counts.update(label for label, _ in truth)
    return counts


def write_dataset(root: Path, train: DatasetSpec, val: DatasetSpec, progress: bool = True) -> dict[str, Counter[str]]:
    if train.seed == val.seed:
        raise ValueError("the held-out set needs its own seed")
    counts = {"train": write_split(root, "train", train, progress), "val": write_split(root, "val", val, progress)}
    data = {"path": str(root.resolve()), "train": "images/train", "val": "images/val", "names": dict(enumerate(CLASSES))}
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return counts
