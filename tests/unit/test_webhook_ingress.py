"""The webhook ingress: only a delivery signed with the token rings, and a rejection does nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from shotgun_events.webhook import Ingress, WebhookRequest, is_signed, parse_delivery, sign
from shotgun_events.webhook.delivery import MalformedDelivery
from shotgun_events.webhook.function_url import function_url_response, request_from_function_url
from shotgun_events.webhook.ingress import MAX_BODY_BYTES
from tests.dispatch.support import LogLines
from tests.helpers import EVENTS_DIR

TOKEN = "wh-token-0123456789"
MARKER = "body-text-that-must-never-be-logged"


class Bell:
    """A `Ringer` that records its rings, or fails."""

    def __init__(self, error: Exception | None = None):
        self.rings: list[tuple[int, int]] = []
        self.error = error

    def ring(self, event_id: int, events: int = 1) -> None:
        if self.error:
            raise self.error
        self.rings.append((event_id, events))


def delivery(event_id: int = 4242, **data: Any) -> bytes:
    body = {
        "data": {
            "id": "119.110.0",
            "event_log_entry_id": event_id,
            "event_type": "Shotgun_Shot_Change",
            "operation": "update",
            "entity": {"type": "Shot", "id": 7},
            "meta": {"type": "attribute_change", "new_value": MARKER},
            "created_at": "2022-02-01 20:53:08.523887",
            **data,
        },
        "timestamp": "2022-02-01T20:53:09Z",
    }
    return json.dumps(body).encode()


def batched(*event_ids: Any) -> bytes:
    deliveries = [{"event_log_entry_id": i, "meta": {"new_value": MARKER}} for i in event_ids]
    return json.dumps({"timestamp": "2022-02-01T20:53:09.140Z", "data": {"deliveries": deliveries}}).encode()


def post(body: bytes, signature: str | None = None, **headers: str) -> WebhookRequest:
    found = {k.lower(): v for k, v in headers.items()}
    if signature is not None:
        found["x-sg-signature"] = signature
    return WebhookRequest("POST", found, body, source_ip="203.0.113.9")


def emf(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def rejections(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [m["reason"] for m in emf(capsys) if "WebhookRejected" in m]


# --- signatures ---------------------------------------------------------------------------------------


def test_signature_is_sha1_hmac_of_the_raw_body() -> None:
    body = delivery()
    expected = hmac.new(TOKEN.encode(), body, hashlib.sha1).hexdigest()
    assert sign(body, TOKEN) == f"sha1={expected}"
    assert is_signed(body, f"sha1={expected}", TOKEN)
    assert is_signed(body, f"SHA1={expected.upper()}", TOKEN)  # hex and prefix in another case
    assert not is_signed(body, expected, TOKEN)  # no algorithm prefix
    assert not is_signed(body, f"sha256={expected}", TOKEN)
    assert not is_signed(body, "sha1=", TOKEN)
    assert not is_signed(body, "sha1=é" + expected[2:], TOKEN)  # not ASCII: no match, no error


def test_an_empty_token_is_refused_rather_than_accepting_anyone() -> None:
    with pytest.raises(ValueError, match="empty"):
        is_signed(b"{}", sign(b"{}", ""), "")
    with pytest.raises(ValueError, match="empty"):
        Ingress("", Bell())


def test_valid_delivery_rings_once_with_its_event_id(json_logs: LogLines) -> None:
    bell = Bell()
    body = delivery(4242)
    response = Ingress(TOKEN, bell).handle(post(body, sign(body, TOKEN), **{"x-sg-delivery-id": "d-1"}))
    assert (response.status, response.body) == (200, {"rang": 4242})
    assert bell.rings == [(4242, 1)]
    [line] = json_logs.at("INFO")
    assert line["message"] == "doorbell rung" and line["event_id"] == 4242 and line["delivery_id"] == "d-1"
    assert MARKER not in json_logs.text


@pytest.mark.parametrize(
    ("name", "reason", "status"),
    [
        ("missing", "unsigned", 401),
        ("empty", "unsigned", 401),
        ("wrong token", "signature", 401),
        ("body altered by one byte", "signature", 401),
        ("signature of another body", "signature", 401),
    ],
)
def test_unsigned_or_wrongly_signed_requests_do_nothing_but_count(
    name: str, reason: str, status: int, json_logs: LogLines, capsys: pytest.CaptureFixture[str]
) -> None:
    body = delivery()
    signature, sent = {
        "missing": (None, body),
        "empty": ("", body),
        "wrong token": (sign(body, "not-the-token"), body),
        "body altered by one byte": (sign(body, TOKEN), body.replace(b"4242", b"4243")),
        "signature of another body": (sign(delivery(1), TOKEN), body),
    }[name]
    bell = Bell()
    response = Ingress(TOKEN, bell).handle(post(sent, signature))
    assert response.status == status and bell.rings == []
    [metric] = [m for m in emf(capsys) if "WebhookRejected" in m]
    assert metric["reason"] == reason and metric["WebhookRejected"] == [1.0]
    # Per stack (one per site) like every other metric: the alarm's dimensions.
    assert metric["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "reason"]]
    [line] = json_logs.at("WARNING")
    assert line["reason"] == reason and line["source_ip"] == "203.0.113.9"
    assert MARKER not in json_logs.text and TOKEN not in json_logs.text


def test_header_name_in_another_case_is_found_through_the_function_url_event() -> None:
    body = delivery(77)
    event = {
        "headers": {"X-Sg-Signature": sign(body, TOKEN).upper().replace("SHA1=", "sha1=")},
        "body": body.decode(),
        "isBase64Encoded": False,
        "requestContext": {"http": {"method": "POST", "sourceIp": "203.0.113.9"}},
    }
    from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent

    bell = Bell()
    response = Ingress(TOKEN, bell).handle(request_from_function_url(LambdaFunctionUrlEvent(event)))
    assert response.status == 200 and bell.rings == [(77, 1)]


def test_base64_body_is_verified_on_the_bytes_fpt_sent() -> None:
    from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent

    body = delivery(78, meta={"new_value": "caf\u00e9 \u2603"})  # JSON escapes; raw UTF-8 below
    body = body.replace(b"\\u00e9", "\u00e9".encode()).replace(b"\\u2603", "\u2603".encode())
    event = {
        "headers": {"x-sg-signature": sign(body, TOKEN)},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
        "requestContext": {"http": {"method": "POST", "sourceIp": "203.0.113.9"}},
    }
    bell = Bell()
    response = Ingress(TOKEN, bell).handle(request_from_function_url(LambdaFunctionUrlEvent(event)))
    assert response.status == 200 and bell.rings == [(78, 1)]
    answer = function_url_response(response)
    assert answer["statusCode"] == 200 and json.loads(answer["body"]) == {"rang": 78}


def test_a_replayed_valid_body_rings_again_which_is_harmless() -> None:
    # Decided: no replay window. A ring only wakes the poller, and a ring for an event already
    # read ends no wait (tests/unit/test_poller_doorbell.py), so a replay costs nothing.
    bell = Bell()
    body = delivery(5)
    ingress = Ingress(TOKEN, bell)
    assert [ingress.handle(post(body, sign(body, TOKEN))).status for _ in range(3)] == [200, 200, 200]
    assert bell.rings == [(5, 1)] * 3


def test_oversize_body_is_refused_before_it_is_hashed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_hashing(*args: Any) -> bool:
        raise AssertionError("an oversize body was hashed")

    monkeypatch.setattr("shotgun_events.webhook.ingress.is_signed", no_hashing)
    body = b" " * (MAX_BODY_BYTES + 1)
    bell = Bell()
    assert Ingress(TOKEN, bell).handle(post(body, "sha1=00")).status == 413
    assert bell.rings == [] and rejections(capsys) == ["oversize"]


def test_only_post_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    body = delivery()
    request = WebhookRequest("GET", {"x-sg-signature": sign(body, TOKEN)}, body)
    assert Ingress(TOKEN, Bell()).handle(request).status == 405
    assert rejections(capsys) == ["method"]


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "no data object"),
        (b'{"data": "x"}', "no data object"),
        (delivery(None), "no event_log_entry_id"),
        (delivery("4242"), "no event_log_entry_id"),
        (delivery(True), "no event_log_entry_id"),
        (delivery(0), "no event_log_entry_id"),
        (batched(), "not a non-empty list"),
        (b'{"data": {"deliveries": {}}}', "not a non-empty list"),
        (batched("x", None), "no delivery in data.deliveries"),
    ],
)
def test_signed_but_malformed_delivery_is_400_and_named(
    body: bytes, complaint: str, json_logs: LogLines, capsys: pytest.CaptureFixture[str]
) -> None:
    bell = Bell()
    response = Ingress(TOKEN, bell).handle(post(body, sign(body, TOKEN)))
    assert response.status == 400 and complaint in response.body["error"] and bell.rings == []
    assert rejections(capsys) == ["malformed"]
    assert MARKER not in json_logs.text


def test_batched_delivery_rings_once_with_the_highest_id() -> None:
    body = batched(480850, 480853, 480851)
    bell = Bell()
    assert Ingress(TOKEN, bell).handle(post(body, sign(body, TOKEN))).status == 200
    assert bell.rings == [(480853, 3)]


def test_batched_delivery_with_some_ids_missing_still_rings_for_the_others(json_logs: LogLines) -> None:
    assert parse_delivery(batched(10, "x", 12)).highest_id == 12
    [line] = json_logs.at("WARNING")
    assert line["count"] == 1 and line["event_id"] == 12


@pytest.mark.parametrize(
    ("name", "highest", "events"), [("webhook_delivery", 731204, 1), ("webhook_batched_delivery", 731207, 2)]
)
def test_fpt_delivery_formats(name: str, highest: int, events: int) -> None:
    body = (EVENTS_DIR / f"{name}.json").read_bytes()  # FPT's two formats, as a site sends them
    found = parse_delivery(body)
    assert (found.highest_id, found.events) == (highest, events)
    bell = Bell()
    assert Ingress(TOKEN, bell).handle(post(body, sign(body, TOKEN))).status == 200
    assert bell.rings == [(highest, events)]


def test_an_empty_body_is_malformed() -> None:
    with pytest.raises(MalformedDelivery):
        parse_delivery(b"")


def test_doorbell_failure_answers_503_and_is_logged(
    json_logs: LogLines, capsys: pytest.CaptureFixture[str]
) -> None:
    body = delivery(9)
    response = Ingress(TOKEN, Bell(ConnectionError("queue unreachable"))).handle(
        post(body, sign(body, TOKEN))
    )
    assert response.status == 503
    [line] = json_logs.at("ERROR")
    assert "doorbell not rung: queue unreachable" in line["message"] and line["event_id"] == 9
    assert [m for m in emf(capsys) if "DoorbellRingFailures" in m]


def test_response_body_is_short_for_fpt_delivery_log() -> None:
    body = delivery(123456789)
    response = Ingress(TOKEN, Bell()).handle(post(body, sign(body, TOKEN)))
    assert len(response.text()) <= 100
    assert len(Ingress(TOKEN, Bell()).handle(post(batched(), sign(batched(), TOKEN))).text()) <= 100
