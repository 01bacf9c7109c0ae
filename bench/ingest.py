"""Benchmark: N concurrent 720p H.264 RTSP feeds from a real server (GStreamer), read by our sources.

Ours: one SourceRunner per feed (PyAV decode, newest frame wins), sampled at --fps by one
consumer thread the way the vision worker samples. Figures: frames decoded per second,
lag of the frame the consumer takes behind the sender (read from the frame number burned
into the clip, relative to the least-delayed frame of the same feed), CPU per feed.
Baseline, same run, same server, same feeds: `ffmpeg -rtsp_transport tcp -i URL -f null -`
per feed. ratio = our decoded frames per CPU-second ÷ ffmpeg's.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if (ROOT / "tests" / "servers").is_dir() and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the real servers live with the tests

from bench.report import report  # noqa: E402
from streams.av import AvSource  # noqa: E402
from streams.registry import create_source  # noqa: E402
from streams.runner import SourceRunner  # noqa: E402

_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="command-center bench ingest", description=__doc__)
    parser.add_argument("--streams", type=int, default=4, help="concurrent feeds")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per side")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds before measuring")
    parser.add_argument("--fps", type=float, default=5.0, help="sampling rate per feed, like the detector's")
    parser.add_argument("--source-fps", type=int, default=25, help="frame rate of the served clip")
    parser.add_argument("--transport", choices=("tcp", "udp"), default="tcp")
    parser.add_argument("--no-baseline", action="store_true", help="skip the ffmpeg side (ratio 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    from tests.servers import RtspServer, camera, looped, make_clip

    _status(f"making the 720p H.264 clip and starting the RTSP server with {args.streams} feeds")
    base = make_clip("h264", 1280, 720, args.source_fps, 10)
    clip = looped(base, 2 * (args.warmup + args.seconds) + 60)
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-ingest-"))
    names = [f"cam{i}" for i in range(args.streams)]
    try:
        with RtspServer(dict.fromkeys(names, clip), workdir) as server:
            urls = [server.url(n) for n in names]
            configs = [camera(n, "rtsp", u, fps=args.fps, transport=args.transport) for n, u in zip(names, urls, strict=True)]
            server_cpu0 = _proc_cpu(server.pid)
            ours = _ours(configs, args, base.period_frames, base.fps)
            server_cpu = _proc_cpu(server.pid) - server_cpu0
            theirs = None if args.no_baseline else _ffmpeg(urls, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    figures: dict[str, Any] = {
        "streams": args.streams,
        "seconds": args.seconds,
        "sample_fps": args.fps,
        "source_fps": args.source_fps,
        "transport": args.transport,
        "cpus": os.cpu_count(),
        **ours,
        "server_cpu_per_stream_pct": round(100 * server_cpu / (ours["wall_s"] * args.streams), 1),
    }
    if theirs is not None:
        figures.update(theirs)
        figures["ratio"] = round(ours["frames_per_cpu_s"] / max(theirs["ffmpeg_frames_per_cpu_s"], 1e-9), 2)
    else:
        figures["ratio"] = 0.0
    return report(figures, args.json)


def _ours(configs: list[Any], args: argparse.Namespace, period: int, clip_fps: int) -> dict[str, Any]:
    sources: dict[str, list[AvSource]] = {c.id: [] for c in configs}

    def factory(config: Any) -> AvSource:
        source = create_source(config)
        assert isinstance(source, AvSource)  # rtsp:// feeds decode with PyAV
        sources[config.id].append(source)  # keep them: their counters are the decode figures
        return source

    runners = [SourceRunner(c.id, functools.partial(factory, c)) for c in configs]
    for runner in runners:
        runner.start()
    try:
        _status(f"ours: warming up {args.warmup:g} s")
        deadline = time.monotonic() + max(args.warmup, 0.5)
        while time.monotonic() < deadline or not all(r.latest for r in runners):
            if time.monotonic() > deadline + 20:
                errors = {r.camera_id: r.health.last_error for r in runners if not r.latest}
                raise RuntimeError(f"feeds without frames after warm-up: {errors}")
            time.sleep(0.1)
        decoded0, skipped0 = _counts(sources)
        cpu0, wall0 = _self_cpu(), time.monotonic()
        _status(f"ours: measuring {args.seconds:g} s")
        lags = _sample(runners, args.fps, args.seconds, period, clip_fps)
        cpu, wall = _self_cpu() - cpu0, time.monotonic() - wall0
        decoded1, skipped1 = _counts(sources)
        reconnects = sum(r.health.reconnects for r in runners)
    finally:
        for runner in runners:
            runner.stop()
    decoded, n = decoded1 - decoded0, len(configs)
    all_lags = np.concatenate([np.asarray(v) for v in lags.values() if v]) if any(lags.values()) else np.zeros(1)
    return {
        "wall_s": round(wall, 2),
        "decode_fps": round(decoded / wall, 1),
        "decode_fps_per_stream": round(decoded / wall / n, 1),
        "skipped_to_catch_up": skipped1 - skipped0,
        "samples": int(sum(len(v) for v in lags.values())),
        "sampled_fps_per_stream": round(sum(len(v) for v in lags.values()) / wall / n, 2),
        "lag_p50_ms": round(float(np.percentile(all_lags, 50)) * 1000),
        "lag_p95_ms": round(float(np.percentile(all_lags, 95)) * 1000),
        "lag_max_ms": round(float(all_lags.max()) * 1000),
        "cpu_per_stream_pct": round(100 * cpu / wall / n, 1),
        "frames_per_cpu_s": round(decoded / max(cpu, 1e-9), 1),
        "reconnects": reconnects,
    }


def _sample(runners: list[SourceRunner], fps: float, seconds: float, period: int, clip_fps: int) -> dict[str, list[float]]:
    """One consumer for all feeds, like the vision worker; returns each feed's lags."""
    from tests.servers import counter_of

    raw: dict[str, list[float]] = {r.camera_id: [] for r in runners}
    last = dict.fromkeys(raw, -1)
    due = dict.fromkeys(raw, 0.0)
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        worked = False
        for runner in runners:
            if now < due[runner.camera_id]:
                continue
            frame = runner.take(last[runner.camera_id], timeout=0)
            if frame is None:
                continue
            taken = time.monotonic()
            last[runner.camera_id] = frame.index
            due[runner.camera_id] = taken + 0.9 / fps
            number = counter_of(frame.image) % period
            raw[runner.camera_id].append(taken - number / clip_fps)
            worked = True
        if not worked:
            time.sleep(0.005)
    return {cam: _relative_lags(values, period / clip_fps) for cam, values in raw.items()}


def _relative_lags(raw: list[float], period_s: float) -> list[float]:
    """How far each frame is behind the feed's least-delayed frame, the counter's wrap undone."""
    if not raw:
        return []
    values = np.asarray(raw)
    offsets = (values - values[0] + period_s / 2) % period_s - period_s / 2
    return list(offsets - offsets.min())


def _ffmpeg(urls: list[str], args: argparse.Namespace) -> dict[str, Any]:
    _status(f"baseline: {len(urls)} × ffmpeg -f null")
    procs = [
        subprocess.Popen(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport", args.transport,
             "-i", url, "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        for url in urls
    ]
    frames = [0] * len(procs)
    readers = [threading.Thread(target=_progress, args=(p, frames, i), daemon=True) for i, p in enumerate(procs)]
    for reader in readers:
        reader.start()
    try:
        time.sleep(max(args.warmup, 0.5))
        f0, c0, w0 = sum(frames), sum(_proc_cpu(p.pid) for p in procs), time.monotonic()
        time.sleep(args.seconds)
        f1, c1, w1 = sum(frames), sum(_proc_cpu(p.pid) for p in procs), time.monotonic()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
    decoded, cpu, wall, n = f1 - f0, c1 - c0, w1 - w0, len(procs)
    return {
        "ffmpeg_decode_fps": round(decoded / wall, 1),
        "ffmpeg_cpu_per_stream_pct": round(100 * cpu / wall / n, 1),
        "ffmpeg_frames_per_cpu_s": round(decoded / max(cpu, 1e-9), 1),
    }


def _progress(proc: subprocess.Popen[str], frames: list[int], i: int) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("frame="):
            frames[i] = int(line.split("=", 1)[1])


def _counts(sources: dict[str, list[AvSource]]) -> tuple[int, int]:
    every = [s for group in sources.values() for s in group]
    return sum(s.decoded for s in every), sum(s.skipped for s in every)


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime, stime


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    run()
