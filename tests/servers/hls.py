"""Live HLS on loopback: ffmpeg cuts a looped clip into 1 s segments, a thread serves them."""

from __future__ import annotations

import time
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

from .clips import Clip
from .httpd import HttpServer
from .process import ManagedProcess, require


class _Files(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


class HlsServer:
    def __init__(self, clip: Clip, workdir: Path, segment_s: float = 1.0) -> None:
        ffmpeg = require("ffmpeg", "ffmpeg")
        self.dir = workdir / f"hls-{clip.path.stem}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.playlist = self.dir / "index.m3u8"
        argv = [
            ffmpeg, "-nostdin", "-v", "warning", "-re", "-stream_loop", "-1", "-i", str(clip.path),
            "-c", "copy", "-f", "hls", "-hls_time", f"{segment_s:g}", "-hls_list_size", "6",
            "-hls_flags", "delete_segments+omit_endlist", str(self.playlist),
        ]  # fmt: skip
        self.writer = ManagedProcess(argv, workdir / f"hls-{clip.path.stem}.log", ready=self._has_segments)
        self.http = HttpServer(partial(_Files, directory=str(self.dir)))  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"{self.http.base_url}/index.m3u8"

    def _has_segments(self) -> bool:
        try:
            return self.playlist.read_text().count("#EXTINF") >= 1
        except OSError:
            return False

    def __enter__(self) -> HlsServer:
        self.http.start()
        try:
            self.writer.start()
        except Exception:
            self.http.kill()
            raise
        time.sleep(0.1)
        return self

    def __exit__(self, *_: object) -> None:
        self.writer.kill()
        self.http.kill()
