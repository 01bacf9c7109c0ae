"""Ingest from real servers on loopback, through the product's config path.

Each kind: CameraConfig → create_source → SourceRunner, frames of the right size whose
burned-in counter advances, and the time to first frame (printed; the bound is loose).
Bad input: a clear `last_error` in health, no crash, no thread left behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.av import AvSource
from streams.base import SourceError
from streams.config import SourceConfig
from streams.mjpeg import MultipartParser, boundary_of
from streams.registry import create_source
from tests.servers import (
    Clip,
    HlsServer,
    MjpegServer,
    NginxRtmp,
    RtmpPublisher,
    RtspServer,
    audio_only,
    camera,
    counter_of,
    free_port,
    garbage,
    looped,
    make_clip,
    or_skip,
    resources,
    source_threads,
    start_runner,
    truncated,
)

FRAMES = 6  # at 5 fps: a bit over a second of each feed
TTFF_BOUND_S = 10.0




@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ingest")


@pytest.fixture(scope="module")
def clips() -> dict[str, Clip]:
    return or_skip(
        lambda: {
            "h264-720p": make_clip("h264", 1280, 720, 25, 10),
            "h265-720p": make_clip("h265", 1280, 720, 25, 4),
            "h264-1080p": make_clip("h264", 1920, 1080, 25, 3),
            "h265-1080p": make_clip("h265", 1920, 1080, 25, 2),
        }
    )


@pytest.fixture(scope="module")
def rtsp(clips: dict[str, Clip], workdir: Path) -> Iterator[RtspServer]:
    served = {"h264": looped(clips["h264-720p"], 120), "h265": looped(clips["h265-720p"], 120)}
    with or_skip(lambda: RtspServer(served, workdir)) as server:
        yield server


@pytest.fixture(scope="module")
def rtmp(clips: dict[str, Clip], workdir: Path) -> Iterator[NginxRtmp]:
    with or_skip(lambda: NginxRtmp(workdir)) as nginx, RtmpPublisher(clips["h264-720p"], nginx.url("drone1"), workdir):
        yield nginx


@pytest.fixture(scope="module")
def mjpeg() -> Iterator[MjpegServer]:
    with MjpegServer(640, 360, fps=15) as server:
        yield server


@pytest.fixture(scope="module")
def hls(clips: dict[str, Clip], workdir: Path) -> Iterator[HlsServer]:
    with or_skip(lambda: HlsServer(clips["h264-720p"], workdir)) as server:
        yield server


# kind id → (kind, fixture, url from the fixture, extra config, expected (height, width))
CASES: dict[str, tuple[str, str, Callable[[Any], str], dict[str, Any], tuple[int, int]]] = {
    "rtsp-tcp-h264-720p": ("rtsp", "rtsp", lambda s: s.url("h264"), {"transport": "tcp"}, (720, 1280)),
    "rtsp-udp-h264-720p": ("rtsp", "rtsp", lambda s: s.url("h264"), {"transport": "udp"}, (720, 1280)),
    "rtsp-tcp-h265-720p": ("rtsp", "rtsp", lambda s: s.url("h265"), {}, (720, 1280)),
    "rtmp-h264-720p": ("rtmp", "rtmp", lambda s: s.url("drone1"), {}, (720, 1280)),
    "mjpeg": ("mjpeg", "mjpeg", lambda s: s.url("stream.mjpg"), {}, (360, 640)),
    "mjpeg-no-length": ("mjpeg", "mjpeg", lambda s: s.url("nolength.mjpg"), {}, (360, 640)),
    "snapshot": ("snapshot", "mjpeg", lambda s: s.url("snapshot.jpg"), {}, (360, 640)),
    "hls-h264-720p": ("hls", "hls", lambda s: s.url, {}, (720, 1280)),
    "file-h264-720p": ("file", "clips", lambda c: c["h264-720p"].url, {}, (720, 1280)),
    "file-h265-720p": ("file", "clips", lambda c: "file://" + c["h265-720p"].url, {}, (720, 1280)),
    "file-h264-1080p": ("file", "clips", lambda c: c["h264-1080p"].url, {}, (1080, 1920)),
    "file-h265-1080p": ("file", "clips", lambda c: c["h265-1080p"].url, {}, (1080, 1920)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_reads_frames(case: str, request: pytest.FixtureRequest) -> None:
    kind, fixture, url_of, extra, size = CASES[case]
    url = url_of(request.getfixturevalue(fixture))
    config = camera(f"cam-{case}", kind, url, fps=5, **extra)
    started = time.monotonic()
    runner = start_runner(config)
    try:
        first = runner.take(timeout=TTFF_BOUND_S)
        ttff = time.monotonic() - started
        assert first is not None, f"{case}: no frame in {TTFF_BOUND_S} s; last error {runner.health.last_error}"
        print(f"\n{case}: time to first frame {ttff:.3f} s")
        frames = [first]
        while len(frames) < FRAMES:
            frame = runner.take(frames[-1].index, timeout=5)
            assert frame is not None, f"{case}: feed stopped; last error {runner.health.last_error}"
            frames.append(frame)
        assert runner.health.state() == "online"
    finally:
        runner.stop()
    assert all(f.image.shape == (*size, 3) for f in frames)
    counters = [counter_of(f.image) for f in frames]
    steps = [b - a for a, b in zip(counters, counters[1:], strict=False)]
    # Mostly forward; a looped clip may restart its counter once.
    assert sum(s > 0 for s in steps) >= len(steps) - 1, f"{case}: counters {counters}"
    assert [f.index for f in frames] == sorted({f.index for f in frames})
    assert frames[-1].ts - frames[0].ts > 0.3, f"{case}: frames came in a burst, not paced"
    assert not source_threads()


def _bad(config: SourceConfig, wait_s: float = 3.0) -> dict[str, object]:
    before = resources()
    runner = start_runner(config)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not runner.health.last_error:
        time.sleep(0.05)
    frame = runner.take(timeout=0.2)
    snapshot = runner.health.snapshot()
    runner.stop()
    assert frame is None
    assert not source_threads(), "the runner's thread outlived stop()"
    after = resources()
    assert after["threads"] <= before["threads"]
    assert after["fds"] <= before["fds"] + 2, (before, after)
    print(f"\n{config.id}: state {snapshot['state']}, last_error {snapshot['last_error']!r}")
    return snapshot


def test_unreachable_rtsp() -> None:
    snap = _bad(camera("gone", "rtsp", f"rtsp://user:secret@127.0.0.1:{free_port()}/cam", read_timeout_s=2))
    assert "Connection refused" in str(snap["last_error"])
    assert "secret" not in str(snap["last_error"])  # credentials never reach the API
    assert snap["state"] in ("starting", "offline")


def test_unknown_rtsp_path(rtsp: RtspServer) -> None:
    snap = _bad(camera("nopath", "rtsp", rtsp.url("nothing-here")))
    assert "cannot open rtsp" in str(snap["last_error"]) and "404" in str(snap["last_error"])


def test_unreachable_mjpeg_and_404(mjpeg: MjpegServer) -> None:
    snap = _bad(camera("gone-http", "mjpeg", f"http://127.0.0.1:{free_port()}/video.mjpg"))
    assert "cannot connect" in str(snap["last_error"])
    snap = _bad(camera("http-404", "snapshot", mjpeg.url("missing.jpg")))
    assert "HTTP 404" in str(snap["last_error"])


def test_no_video_stream() -> None:
    snap = _bad(camera("audio", "file", str(or_skip(audio_only))))
    assert "no video stream (found audio aac)" in str(snap["last_error"])


def test_not_a_media_file() -> None:
    snap = _bad(camera("garbage", "file", str(or_skip(garbage))))
    assert "Invalid data" in str(snap["last_error"])


def test_truncated_file(clips: dict[str, Clip]) -> None:
    snap = _bad(camera("truncated", "file", str(truncated(clips["h264-1080p"]))))
    assert "truncated" in str(snap["last_error"])


def test_missing_file() -> None:
    snap = _bad(camera("missing", "file", "/nonexistent/clip.mp4"))
    assert "no such file" in str(snap["last_error"])


def test_config_rejects_mismatched_scheme() -> None:
    with pytest.raises(ValueError, match="needs a rtsp:// or rtsps:// URL"):
        camera("bad", "rtsp", "http://127.0.0.1/x")
    with pytest.raises(ValueError, match="transport"):
        camera("bad", "rtsp", "rtsp://127.0.0.1/x", transport="sctp")


def test_multipart_parser_splits_any_chunking() -> None:
    jpeg_a, jpeg_b = b"\xff\xd8AAAA\xff\xd9", b"\xff\xd8B\r\n--notit\xff\xd9"
    body = (
        b"junk\r\n--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 8\r\n\r\n" + jpeg_a + b"\r\n"
        b"--frame\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg_b + b"\r\n--frame--\r\n"
    )
    for step in (1, 3, 7, len(body)):
        parser = MultipartParser(boundary_of('multipart/x-mixed-replace; boundary="frame"'))
        parts = [p for i in range(0, len(body), step) for p in parser.feed(body[i : i + step])]
        assert parts == [jpeg_a, jpeg_b], step
        assert parser.ended
    # Cameras that declare boundary=--frame and write --frame between parts.
    parser = MultipartParser(boundary_of("multipart/x-mixed-replace;boundary=--frame"))
    assert parser.feed(b"--frame\r\nContent-Length: 8\r\n\r\n" + jpeg_a) == [jpeg_a]
    with pytest.raises(SourceError, match="not an MJPEG stream"):
        boundary_of("image/jpeg")


def test_live_feed_skips_a_backlog_instead_of_decoding_it(rtmp: NginxRtmp) -> None:
    """A reader that stalls 3 s comes back to the live edge, not to 3 s old frames.

    Over RTMP: nginx queues what a slow player has not taken, as a relay of a live drone
    feed does (GStreamer's file-backed RTSP server would instead pause its clip).
    """
    source = create_source(camera("backlog", "rtmp", rtmp.url("drone1"), fps=5))
    assert isinstance(source, AvSource)
    source.open()
    try:
        first = counter_of(source.read().image)
        time.sleep(3.0)  # the server keeps sending; the socket buffers it
        started = time.monotonic()
        frames = [source.read() for _ in range(3)]
        caught_up_s = time.monotonic() - started
    finally:
        source.close()
    ahead = (counter_of(frames[-1].image) - first) % 250  # the served clip's counter wraps at 250
    print(f"\nbacklog: skipped {source.skipped} packets, caught up in {caught_up_s:.2f} s, {ahead} frames on")
    assert source.skipped > 25
    assert ahead >= 60  # at least 2.4 s of the 3 s gap were jumped, not replayed at 5 fps
