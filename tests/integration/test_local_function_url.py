"""`LocalFunctionUrl`: HTTP in, the Function URL event a handler would get, the handler's answer out."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from shotgun_events_tools.function_url import MAX_REQUEST_BYTES, LocalFunctionUrl, is_text


def request(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


class Recorder:
    def __init__(self, answer: Any = None, error: Exception | None = None):
        self.events: list[dict[str, Any]] = []
        self.answer = answer
        self.error = error

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        assert context.get_remaining_time_in_millis() > 0
        self.events.append(event)
        if self.error:
            raise self.error
        return self.answer


def test_a_json_request_becomes_a_payload_2_event_with_lower_case_headers() -> None:
    handler = Recorder({"statusCode": 201, "headers": {"X-Answer": "yes"}, "body": '{"ok": true}'})
    with LocalFunctionUrl(handler) as url:
        status, headers, body = request(
            url.url + "hook?x=1",
            b'{"data": {}}',
            {"Content-Type": "application/json; charset=utf-8", "X-SG-SIGNATURE": "sha1=ab"},
        )
    assert (status, headers["x-answer"], body) == (201, "yes", b'{"ok": true}')
    [event] = handler.events
    assert event["version"] == "2.0" and event["rawPath"] == "/hook" and event["rawQueryString"] == "x=1"
    assert event["headers"]["x-sg-signature"] == "sha1=ab"
    assert all(name == name.lower() for name in event["headers"])
    assert event["body"] == '{"data": {}}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"


def test_a_binary_body_is_base64_and_a_base64_answer_is_decoded() -> None:
    raw = bytes(range(256))
    answer = {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    handler = Recorder(answer)
    with LocalFunctionUrl(handler) as url:
        status, _, body = request(url.url, raw, {"Content-Type": "application/octet-stream"})
    assert (status, body) == (200, b"\x00\x01")
    [event] = handler.events
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw


def test_a_plain_answer_is_json_with_200_and_an_error_is_502() -> None:
    with LocalFunctionUrl(Recorder({"hello": "world"})) as url:
        status, headers, body = request(url.url, b"{}", {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (200, {"hello": "world"})
    assert headers["content-type"] == "application/json"
    with LocalFunctionUrl(Recorder(error=RuntimeError("boom"))) as url:
        assert request(url.url, b"{}", {"Content-Type": "application/json"})[0] == 502


def test_a_request_over_6_mb_is_refused_before_the_handler_runs() -> None:
    handler = Recorder({"statusCode": 200})
    with LocalFunctionUrl(handler) as url:
        try:
            status = request(url.url, b"x" * (MAX_REQUEST_BYTES + 1), {"Content-Type": "text/plain"})[0]
        except (ConnectionError, urllib.error.URLError):
            status = 413  # the server may close before the client has sent everything
    assert status == 413 and handler.events == []


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json; charset=utf-8", True),
        ("text/plain", True),
        ("application/vnd.api+json", True),
        ("application/x-www-form-urlencoded", True),
        ("application/octet-stream", False),
        ("", False),
    ],
)
def test_is_text(content_type: str, text: bool) -> None:
    assert is_text(content_type) is text
