"""A real RTSP server (GStreamer) on loopback, serving clips on /cam0, /cam1, ..."""

from __future__ import annotations

import json
from pathlib import Path

from .clips import Clip
from .process import ManagedProcess, MissingTool, free_port, port_open, require

SCRIPT = Path(__file__).with_name("gst_rtsp_server.py")
DEBIAN_PYTHON = "/usr/bin/python3"


def _check_gst() -> None:
    import subprocess

    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    result = subprocess.run([DEBIAN_PYTHON, "-c", probe], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MissingTool(
            "GStreamer RTSP server not importable from /usr/bin/python3: apt-get install python3-gi "
            "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
        )


class RtspServer(ManagedProcess):
    """`kill()` is a crashed camera server; `restart()` brings it back on the same port."""

    def __init__(self, clips: dict[str, Clip], workdir: Path, port: int | None = None) -> None:
        require(DEBIAN_PYTHON, "python3-gi")
        _check_gst()
        self.port = port or free_port()
        self.clips = clips
        mounts = {f"/{name}": [str(clip.path), clip.codec] for name, clip in clips.items()}
        super().__init__(
            [DEBIAN_PYTHON, str(SCRIPT), str(self.port), json.dumps(mounts)],
            workdir / f"rtsp-{self.port}.log",
            ready=lambda: port_open(self.port),
        )

    def url(self, name: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{name}"
