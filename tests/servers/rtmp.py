"""nginx with the RTMP module as a relay on loopback, and ffmpeg publishing a clip into it.

The publisher is the drone: `RtmpPublisher.kill()` is its 4G link dropping, while nginx
keeps the player's connection open with nothing to send.
"""

from __future__ import annotations

from pathlib import Path

from .clips import Clip
from .process import ManagedProcess, free_port, port_open, require

MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")

_CONF = """\
load_module {module};
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{
            live on;
            record off;
            # A player that joins waits for the next keyframe instead of decoding garbage.
            wait_key on;
        }}
    }}
}}
"""


class NginxRtmp(ManagedProcess):
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        nginx = require("nginx", "nginx")
        if not MODULE.exists():
            from .process import MissingTool

            raise MissingTool(f"{MODULE} not found: apt-get install libnginx-mod-rtmp")
        self.port = port or free_port()
        self.prefix = workdir / f"nginx-{self.port}"
        (self.prefix / "logs").mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(_CONF.format(module=MODULE, prefix=self.prefix, port=self.port))
        # -e: nginx opens its error log before reading the config; keep it out of /var/log.
        argv = [nginx, "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "error.log")]
        super().__init__(argv, self.prefix / "stdout.log", ready=lambda: port_open(self.port))

    def url(self, name: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{name}"


class RtmpPublisher(ManagedProcess):
    """ffmpeg pushing a clip, looped, in real time (-re), without re-encoding."""

    def __init__(self, clip: Clip, url: str, workdir: Path) -> None:
        ffmpeg = require("ffmpeg", "ffmpeg")
        name = url.rsplit("/", 1)[-1]
        argv = [
            ffmpeg, "-nostdin", "-v", "warning", "-re", "-stream_loop", "-1", "-i", str(clip.path),
            "-c", "copy", "-f", "flv", url,
        ]  # fmt: skip
        super().__init__(argv, workdir / f"publish-{name}.log")
