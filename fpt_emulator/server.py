"""The HTTP side: ``POST /api3/json`` over a threaded stdlib server, with transport faults.

Transport faults are applied here because they are about the socket, not the data: a dropped
connection must reach the client as ``RemoteDisconnected``, a hang as its own socket timeout,
a 5xx as ``ProtocolError``. The server keeps connections alive (HTTP/1.1), as FPT does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .api import Api
from .errors import ERR_READ, ApiError
from .faults import FaultKind, Faults

LOG = logging.getLogger(__name__)

API_PATH = "/api3/json"
#: Largest request body read (FPT's own limit is of this order); larger ones get an error and
#: the connection is closed without reading them.
MAX_BODY = 50 * 1024 * 1024
_MAX_LINE = 65537

_STATUS_TEXT = {
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server that knows its api, faults, and open connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        api: Api,
        faults: Faults,
        stop: threading.Event,
        on_call: Callable[[str | None], None] | None = None,
    ) -> None:
        self.api = api
        self.faults = faults
        self.stop_event = stop
        self.on_call = on_call
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.discard(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log (instead of printing to stderr) what escaped a request handler."""
        LOG.exception("emulator error serving %s", client_address)

    def close_connections(self) -> None:
        """Cut every open client connection (used when the emulator stops)."""
        with self._conns_lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FPT-Emulator/1.0"
    sys_version = ""
    #: Idle keep-alive connections are closed after this many seconds.
    timeout = 120
    server: EmulatorHTTPServer
    _answered = False

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every call.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s - %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self._answered = True
        self.send_response(status, _STATUS_TEXT.get(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, payload: dict[str, Any]) -> None:
        try:
            text = json.dumps(
                payload, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False
            )
        except (ValueError, RecursionError) as exc:  # never emit NaN, or a body the client can't parse
            LOG.error("emulator answer not encodable as JSON: %r", exc)
            error = ApiError(f"API internal error: answer not encodable ({exc})", ERR_READ)
            text = json.dumps(error.payload())
        self._send(200, text.encode("utf-8"), "application/json; charset=utf-8")

    def _drop(self) -> None:
        """Close without a response: the client reads EOF where the status line should be."""
        self.close_connection = True

    def do_GET(self) -> None:
        if self.path in ("/", ""):
            self._send(200, b"Flow Production Tracking emulator: POST /api3/json\n", "text/plain")
        else:
            self._send(404, b"Not Found\n", "text/plain")

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0].rstrip("/") != API_PATH:
            self.close_connection = True  # its body is not read: never parse it as a request
            self._send(404, b"Not Found\n", "text/plain")
            return
        try:
            self._post()
        except OSError as exc:  # the client went away mid-answer: nothing left to tell it
            LOG.debug("connection lost: %r", exc)
            self.close_connection = True
        except Exception:
            LOG.exception("emulator error handling a request")
            self.close_connection = True
            if not self._answered:
                with contextlib.suppress(OSError):
                    self._send_json(ApiError("API internal server error", ERR_READ).payload())

    def _post(self) -> None:
        self._answered = False
        body, problem = self._read_body()
        if problem is not None:
            # What is left of the request on the socket cannot be trusted: answer and close.
            self.close_connection = True
            self._send_json(ApiError(problem, ERR_READ).payload())
            return
        payload, error = Api.parse(body)
        method = payload["method_name"] if payload else None
        server = self.server
        if server.on_call is not None:
            server.on_call(method)
        decision = server.faults.decide(method)
        stop = server.stop_event
        if decision.latency > 0:
            stop.wait(decision.latency)
        kind = decision.kind
        if kind is FaultKind.DROP:
            self._drop()
            return
        if kind is FaultKind.HANG:
            stop.wait(decision.seconds)
            self._drop()
            return
        if kind in (FaultKind.HTTP_502, FaultKind.HTTP_503, FaultKind.HTTP_504):
            status = int(kind.value)
            text = f"<html><body><h1>{status} {_STATUS_TEXT[status]}</h1></body></html>\n"
            self._send(status, text.encode(), "text/html")
            return
        if payload is None:
            assert error is not None
            answer = error.payload()
        else:
            answer = server.api.handle(payload, decision)
        if kind is FaultKind.DROP_AFTER_COMMIT:
            self._drop()
            return
        self._send_json(answer)

    def _read_body(self) -> tuple[bytes, str | None]:
        """The request body, or what is wrong with its framing (then the connection is closed)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            return b"", "Invalid Content-Length"
        if length > MAX_BODY:
            return b"", f"Request body too large: {length} bytes (limit {MAX_BODY})"
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            return b"", "Request body ended before Content-Length bytes"
        return body, None

    def _read_chunked(self) -> tuple[bytes, str | None]:
        """A ``Transfer-Encoding: chunked`` body, within the same size limit."""
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_LINE)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                return b"", "Invalid chunked request body"
            if size < 0:
                return b"", "Invalid chunked request body"
            total += size
            if total > MAX_BODY:
                return b"", f"Request body too large (limit {MAX_BODY} bytes)"
            if size == 0:
                break
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(_MAX_LINE).strip():
                return b"", "Invalid chunked request body"
            parts.append(chunk)
        while True:  # trailer section, up to the blank line that ends the request
            line = self.rfile.readline(_MAX_LINE)
            if not line.strip():
                break
        return b"".join(parts), None
