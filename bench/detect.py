"""Benchmark: the vision pipeline against raw ONNX Runtime, and motion gating against
per-frame detection.

Throughput, on a busy rendered street clip (rendered once, up front, not timed).
Ours: `CameraPipeline.process` without a gate: letterbox, inference, decoding and NMS,
tracking, the demo's rules on the scene's zones, and the annotated view, per frame.
Baseline: `session.run()` on the very same ONNX Runtime session (so the same options and
threads), fed with the least a raw user must do per frame: resize to the model's input
and lay it out as N×C×H×W (one `cv2.dnn.blobFromImage` call); no decoding at all.
`ratio` = our frames/s ÷ the baseline's.

With `--checks N`, a third side times the same pipeline while N verification checks
(`vision.verify`, as a handled case's re-check runs) look at the camera: each frame feeds
them its detections, each decided check is replaced by a new one so N stay active, and
the verdicts (with their snapshots) are taken as the vision worker takes them.
`ratio_checks` = that side's frames/s ÷ the baseline's.

Gating, on a mostly static clip (a quiet site: no passing traffic, one staged event
about every five minutes, each with its own lead-in and lead-out walkers or drivers):
the pipeline runs twice on the same frames, detecting every frame and through `MotionGate`. Reported: inferences run in each
mode (a whole frame or a crop is one), the ground-truth events each mode raised an incident
for (scored as `vision.evaluate` scores rules), and `events_kept`: of the events found
detecting every frame, the share the gated run found too.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from scenes import SceneRenderer
from streams.base import Frame
from vision.detectors.onnx import OnnxDetector
from vision.evaluate import THRESHOLDS, CountingDetector, frame_times, run_clip, scene_pipeline
from vision.gate import MotionGate
from vision.pipeline import CameraPipeline
from vision.rule_scores import expected_in, score
from vision.verify import CheckRequest

# What the bench's checks look for, in turn: the product labels a handled case names.
CHECK_LABELS = ("stall", "garbage", "vehicle", "person", "fire")

ROOT = Path(__file__).resolve().parent.parent
OWN_MODEL = ROOT / "models" / "grid-yolo.onnx"
SHARED_MODEL = ROOT.parent / "shared" / "models" / "yolox_nano.onnx"


def default_model() -> Path:
    """The project's own model when it is there, else the shared COCO YOLOX-nano."""
    return OWN_MODEL if OWN_MODEL.exists() else SHARED_MODEL


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="command-center bench detect", description=__doc__)
    parser.add_argument(
        "--model", type=Path, default=None, help=f"ONNX model (default: {OWN_MODEL.name} or YOLOX)"
    )
    parser.add_argument("--imgsz", type=int, default=320, help="input size for models without a fixed one")
    parser.add_argument(
        "--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: its own)"
    )
    parser.add_argument("--frames", type=int, default=120, help="frames of the busy clip")
    parser.add_argument("--density", type=float, default=1.6, help="traffic of the busy clip (1.0: normal)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed passes per side, interleaved; the best counts"
    )
    parser.add_argument(
        "--gate-kinds", default="street,plaza", help="scenes of the gating clip; empty: skip it"
    )
    parser.add_argument("--gate-seconds", type=float, default=900.0, help="scene time of each gating clip")
    parser.add_argument("--gate-density", type=float, default=0.0, help="passing traffic of the gating clip")
    parser.add_argument(
        "--gate-every", type=float, default=300.0, help="seconds between events in the gating clip"
    )
    parser.add_argument("--fps", type=float, default=5.0, help="frames per scene second (both clips)")
    parser.add_argument(
        "--checks", type=int, default=0, help="also time ours with N active verification checks (0: skip)"
    )
    parser.add_argument("--profile", action="store_true", help="print where one pass of ours spends its time")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    model = args.model or default_model()
    detector = OnnxDetector(model, args.imgsz, THRESHOLDS, threads=args.threads)
    figures: dict[str, Any] = {
        "model": str(model),
        "format": detector.format,
        "input": list(detector.size),
        "threads": args.threads or "ort-default",
    }
    figures.update(_throughput(detector, args))
    if args.gate_kinds:
        figures.update(_gating(detector, args))
    figures["ratio"] = round(figures["ours_fps"] / figures["baseline_fps"], 2)
    if args.checks > 0:
        figures["ratio_checks"] = round(figures["ours_checks_fps"] / figures["baseline_fps"], 2)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            if not key.startswith("ratio"):
                print(f"{key}: {value}")
        print(f"ratio: {figures['ratio']:.2f}")
        if "ratio_checks" in figures:
            print(f"ratio_checks: {figures['ratio_checks']:.2f}")
    return figures


def _throughput(detector: OnnxDetector, args: argparse.Namespace) -> dict[str, Any]:
    _status(f"rendering {args.frames} frames (street, density {args.density})")
    scene = SceneRenderer(args.seed, kind="street", density=args.density)
    times = frame_times(30.0, 30.0 + args.frames / args.fps, args.fps)
    rendered = [scene.render(t) for t in times]
    images = [image for image, _ in rendered]
    objects = statistics.mean(len(truth) for _, truth in rendered)

    session, name = detector.session, detector.input_name
    height, width = detector.size
    # YOLOX takes BGR 0–255, ultralytics exports RGB 0–1: the least each needs.
    scale, swap = (1.0, False) if detector.format == "yolox" else (1 / 255.0, True)

    def baseline(image: np.ndarray) -> None:
        session.run(None, {name: cv2.dnn.blobFromImage(image, scale, (width, height), swapRB=swap)})

    _status("warming up")
    detector.detect(images[0])
    passes = max(args.repeat, 1)
    n = len(images)
    sides = 3 if args.checks > 0 else 2  # baseline, ours, and ours with checks
    # Per frame and pass, the sides back to back (in rotating order): a burst of load from
    # elsewhere on the machine then hits them alike instead of one whole side.
    spent = np.zeros((sides, passes, n))
    detections: list[int] = []
    verdicts: dict[str, int] = {}
    clip_s = args.frames / args.fps
    for p in range(passes):
        _status(f"timing pass {p + 1}/{passes}")
        pipeline = scene_pipeline(scene, detector)  # fresh tracks and rules each pass
        checked = scene_pipeline(scene, detector)
        made = [0]
        for i, (t, image) in enumerate(zip(times, images, strict=True)):
            frame = Frame(image=image, ts=t, index=i, wall_ts=t)
            if sides == 3:
                _keep_checks(checked, args.checks, image.shape, clip_s, made)
            for step in range(sides):
                side = (step + i + p) % sides
                started = time.perf_counter()
                if side == 1:
                    pipeline.process(frame)
                elif side == 2:
                    checked.process(frame)
                    for verdict in checked.take_verdicts():  # as the vision worker hands them on
                        verdicts[verdict.outcome] = verdicts.get(verdict.outcome, 0) + (p == 0)
                else:
                    baseline(image)
                spent[side, p, i] = time.perf_counter() - started
            if p == 0 and pipeline.annotated is not None:
                detections.append(len(pipeline.annotated.detections))
    base_s, ours_s = spent[0], spent[1]
    if args.profile:
        _profile_pipeline(scene_pipeline(scene, detector), times, images)
    # Every pass does the same work per frame, so each frame's least disturbed time is its cost.
    ours, base = float(ours_s.min(axis=0).sum()), float(base_s.min(axis=0).sum())
    ours_pass, base_pass = float(ours_s.sum(axis=1).min()), float(base_s.sum(axis=1).min())
    figures: dict[str, Any] = {
        "frames": n,
        "passes": passes,
        "objects_per_frame": round(objects, 1),
        "detections_per_frame": round(statistics.mean(detections), 1) if detections else 0.0,
        "ours_fps": round(n / ours, 2),
        "baseline_fps": round(n / base, 2),
        "ours_ms": round(ours / n * 1000, 2),
        "baseline_ms": round(base / n * 1000, 2),
        "overhead_ms": round((ours - base) / n * 1000, 2),
        "ours_fps_best_pass": round(n / ours_pass, 2),
        "baseline_fps_best_pass": round(n / base_pass, 2),
    }
    if sides == 3:
        checks = float(spent[2].min(axis=0).sum())
        figures.update({
            "checks": args.checks,
            "ours_checks_fps": round(n / checks, 2),
            "ours_checks_ms": round(checks / n * 1000, 2),
            "checks_overhead_ms": round((checks - ours) / n * 1000, 3),
            "check_verdicts": dict(sorted(verdicts.items())),  # first pass
        })  # fmt: skip
    return figures


def _keep_checks(pipeline: CameraPipeline, wanted: int, shape: tuple[int, ...], clip_s: float, made: list[int]) -> None:
    """Top the camera up to `wanted` running checks (a decided one leaves), each over its own
    tile of the view, deciding within the clip: held a quarter of it, unsure at half."""
    h, w = shape[:2]
    cols = max(1, int(np.ceil(np.sqrt(wanted))))
    rows = int(np.ceil(wanted / cols))
    while len(pipeline.checks) < wanted:
        k = made[0]
        made[0] += 1
        col, row = (k % wanted) % cols, (k % wanted) // cols
        region = (col * w / cols, row * h / rows, (col + 1) * w / cols, (row + 1) * h / rows)
        hold = max(2.0, clip_s / 4)
        pipeline.add_check(CheckRequest(
            id=f"bench-{k}", camera_id=pipeline.camera_id, region=region,
            labels=frozenset({CHECK_LABELS[k % len(CHECK_LABELS)]}), hold_s=hold, timeout_s=2 * hold,
        ))  # fmt: skip


def _profile_pipeline(pipeline: CameraPipeline, times: list[float], images: list[np.ndarray]) -> None:
    frames = [Frame(image=im, ts=t, index=i, wall_ts=t) for i, (t, im) in enumerate(zip(times, images, strict=True))]
    _profile(lambda: [pipeline.process(f) for f in frames])


def _gating(detector: OnnxDetector, args: argparse.Namespace) -> dict[str, Any]:
    kinds = [k for k in args.gate_kinds.split(",") if k]
    total = len(frame_times(0.0, args.gate_seconds, args.fps)) * len(kinds)
    every = CountingDetector(detector)
    gated = CountingDetector(detector)
    # Events (scene kind, event number) each mode raised an incident for.
    found: dict[str, set[tuple[str, int]]] = {"every": set(), "gated": set()}
    false_alarms = {"every": 0, "gated": 0}
    events = 0
    skipped: list[dict[str, float]] = []
    done = 0
    for kind in kinds:
        scene = SceneRenderer(args.seed, kind=kind, density=args.gate_density, event_every_s=args.gate_every)
        gate = MotionGate(region_size=max(detector.size))
        pipelines = [scene_pipeline(scene, every), scene_pipeline(scene, gated, gate)]

        def tick() -> None:
            nonlocal done
            done += 1
            if done % 250 == 0:
                _status(f"gating clip: {done}/{total} frames")

        per_mode = run_clip(scene, pipelines, 0.0, args.gate_seconds, args.fps, tick)
        truth = scene.events_until(args.gate_seconds)
        expected = expected_in(truth, 0.0, args.gate_seconds)
        events += len(expected)
        for mode, incidents in zip(("every", "gated"), per_mode, strict=True):
            scores = score(incidents, truth, expected)
            missed = [truth.index(e) for e in scores.missed]
            found[mode] |= {(kind, i) for i in expected if i not in missed}
            false_alarms[mode] += scores.total.fp
        skipped.append(gate.stats.to_dict())
    frames = sum(s["frames"] for s in skipped)
    return {
        "gate_frames": frames,
        "gate_events": events,
        "inferences_every_frame": every.inferences,
        "inferences_gated": gated.inferences,
        "inference_reduction": round(every.inferences / max(gated.inferences, 1), 2),
        "events_raised_every_frame": len(found["every"]),
        "events_raised_gated": len(found["gated"]),
        # Of the events detecting every frame raised, the share the gated run raised too.
        "events_kept": round(len(found["every"] & found["gated"]) / len(found["every"]), 3)
        if found["every"]
        else None,
        "false_alarms_every_frame": false_alarms["every"],
        "false_alarms_gated": false_alarms["gated"],
        "frames_skipped_ratio": round(
            sum(s["frames_skipped_ratio"] * s["frames"] for s in skipped) / frames, 3
        ),
        "pixels_skipped_ratio": round(
            sum(s["pixels_skipped_ratio"] * s["frames"] for s in skipped) / frames, 3
        ),
    }


def _profile(work: Callable[[], object]) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(work)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    _status(out.getvalue())


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    run()
