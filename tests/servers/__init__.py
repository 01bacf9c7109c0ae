"""Real servers on loopback for the ingest tests and `bench ingest`.

Each is a context manager; the ones a fault test breaks have `kill()` (a crash),
`restart()` (the same server back on the same port), and for processes `pause()` /
`resume()` (a hung server). A missing Debian binary raises `MissingTool`, which the
tests turn into a skip with its install hint.
"""

from .cameras import camera, resources, source_threads, start_runner, wait_state
from .clips import Clip, audio_only, counter_of, garbage, looped, make_clip, truncated
from .hls import HlsServer
from .mjpeg import MjpegServer
from .process import ManagedProcess, MissingTool, free_port, or_skip
from .rtmp import NginxRtmp, RtmpPublisher
from .rtsp import RtspServer

__all__ = [
    "Clip",
    "HlsServer",
    "ManagedProcess",
    "MissingTool",
    "MjpegServer",
    "NginxRtmp",
    "RtmpPublisher",
    "RtspServer",
    "audio_only",
    "camera",
    "counter_of",
    "free_port",
    "garbage",
    "looped",
    "make_clip",
    "or_skip",
    "resources",
    "source_threads",
    "start_runner",
    "truncated",
    "wait_state",
]
