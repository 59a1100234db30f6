"""A Lambda handler served on a local port the way a Lambda Function URL invokes it.

Tests and the local demo use it to put the real `functions.webhook.app.lambda_handler` behind a
URL that the FPT emulator's webhooks can deliver to. An HTTP request becomes a payload format 2.0
event, the shape a Function URL sends:

- header names in lower case, repeated headers joined with commas;
- the body as text for text content types (`text/*`, JSON, XML, form data), otherwise base64
  with `isBase64Encoded: true`;
- a request body over 6 MB is refused with 413 before the handler runs, as Lambda refuses it.

The handler's answer is turned back into HTTP. A dict with `statusCode` gives the status,
headers and body, decoded from base64 when `isBase64Encoded` is set. Any other value is sent as
JSON with status 200. A handler that raises gives 502, as a function error does behind a URL.
One request runs at a time by default, like one warm container; `concurrency` allows more.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

Handler = Callable[[dict[str, Any], Any], Any]
MAX_REQUEST_BYTES = 6 * 1024 * 1024
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_TYPES_EXACT = ("application/x-www-form-urlencoded",)


def is_text(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith(_TEXT_TYPES) or kind.endswith(("+json", "+xml")) or kind in _TEXT_TYPES_EXACT


class LocalContext:
    """The attributes Powertools reads from a Lambda context, with the function's timeout."""

    function_name = "local-function-url"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:local-function-url"
    log_group_name = "/aws/lambda/local-function-url"
    log_stream_name = "local"

    def __init__(self, timeout: float):
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_url_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str, host: str
) -> dict[str, Any]:
    """The payload format 2.0 event a Function URL would send for this request."""
    lowered: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    payload: str | None = None
    if is_text(lowered.get("content-type", "")):
        with contextlib.suppress(UnicodeDecodeError):  # not text after all: sent as base64
            payload = body.decode("utf-8")
    encoded = payload is None
    if payload is None:
        payload = base64.b64encode(body).decode("ascii")
    url = urlsplit(target)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path or "/",
        "rawQueryString": url.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": url.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if body:
        event["body"] = payload
    return event


def http_answer(result: Any) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for what the handler returned, as a Function URL answers it."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    return int(result["statusCode"]), headers, body


class LocalFunctionUrl:
    """`with LocalFunctionUrl(app.lambda_handler) as url: ...`: the handler at `url.url`."""

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 10.0,
        concurrency: int = 1,
    ):
        self.handler = handler
        self.timeout = timeout
        self._slots = threading.Semaphore(concurrency)
        self._server = ThreadingHTTPServer((host, port), _request_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        #: How many requests reached the handler.
        self.invocations = 0

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> LocalFunctionUrl:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LocalFunctionUrl:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def invoke(self, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        with self._slots:
            self.invocations += 1
            try:
                result = self.handler(event, LocalContext(self.timeout))
            except Exception:
                return 502, {"content-type": "application/json"}, b'{"Message":"Internal Server Error"}'
        return http_answer(result)


def _request_handler(owner: LocalFunctionUrl) -> type[BaseHTTPRequestHandler]:
    class _Request(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the handler's own logs are what matter

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_REQUEST_BYTES:
                self.close_connection = True
                self._send(413, {"content-type": "application/json"}, b'{"Message":"Request Too Large"}')
                return
            body = self.rfile.read(length) if length else b""
            event = function_url_event(
                self.command,
                self.path,
                list(self.headers.items()),
                body,
                self.client_address[0],
                self.headers.get("host", ""),
            )
            self._send(*owner.invoke(event))

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return _Request
