"""The model commands of `command-center`: the detector (detect, train, evaluate-verify) and the
report classifier (train-reports, evaluate-reports). Each loads its heavy libraries only when run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from command_center.config import Config

LoadConfig = Callable[[Path], Config]  # the CLI's loader: exits with the reason on a bad file
# What the demo runs and docs/MODEL.md's card describes: a run that writes another model (a
# candidate, e.g. runs/grid-yolo-v10/grid-yolo.onnx) leaves the card alone.
DEFAULT_MODEL = Path("models/grid-yolo.onnx")


def add_commands(sub: Any) -> None:  # sub: argparse's private _SubParsersAction
    """detect, train, evaluate-verify and the report classifier's commands."""
    detect = sub.add_parser("detect", help="run the detector on an image, a video or a stream URL")
    detect.add_argument("source", help="image file, video file or stream URL")
    detect.add_argument("--model", required=True, type=Path, help="ONNX export (YOLOX or ultralytics)")
    detect.add_argument("--imgsz", type=int, default=320, help="input size when the model's is dynamic")
    detect.add_argument("--conf", type=float, default=0.35, help="default score threshold")
    detect.add_argument("--format", default="auto", choices=["auto", "yolox", "ultralytics"])
    detect.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: all)")
    detect.add_argument("--json", action="store_true", help="one JSON object per frame")

    train = sub.add_parser("train", help="train the default detector on rendered scenes, export ONNX")
    train.add_argument("--images", type=int, default=1500)
    train.add_argument("--val-images", type=int, default=300)
    train.add_argument("--seed", type=int, default=1000, help="training scenes' seed (held-out scenes use 9000)")
    train.add_argument("--epochs", type=int, default=40)
    train.add_argument("--hours", type=float, help="a time budget instead of --epochs")
    train.add_argument("--init", type=Path, help="start from an earlier run's weights (.pt or its .onnx export)")
    train.add_argument("--imgsz", type=int, default=320)
    train.add_argument("--batch", type=int, default=16)
    train.add_argument("--device", default="cpu", help="cpu, or a CUDA device index such as 0")
    train.add_argument("--boost", action="append", default=[], metavar="KIND=W",
                       help="stage this event kind W times as often in the training set only (repeatable)")
    train.add_argument("--standing-garbage", type=_share, default=0.0, metavar="P",
                       help="the chance a training scene also has a dumped pile standing through it (0-1)")
    train.add_argument("--out", type=Path, default=Path("runs/grid-yolo"))
    train.add_argument("--model-out", type=Path, default=DEFAULT_MODEL)

    calibrate = sub.add_parser("calibrate", help="per-class score thresholds on rendered frames of their own")
    calibrate.add_argument("--model", required=True, type=Path, help="an ONNX export of the trained detector")
    calibrate.add_argument("--images", type=int, default=400)
    calibrate.add_argument("--seed", type=int, default=7000, help="calibration scenes (not training's, not 9000)")
    calibrate.add_argument("--dry-run", action="store_true", help="print the table, write no thresholds file")

    verify = sub.add_parser("evaluate-verify", help="video verification on rendered scenes: handled vs still there")
    verify.add_argument("--model", type=Path, default=Path("models/grid-yolo.onnx"))
    verify.add_argument("--pairs", type=int, default=48, help="events checked, half of them handled")
    verify.add_argument("--hold-s", type=float, default=15.0, help="seconds of empty region that clear a case")
    verify.add_argument("--json", action="store_true", help="one JSON object, every pair included")
    verify.add_argument("--no-look", action="store_true",
                        help="the detector's word alone: checks do not compare the spot's look with the incident's")
    _report_classifier_commands(sub)


def _report_classifier_commands(sub: Any) -> None:
    """train-reports, evaluate-reports: the report classifier (command_center/suggestions.py)."""
    train = sub.add_parser("train-reports", help="fit the report classifier from the catalogue, examples and feedback")
    train.add_argument("--config", type=Path, help="its store's feedback (default: the default store)")
    evaluate = sub.add_parser("evaluate-reports", help="top-1/top-3 accuracy of the report classifier")
    evaluate.add_argument("--heldout", type=Path, default=Path("tests/data/reports_heldout.csv"), help="CSV text,matter_code")
    evaluate.add_argument("--cv", type=int, metavar="FOLDS", help="cross-validate on the training examples instead")
    evaluate.add_argument("--model", default="logreg", choices=["logreg", "svm"])
    evaluate.add_argument("--json", action="store_true", help="one JSON object, every miss included")



def _detect(args: argparse.Namespace, load_or_exit: LoadConfig) -> int:
    from vision.detectors.onnx import OnnxDetector
    from vision.frames import read_frames

    if not args.model.exists():
        print(f"model not found: {args.model}", file=sys.stderr)
        return 2
    # The model's own labels: this command shows what the detector sees.
    detector = OnnxDetector(args.model, args.imgsz, {"default": args.conf}, output_format=args.format, label_map={})
    try:
        for n, image in enumerate(read_frames(args.source)):
            if args.max_frames and n >= args.max_frames:
                break
            found = [d.to_dict() for d in detector.detect(image)]
            if args.json:
                print(json.dumps({"frame": n, "detections": found}), flush=True)
            else:
                summary = ", ".join(f"{d['label']} {d['score']:.2f}" for d in found) or "nothing"
                print(f"frame {n}: {summary}", flush=True)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def _train(args: argparse.Namespace, load_or_exit: LoadConfig) -> int:
    from vision.train.train import TrainSpec, model_card, train

    spec = TrainSpec(
        out_dir=args.out, model_out=args.model_out, images=args.images, val_images=args.val_images, seed=args.seed,
        epochs=args.epochs, hours=args.hours, init=args.init, imgsz=args.imgsz, batch=args.batch, device=args.device,
        boost=tuple(_boost(b) for b in args.boost), standing_garbage=args.standing_garbage,
    )
    report = train(spec)
    if spec.model_out.resolve() == DEFAULT_MODEL.resolve():  # the card describes the default model only
        model_card(spec.out_dir)
    print(json.dumps(report["metrics"], indent=2))
    print(f"model: {spec.model_out} ({report['model_bytes'] / 1e6:.1f} MB); report: {spec.out_dir / 'report.json'}")
    return 0


def _boost(text: str) -> tuple[str, float]:
    kind, _, weight = text.partition("=")
    try:
        return kind.strip(), float(weight)
    except ValueError:
        raise SystemExit(f"--boost {text!r}: expected KIND=WEIGHT, e.g. garbage=2") from None


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return share


def _train_reports(args: argparse.Namespace, load_or_exit: LoadConfig) -> int:
    from command_center.store import create_store
    from command_center.suggestions import train_command
    from dispatch.catalog import load_catalog

    config = load_or_exit(args.config) if args.config else Config()
    store = create_store(config.store)
    try:
        print(json.dumps(train_command(load_catalog(config.catalog), store), ensure_ascii=False))
    finally:
        store.close()
    return 0


def _evaluate_reports(args: argparse.Namespace, load_or_exit: LoadConfig) -> int:
    from command_center.suggestions import evaluate_command
    from dispatch.catalog import load_catalog

    if args.cv is None and not args.heldout.exists():
        print(f"held-out file not found: {args.heldout}", file=sys.stderr)
        return 2
    found = evaluate_command(load_catalog(Config().catalog), None if args.cv else args.heldout, args.model, args.cv or 5)
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=1))
        return 0
    print(f"{found['n']} reports: top-1 {found['top1']:.3f}, top-3 {found['top3']:.3f} ({args.model})")
    for code, score in found["per_class"].items():  # type: ignore[attr-defined]
        if score["top3"] < score["n"] or score["top1"] < score["n"]:
            print(f"  {code}: top-1 {score['top1']}/{score['n']}, top-3 {score['top3']}/{score['n']}")
    for miss in found["misses"]:  # type: ignore[attr-defined]
        if not miss["in_top3"]:
            print(f"  not in top 3: {miss['code']} {miss['text']!r} → {[c for c, _ in miss['suggested']]}")
    return 0


def _evaluate_verify(args: argparse.Namespace, load_or_exit: LoadConfig) -> int:
    from vision.evaluate_verify import evaluate_verify, format_report

    if not args.model.exists():
        print(f"model not found: {args.model}", file=sys.stderr)
        return 2
    report = evaluate_verify(args.model, args.pairs, args.hold_s, compare_look=not args.no_look)  # progress: stderr
    print(json.dumps(report) if args.json else format_report(report))
    return 0


def _calibrate(args: argparse.Namespace, load_or_exit: LoadConfig) -> int:
    from vision.train.calibrate import calibrate, format_calibration, write_thresholds

    if not args.model.exists():
        print(f"model not found: {args.model}", file=sys.stderr)
        return 2
    table = calibrate(args.model, args.images, args.seed)  # its progress bar: stderr
    print(format_calibration(table))
    if not args.dry_run:
        print(f"thresholds: {write_thresholds(args.model, table, args.images, args.seed)}")
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace, LoadConfig], int]] = {
    "detect": _detect,
    "train": _train,
    "calibrate": _calibrate,
    "evaluate-verify": _evaluate_verify,
    "train-reports": _train_reports,
    "evaluate-reports": _evaluate_reports,
}
