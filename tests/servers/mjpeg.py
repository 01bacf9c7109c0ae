"""An HTTP MJPEG camera on loopback: /stream.mjpg, /nolength.mjpg and /snapshot.jpg.

Frames are rendered on the fly with the frame number burned in (see clips.counter_of),
numbered by time since the server started, so a viewer can tell that they advance.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from .clips import COUNTER_BITS, strip_height
from .httpd import HttpServer, QuietHandler

BOUNDARY = "camframe"


def render(number: int, width: int, height: int) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 0] = np.linspace(40, 200, width, dtype=np.uint8)[None, :]
    image[:, :, 1] = np.linspace(60, 180, height, dtype=np.uint8)[:, None]
    x = (number * 7) % max(1, width - 60)
    cv2.rectangle(image, (x, height // 2), (x + 60, height // 2 + 40), (0, 0, 255), -1)
    block, bar = width // COUNTER_BITS, strip_height(height)
    image[:bar] = 0
    for bit in range(COUNTER_BITS):
        if number >> bit & 1:
            image[:bar, bit * block : (bit + 1) * block] = 255
    return image


class _Camera(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        owner: MjpegServer = self.server.owner  # type: ignore[attr-defined]
        if self.path == "/snapshot.jpg":
            body = owner.jpeg(owner.number())
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path in ("/stream.mjpg", "/nolength.mjpg"):
            self._stream(owner, with_length=self.path == "/stream.mjpg")
        else:
            self.send_error(404)

    def _stream(self, owner: MjpegServer, with_length: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        last = -1
        try:
            while not owner.stopping.is_set():
                number = owner.number()
                if number == last:
                    time.sleep(0.005)
                    continue
                last = number
                body = owner.jpeg(number)
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                if with_length:
                    head += f"Content-Length: {len(body)}\r\n"
                self.wfile.write(head.encode() + b"\r\n" + body + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


class MjpegServer(HttpServer):
    def __init__(self, width: int = 640, height: int = 360, fps: float = 10.0, port: int | None = None) -> None:
        super().__init__(_Camera, port)
        self.width, self.height, self.fps = width, height, fps
        self._t0 = time.monotonic()

    def number(self) -> int:
        return int((time.monotonic() - self._t0) * self.fps)

    def jpeg(self, number: int) -> bytes:
        ok, data = cv2.imencode(".jpg", render(number, self.width, self.height), [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        return data.tobytes()

    def url(self, path: str = "stream.mjpg") -> str:
        return f"{self.base_url}/{path}"
