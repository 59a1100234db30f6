"""The poller Lambda handler end to end on moto: bad config and secrets fail with one clear line."""

from __future__ import annotations

import json

import boto3
import pytest

from functions.poller import app
from shotgun_events.config import ConfigError
from shotgun_events.fpt import FptError
from shotgun_events_tools.ports import free_port
from tests.aws import Pipeline, create_pipeline
from tests.helpers import LambdaContextStub


@pytest.fixture
def env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    app._adapters.cache_clear()  # a new "cold start" inside this test's moto
    pipeline = create_pipeline()
    boto3.client("secretsmanager").create_secret(
        Name="fpt/poller", SecretString=json.dumps({"script_name": "shotgun_events", "api_key": "s3cr3t-key"})
    )
    for name, value in {
        "SHOTGUN_URL": f"http://127.0.0.1:{free_port()}",
        "SHOTGUN_SECRET_ID": "fpt/poller",
        "STATE_TABLE": pipeline.table,
        "EVENTS_TOPIC_ARN": pipeline.topic_arn,
        "SHOTGUN_TIMEOUT_SECONDS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    return pipeline


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Our service's error lines (Powertools' JSON logger also propagates to pytest's capture)."""
    return [r.getMessage() for r in caplog.records if r.name == "shotgun-events" and r.levelname == "ERROR"]


def test_missing_env_var_is_named(
    env: Pipeline, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("STATE_TABLE")
    with pytest.raises(ConfigError):
        app.lambda_handler({}, LambdaContextStub(5))
    [line] = error_lines(caplog)
    assert "STATE_TABLE is not set" in line


def test_missing_secret_is_named_and_state_untouched(
    env: Pipeline, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SHOTGUN_SECRET_ID", "fpt/nope")
    with pytest.raises(ConfigError):
        app.lambda_handler({}, LambdaContextStub(5))
    [line] = error_lines(caplog)
    assert "secret 'fpt/nope' could not be read" in line
    assert (
        "Item" not in env.dynamodb.scan(TableName=env.table)
        or env.dynamodb.scan(TableName=env.table)["Count"] == 0
    )


@pytest.mark.parametrize(
    ("secret", "complaint"),
    [("not json at all", "is not a JSON object"), (json.dumps({"script_name": "x"}), "has no api_key")],
)
def test_malformed_secret_is_named_without_its_value(
    env: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    secret: str,
    complaint: str,
) -> None:
    boto3.client("secretsmanager").create_secret(Name="fpt/bad", SecretString=secret)
    monkeypatch.setenv("SHOTGUN_SECRET_ID", "fpt/bad")
    with pytest.raises(ConfigError):
        app.lambda_handler({}, LambdaContextStub(5))
    output = caplog.text
    [line] = error_lines(caplog)
    assert complaint in line
    assert secret not in output


def test_unreachable_site_is_retried_then_named_and_state_untouched(
    env: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(FptError) as raised:
        app.lambda_handler({}, LambdaContextStub(3))
    assert raised.value.kind == "unreachable"
    output = caplog.text
    [line] = error_lines(caplog)
    assert "unreachable" in line
    assert "s3cr3t-key" not in output
    assert env.dynamodb.scan(TableName=env.table)["Count"] == 0
