"""A threaded HTTP server on loopback that can be stopped and started again on its port."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .process import free_port


class HttpServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int | None = None) -> None:
        self.handler = handler
        self.port = port or free_port()
        self.stopping = threading.Event()  # long responses (MJPEG) end when this is set
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        server.daemon_threads = True
        server.owner = self  # type: ignore[attr-defined]  # handlers reach the fixture through it
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def kill(self) -> None:
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(5)
        self._server = self._thread = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def __enter__(self) -> HttpServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.kill()


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass
