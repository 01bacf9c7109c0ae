"""An RTSP server for tests: GStreamer's gst-rtsp-server serving MP4 clips in real time.

Run with Debian's /usr/bin/python3 (it has `gi`), not the project's venv:
    /usr/bin/python3 gst_rtsp_server.py PORT '{"/cam0": ["/tmp/clip.mp4", "h264"], ...}'
Each client gets its own pipeline reading its clip from the start (not shared), paced
by the server's clock, so what a client sees is what a camera would send.
"""

import json
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

DEPAYLOADERS = {"h264": ("h264parse", "rtph264pay"), "h265": ("h265parse", "rtph265pay")}


def main() -> int:
    port, mounts = sys.argv[1], json.loads(sys.argv[2])
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    table = server.get_mount_points()
    for path, (clip, codec) in mounts.items():
        parse, pay = DEPAYLOADERS[codec]
        factory = GstRtspServer.RTSPMediaFactory()
        # config-interval=-1: parameter sets with every keyframe, so a late joiner can decode.
        factory.set_launch(
            f'( filesrc location="{clip}" ! qtdemux ! {parse} config-interval=-1 ! {pay} name=pay0 pt=96 )'
        )
        factory.set_shared(False)
        table.add_factory(path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        return 1
    print(f"rtsp server on 127.0.0.1:{port} serving {', '.join(mounts)}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
