"""Train the default detector with ultralytics from scratch, evaluate it on the held-out
set and export it to ONNX for the `onnx` backend."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vision.classes import CLASSES
from vision.train.dataset import DatasetSpec, write_dataset


@dataclass(frozen=True, slots=True)
class TrainSpec:
    out_dir: Path = Path("runs/grid-yolo")
    model_out: Path = Path("models/grid-yolo.onnx")
    arch: str = "yolov8n.yaml"  # from its definition: no pretrained weights are downloaded
    images: int = 1500
    val_images: int = 300
    seed: int = 1000
    val_seed: int = 9000  # held out: scenes no training image shares
    epochs: int = 40
    hours: float | None = None  # a time budget instead: ultralytics fits the schedule to it
    init: Path | None = None  # an earlier run's weights (.pt, or its .onnx export) instead of random ones
    imgsz: int = 320
    batch: int = 16
    workers: int = 2
    device: str = "cpu"
    boost: tuple[tuple[str, float], ...] = ()  # training-only event weights (DatasetSpec.boost)
    standing_garbage: float = 0.0  # training-only (DatasetSpec.standing_garbage)


def train(spec: TrainSpec, progress: bool = True) -> dict[str, Any]:
    from ultralytics import YOLO

    started = time.time()
    data_dir = spec.out_dir / "data"
    counts = write_dataset(
        data_dir,
        DatasetSpec(images=spec.images, seed=spec.seed, boost=spec.boost, standing_garbage=spec.standing_garbage),
        DatasetSpec(images=spec.val_images, seed=spec.val_seed),
        progress=progress,
    )
    data_yaml = data_dir / "data.yaml"
    model = YOLO(spec.arch)
    pretrained: str | bool = False
    if spec.init is not None:
        init = spec.init
        if init.suffix == ".onnx":
            from vision.train.warmstart import checkpoint_from_onnx

            samples = sorted((data_dir / "images" / "train").glob("*.jpg"))[:: max(1, spec.images // 64)]
            init = checkpoint_from_onnx(init, spec.arch, len(CLASSES), spec.out_dir / "init.pt", samples, spec.imgsz)
        pretrained = str(init.resolve())
    model.train(
        data=str(data_yaml), epochs=spec.epochs, imgsz=spec.imgsz, batch=spec.batch, workers=spec.workers,
        device=spec.device, pretrained=pretrained, project=str(spec.out_dir.resolve()), name="train", exist_ok=True,
        seed=0, amp=False, verbose=progress, plots=True, time=spec.hours,
        # a warm start is already trained: warm-up's high bias learning rate would only undo it
        warmup_epochs=0 if spec.init is not None else 3.0,
    )
    best = spec.out_dir / "train" / "weights" / "best.pt"
    metrics = evaluate(best, data_yaml, spec.imgsz)
    exported = Path(YOLO(str(best)).export(format="onnx", imgsz=spec.imgsz, simplify=False))
    spec.model_out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(exported, spec.model_out)
    report = {
        "spec": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(spec).items()},
        "instances": {split: dict(c) for split, c in counts.items()},
        "metrics": metrics,
        "model_bytes": spec.model_out.stat().st_size,
        "minutes": round((time.time() - started) / 60, 1),
    }
    (spec.out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return report


def model_card(out_dir: Path, doc: Path = Path("docs/MODEL.md")) -> str:
    from vision.train.report import write_model_card

    return write_model_card(out_dir / "report.json", doc, out_dir / "train" / "results.png")


def evaluate(weights: Path, data_yaml: Path, imgsz: int) -> dict[str, Any]:
    """mAP50 and mAP50-95, overall and per class, on the data set's val split."""
    from ultralytics import YOLO

    result = YOLO(str(weights)).val(data=str(data_yaml), split="val", imgsz=imgsz, plots=False, verbose=False)
    box = result.box
    per_class = {}
    for i, cls in enumerate(box.ap_class_index):
        per_class[CLASSES[int(cls)]] = {"map50": round(float(box.ap50[i]), 4), "map50_95": round(float(box.ap[i]), 4)}
    return {"map50": round(float(box.map50), 4), "map50_95": round(float(box.map), 4), "per_class": per_class}
