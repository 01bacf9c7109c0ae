"""docs/MODEL.md from a training run's report.json: the real held-out figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any


def write_model_card(report_path: Path, out: Path, curves: Path | None = None) -> str:
    report: dict[str, Any] = json.loads(report_path.read_text())
    spec, metrics = report["spec"], report["metrics"]
    epochs = _epochs_run(curves.parent / "results.csv") if curves is not None else None
    budget = f"{epochs or spec['epochs']} epochs" + (f" (a {spec['hours']} h budget)" if spec.get("hours") else "")
    start = (
        f"starting from the weights of an earlier run of this project (`{spec['init']}`; each run of the chain"
        " started from the one before, the first from scratch), with no outside pretrained weights,"
        if spec.get("init") and spec["init"] != "None"
        else "from scratch (no pretrained weights)"
    )
    lines = [
        "# The default detector: grid-yolo",
        "",
        f"`models/grid-yolo.onnx` ({report['model_bytes'] / 1e6:.1f} MB), an ultralytics `{spec['arch'].removesuffix('.yaml')}`",
        f"trained here {start} on {spec['images']} images the project renders itself",
        "(`scenes/`: street, plaza and drone views with randomized light, scale, occlusion, blur and noise;",
        "three in four are model-input-sized crops at the camera's own scale, centred on an object picked class",
        "first, as the motion-gated pipeline feeds the model; the rest are whole frames),",
        f"at {spec['imgsz']}×{spec['imgsz']}, batch {spec['batch']}, {budget} on {spec['device']}, in {report['minutes']} minutes.",
        "",
        f"**Held-out set**: {spec['val_images']} frames rendered with seed {spec['val_seed']} (training used seed",
        f"{spec['seed']}), so no scene layout, actor or event timing is shared with training.",
        "",
        "| class | instances (held-out) | mAP50 | mAP50-95 |",
        "|---|---|---|---|",
    ]
    val_counts = report["instances"]["val"]
    for name, figures in metrics["per_class"].items():
        lines.append(f"| {name} | {val_counts.get(name, 0)} | {figures['map50']:.3f} | {figures['map50_95']:.3f} |")
    lines += [
        f"| **all** | {sum(val_counts.values())} | **{metrics['map50']:.3f}** | **{metrics['map50_95']:.3f}** |",
        "",
        "Reproduce (about the same figures; training is seeded but not bit-exact across machines):",
        "",
        "```sh",
        f"command-center train --images {spec['images']} --val-images {spec['val_images']} "
        + (f"--hours {spec['hours']} " if spec.get("hours") else f"--epochs {spec['epochs']} ")
        + (f"--init {spec['init']} " if spec.get("init") and spec["init"] != "None" else "")
        + (f"--seed {spec['seed']} " if spec.get("seed", 1000) != 1000 else "")
        + f"--imgsz {spec['imgsz']} --batch {spec['batch']}",
        "```",
        "",
        "Training instances per class: "
        + ", ".join(f"{k} {v}" for k, v in sorted(report["instances"]["train"].items(), key=lambda kv: -kv[1])),
        "",
    ]
    if curves is not None and curves.exists():
        shutil.copyfile(curves, out.parent / "model_training.png")
        lines += ["Training curves (losses and validation metrics per epoch):", "", "![training](model_training.png)", ""]
    text = "\n".join(lines) + _kept_sections(out)
    out.write_text(text)
    return text


KEPT = "## History and status"


def _kept_sections(card: Path) -> str:
    """What the card says from KEPT on, written by hand, survives a new run's card."""
    old = card.read_text() if card.exists() else ""
    at = old.find(KEPT)
    return "" if at < 0 else old[at:]


def _epochs_run(results_csv: Path) -> int | None:
    """Epochs actually run (a time budget decides them), from ultralytics' results.csv."""
    if not results_csv.exists():
        return None
    return max(0, len(results_csv.read_text().strip().splitlines()) - 1)
