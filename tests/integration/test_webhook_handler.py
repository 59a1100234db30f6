"""The webhook Lambda handler on moto, invoked with Function URL events: rings, and refuses to start
without a token."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from functions.webhook import app
from shotgun_events.webhook import WebhookFunction, sign
from tests.dispatch.support import LogLines
from tests.helpers import LambdaContextStub

TOKEN = "fpt-webhook-token-5d41402abc4b2a76"
SECRET_ID = "shotgun-events/webhook"


@pytest.fixture
def queue_url(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(app, "webhook", WebhookFunction())  # a cold start inside this test's moto
    url = boto3.client("sqs").create_queue(QueueName="doorbell")["QueueUrl"]
    boto3.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=json.dumps({"token": TOKEN}))
    monkeypatch.setenv("WEBHOOK_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("DOORBELL_QUEUE_URL", url)
    return url


def function_url_event(body: bytes, headers: dict[str, str], base64_body: bool = False) -> dict[str, Any]:
    """What a Function URL sends: payload format 2.0, header names in lower case."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()} | {"content-type": "application/json"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc123",
            "domainName": "abc123.lambda-url.us-east-1.on.aws",
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "requestId": "r-1",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": 1_700_000_000_000,
        },
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


def delivery(event_id: int) -> bytes:
    data = {"event_log_entry_id": event_id, "event_type": "Shotgun_Shot_Change", "meta": {"new_value": "x"}}
    return json.dumps({"data": data, "timestamp": "2022-02-01T20:53:09Z"}).encode()


def invoke(body: bytes, signature: str | None, base64_body: bool = False) -> dict[str, Any]:
    headers = {"X-SG-SIGNATURE": signature} if signature is not None else {}
    return app.lambda_handler(function_url_event(body, headers, base64_body), LambdaContextStub(5))


def rings(queue_url: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_signed_delivery_rings_the_doorbell(queue_url: str) -> None:
    body = delivery(545175)
    answer = invoke(body, sign(body, TOKEN), base64_body=True)
    assert answer["statusCode"] == 200 and json.loads(answer["body"]) == {"rang": 545175}
    assert answer["headers"] == {"content-type": "application/json"}
    assert rings(queue_url) == [{"event_id": 545175, "events": 1}]


def test_wrong_signature_rings_nothing(queue_url: str, json_logs: LogLines) -> None:
    body = delivery(1)
    assert invoke(body, sign(body, "guess"))["statusCode"] == 401
    assert invoke(body, None)["statusCode"] == 401
    assert rings(queue_url) == []
    assert TOKEN not in json_logs.text


def test_the_body_is_never_logged_even_when_events_logging_is_switched_on(
    queue_url: str, json_logs: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    body = delivery(2).replace(b'"x"', b'"confidential-note-text"')
    invoke(body, sign(body, TOKEN))
    invoke(body, "sha1=0000")
    assert "confidential-note-text" not in json_logs.text


@pytest.mark.parametrize(
    ("setup", "complaint"),
    [
        ("no secret id", "WEBHOOK_SECRET_ID is not set"),
        ("no queue", "DOORBELL_QUEUE_URL is not set"),
        ("missing secret", "secret 'shotgun-events/nope' could not be read"),
        ("plain text secret", "is not a JSON object"),
        ("no token", "has no token string"),
        ("empty token", "has no token string"),
    ],
)
def test_without_a_token_every_request_is_refused_with_one_clear_line(
    queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
    json_logs: LogLines,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    complaint: str,
) -> None:
    secrets = boto3.client("secretsmanager")
    if setup == "no secret id":
        monkeypatch.delenv("WEBHOOK_SECRET_ID")
    elif setup == "no queue":
        monkeypatch.delenv("DOORBELL_QUEUE_URL")
    elif setup == "missing secret":
        monkeypatch.setenv("WEBHOOK_SECRET_ID", "shotgun-events/nope")
    else:
        value = {"plain text secret": TOKEN, "no token": "{}", "empty token": '{"token": " "}'}[setup]
        secrets.put_secret_value(SecretId=SECRET_ID, SecretString=value)
    body = delivery(3)
    answers = [invoke(body, sign(body, TOKEN)) for _ in range(2)]
    assert [a["statusCode"] for a in answers] == [500, 500]
    errors = json_logs.at("ERROR")
    assert len(errors) == 2 and all(complaint in e["message"] for e in errors)  # one line per request
    assert "webhook cannot start" in errors[0]["message"]
    assert capsys.readouterr().out.count('"WebhookSetupFailures":[1.0]') == 2
    assert rings(queue_url) == []
    assert TOKEN not in json_logs.text


def test_a_secret_fixed_later_is_picked_up_without_a_redeploy(
    queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET_ID", "shotgun-events/later")
    body = delivery(4)
    assert invoke(body, sign(body, TOKEN))["statusCode"] == 500
    boto3.client("secretsmanager").create_secret(
        Name="shotgun-events/later", SecretString=json.dumps({"token": TOKEN})
    )
    assert invoke(body, sign(body, TOKEN))["statusCode"] == 200
    assert rings(queue_url) == [{"event_id": 4, "events": 1}]


def test_doorbell_queue_missing_answers_503(queue_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORBELL_QUEUE_URL", queue_url.replace("doorbell", "gone"))
    body = delivery(5)
    assert invoke(body, sign(body, TOKEN))["statusCode"] == 503
