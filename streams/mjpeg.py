"""HTTP cameras: MJPEG streams (multipart/x-mixed-replace) and JPEG snapshots polled at the fps.

Parts are split by Content-Length when the camera sends it and by the boundary when it
does not; only parts that are due at the configured fps are decoded, the rest are skipped
as bytes, so a 25 fps camera sampled at 5 fps costs five JPEG decodes a second.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import cv2
import httpx
import numpy as np

from streams.av import display_url
from streams.base import Frame, SourceError
from streams.config import SourceConfig
from streams.registry import register

MAX_PART_BYTES = 16 * 1024 * 1024  # a 4K JPEG is a few MB; more is a broken stream, not a frame
MAX_HEADER_BYTES = 16 * 1024
MAX_BAD_IMAGES = 10  # undecodable JPEGs in a row before the feed counts as broken


def boundary_of(content_type: str) -> str:
    match = re.search(r'boundary="?([^";,]+)"?', content_type, re.IGNORECASE)
    if not content_type.lower().startswith("multipart/") or match is None:
        raise SourceError(f"not an MJPEG stream (Content-Type {content_type or 'missing'!r})")
    return match.group(1).strip()


class MultipartParser:
    """Splits a multipart body fed chunk by chunk into the parts' bodies."""

    def __init__(self, boundary: str) -> None:
        # Some cameras declare boundary=--x and then write --x: searching for the shorter
        # form finds both that and the standard ----x (as its tail).
        raw = boundary.encode("latin-1")
        self._delimiter = raw if raw.startswith(b"--") else b"--" + raw
        self._buf = bytearray()
        self._state = "seek"
        self._length: int | None = None
        self.ended = False

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        parts: list[bytes] = []
        while True:
            if self._state == "seek":
                at = self._buf.find(self._delimiter)
                if at < 0:
                    # Keep a possible partial delimiter, drop the rest: junk between parts.
                    del self._buf[: max(0, len(self._buf) - len(self._delimiter))]
                    return parts
                del self._buf[: at + len(self._delimiter)]
                self._state = "headers"
            if self._state == "headers":
                if self._buf[:2] == b"--":
                    self.ended = True  # the closing delimiter, --boundary--
                    return parts
                end = self._buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buf) > MAX_HEADER_BYTES:
                        raise SourceError(f"MJPEG part headers over {MAX_HEADER_BYTES} bytes")
                    return parts
                headers = bytes(self._buf[:end])
                del self._buf[: end + 4]
                self._length = _content_length(headers)
                if self._length is not None and self._length > MAX_PART_BYTES:
                    raise SourceError(f"MJPEG part of {self._length} bytes (limit {MAX_PART_BYTES})")
                self._state = "body"
            if self._length is not None:
                if len(self._buf) < self._length:
                    return parts
                parts.append(bytes(self._buf[: self._length]))
                del self._buf[: self._length]
            else:
                end = self._buf.find(b"\r\n" + self._delimiter)
                if end < 0:
                    if len(self._buf) > MAX_PART_BYTES:
                        raise SourceError(f"MJPEG part without a boundary after {MAX_PART_BYTES} bytes")
                    return parts
                parts.append(bytes(self._buf[:end]))
                del self._buf[:end]
            self._state = "seek"


def _content_length(headers: bytes) -> int | None:
    match = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", headers)
    return int(match.group(1)) if match else None


def decode_jpeg(data: bytes) -> np.ndarray | None:
    if not data:
        return None
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


class _HttpSource:
    def __init__(self, url: str, fps: float, open_timeout_s: float = 10.0, read_timeout_s: float = 5.0) -> None:
        self.url = url
        self.interval_s = 1.0 / fps
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.kind = "http"
        self._client: httpx.Client | None = None
        self._index = 0
        self._bad = 0

    @property
    def name(self) -> str:
        return f"{self.kind} {display_url(self.url)}"

    def _open_client(self) -> httpx.Client:
        self.close()
        timeout = httpx.Timeout(self.read_timeout_s, connect=self.open_timeout_s)
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)
        return self._client

    def _http_error(self, exc: httpx.HTTPError) -> SourceError:
        if isinstance(exc, httpx.ConnectError):
            return SourceError(f"cannot connect to {self.name}: {_first_line(exc) or 'connection refused'}")
        if isinstance(exc, httpx.TimeoutException):
            return SourceError(f"{self.name}: no data for {self.read_timeout_s:g} s ({type(exc).__name__})")
        return SourceError(f"{self.name}: {type(exc).__name__}: {_first_line(exc)}")

    def _frame(self, data: bytes) -> Frame | None:
        image = decode_jpeg(data)
        if image is None:
            self._bad += 1
            if self._bad >= MAX_BAD_IMAGES:
                raise SourceError(f"{self.name}: {self._bad} undecodable images in a row (not JPEG?)")
            return None
        self._bad = 0
        self._index += 1
        return Frame(image=image, ts=time.monotonic(), index=self._index - 1, wall_ts=time.time())

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


class MjpegSource(_HttpSource):
    def __init__(self, url: str, fps: float, open_timeout_s: float = 10.0, read_timeout_s: float = 5.0) -> None:
        super().__init__(url, fps, open_timeout_s, read_timeout_s)
        self.kind = "mjpeg"
        self._response: httpx.Response | None = None
        self._parts: Iterator[bytes] | None = None
        self._next_due = 0.0

    def open(self) -> None:
        client = self._open_client()
        self._next_due = 0.0
        try:
            response = client.send(client.build_request("GET", self.url), stream=True)
        except httpx.HTTPError as exc:
            raise self._http_error(exc) from None
        self._response = response
        if response.status_code != 200:
            raise SourceError(f"{self.name}: HTTP {response.status_code} {response.reason_phrase}")
        content_type = response.headers.get("content-type", "")
        if content_type.lower().startswith("image/"):
            raise SourceError(f"{self.name}: serves a single image ({content_type}); use kind 'snapshot'")
        try:
            parser = MultipartParser(boundary_of(content_type))
        except SourceError as exc:
            raise SourceError(f"{self.name}: {exc}") from None
        self._parts = self._split(response, parser)

    def _split(self, response: httpx.Response, parser: MultipartParser) -> Iterator[bytes]:
        last_part = time.monotonic()
        try:
            for chunk in response.iter_raw():
                parts = parser.feed(chunk)
                now = time.monotonic()
                if parts:
                    last_part = now
                    yield parts[-1]  # several in one chunk: only the newest matters
                elif now - last_part > self.read_timeout_s:
                    raise SourceError(f"{self.name}: no complete image for {now - last_part:.1f} s")
                if parser.ended:
                    break
        except httpx.HTTPError as exc:
            raise self._http_error(exc) from None
        raise SourceError(f"{self.name}: the camera ended the stream")

    def read(self) -> Frame:
        if self._parts is None:
            raise SourceError(f"{self.name}: read before open")
        while True:
            data = next(self._parts)
            now = time.monotonic()
            if now < self._next_due - self.interval_s * 0.1:
                continue  # not due: skipped undecoded
            frame = self._frame(data)
            if frame is not None:
                self._next_due = _next_slot(self._next_due, now, self.interval_s)
                return frame

    def close(self) -> None:
        parts, response = self._parts, self._response
        self._parts = self._response = None
        if parts is not None:
            parts.close()  # type: ignore[attr-defined]
        if response is not None:
            response.close()
        super().close()


class SnapshotSource(_HttpSource):
    """A camera that serves one JPEG per request, polled at the configured fps."""

    def __init__(self, url: str, fps: float, open_timeout_s: float = 10.0, read_timeout_s: float = 5.0) -> None:
        super().__init__(url, fps, open_timeout_s, read_timeout_s)
        self.kind = "snapshot"
        self._next_due = 0.0

    def open(self) -> None:
        self._open_client()
        self._next_due = 0.0

    def read(self) -> Frame:
        while True:
            wait = self._next_due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._next_due = _next_slot(self._next_due, time.monotonic(), self.interval_s)
            frame = self._frame(self._fetch())
            if frame is not None:
                return frame

    def _fetch(self) -> bytes:
        if self._client is None:
            raise SourceError(f"{self.name}: read before open")
        try:
            # Streamed, so a URL that never ends (an MJPEG stream) is refused, not read forever.
            with self._client.stream("GET", self.url) as response:
                if response.status_code != 200:
                    raise SourceError(f"{self.name}: HTTP {response.status_code} {response.reason_phrase}")
                content_type = response.headers.get("content-type", "")
                if content_type.lower().startswith("multipart/"):
                    kind = content_type.split(";")[0]
                    raise SourceError(f"{self.name}: serves a stream ({kind}); use kind 'mjpeg'")
                body = bytearray()
                for chunk in response.iter_raw():
                    body += chunk
                    if len(body) > MAX_PART_BYTES:
                        raise SourceError(f"{self.name}: image over {MAX_PART_BYTES} bytes")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise self._http_error(exc) from None


def _next_slot(due: float, now: float, interval: float) -> float:
    """Keep a fixed grid; after a slow spell start a new one rather than bunch frames up."""
    return due + interval if now - due < interval else now + interval


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""


@register("mjpeg", "snapshot")
def _from_config(config: SourceConfig) -> MjpegSource | SnapshotSource:
    cls = SnapshotSource if config.kind == "snapshot" else MjpegSource
    return cls(config.url, config.fps, config.open_timeout_s, config.read_timeout_s)
