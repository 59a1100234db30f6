"""The poller against the FPT emulator through the real shotgun_api3 client, AWS on moto."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from fpt_emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator
from functions.poller import app
from shotgun_events.config import PollerConfig
from shotgun_events.event_log import FptEventLog
from shotgun_events.fpt import FptError, RetryPolicy
from shotgun_events.poller import PollerDeps, initialise, poll
from tests.aws import Pipeline, create_pipeline, delivered_ids, drain
from tests.fakes import CollectingPublisher, InMemoryStateStore
from tests.helpers import LambdaContextStub

PROJECT = {"type": "Project", "id": 1}


@pytest.fixture
def deployed(aws: None, fpt_emulator: FptEmulator, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """The poller's AWS resources on moto and its env pointing at the emulator."""
    app._adapters.cache_clear()
    pipeline = create_pipeline()
    boto3.client("secretsmanager").create_secret(
        Name="fpt/poller",
        SecretString=json.dumps({"script_name": DEFAULT_SCRIPT_NAME, "api_key": DEFAULT_SCRIPT_KEY}),
    )
    for name, value in {
        "SHOTGUN_URL": fpt_emulator.url,
        "SHOTGUN_SECRET_ID": "fpt/poller",
        "STATE_TABLE": pipeline.table,
        "EVENTS_TOPIC_ARN": pipeline.topic_arn,
        "POLL_INTERVAL_SECONDS": "0.1",
        "SAFETY_MARGIN_SECONDS": "0.2",
        "BACKLOG_TIMEOUT_SECONDS": "2",
        "SHOTGUN_TIMEOUT_SECONDS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    return pipeline


def invoke(seconds: float = 0.5) -> dict[str, Any]:
    return app.lambda_handler({}, LambdaContextStub(seconds))


def test_handler_first_start_then_publishes_new_events_with_the_contract(
    deployed: Pipeline, fpt_emulator: FptEmulator, sg: Any
) -> None:
    sg.create("Shot", {"code": "SH_OLD", "project": PROJECT})
    invoke()  # first start: after the newest event, nothing published
    assert drain(deployed.sqs, deployed.queue_url) == []
    shot = sg.create("Shot", {"code": "SH010", "project": PROJECT})
    sg.update("Shot", shot["id"], {"sg_status_list": "ip"})
    result = invoke()
    messages = drain(deployed.sqs, deployed.queue_url)
    assert result["published"] == len(messages) > 0
    change = next(m for m in messages if json.loads(m["Body"])["meta"].get("new_value") == "ip")
    body = json.loads(change["Body"])
    assert body["event_type"] == "Shotgun_Shot_Change" and body["entity"]["id"] == shot["id"]
    assert body["created_at"].endswith("Z") and body["type"] == "EventLogEntry"
    assert change["Attributes"]["MessageGroupId"] == f"Shot:{shot['id']}"
    attributes = {k: v["StringValue"] for k, v in change["MessageAttributes"].items()}
    assert attributes == {
        "event_type": "Shotgun_Shot_Change",
        "entity_type": "Shot",
        "attribute_name": "sg_status_list",
        "project_id": "1",
    }
    ids = delivered_ids(messages)
    assert ids == sorted(ids)


def test_gap_that_fills_is_published_once_and_rolled_back_id_is_given_up(
    deployed: Pipeline, fpt_emulator: FptEmulator, sg: Any
) -> None:
    shot = sg.create("Shot", {"code": "SH020", "project": PROJECT})
    other = sg.create("Shot", {"code": "SH030", "project": PROJECT})
    invoke()
    with fpt_emulator.transaction(commit_after=0.8) as late:
        late.update("Shot", shot["id"], {"sg_status_list": "hld"})
    with fpt_emulator.transaction(rollback=True) as dead:
        dead.update("Shot", other["id"], {"description": "never"})
    sg.update("Shot", other["id"], {"sg_status_list": "ip"})
    first = invoke()
    assert fpt_emulator.wait_for_commits(5)
    second = invoke()
    time.sleep(2.1)  # past BACKLOG_TIMEOUT_SECONDS
    third = invoke()
    ids = delivered_ids(drain(deployed.sqs, deployed.queue_url))
    assert len(ids) == len(set(ids)) == first["published"] + second["published"]
    assert late.event_ids[0] in ids and ids.index(late.event_ids[0]) == len(ids) - 1
    assert not set(dead.event_ids) & set(ids)
    assert third["given_up"] == len(dead.event_ids)


@pytest.mark.parametrize("kind", ["503", "hang", "drop"])
def test_fpt_faults_mid_paging_are_retried_and_nothing_is_lost(fpt_emulator: FptEmulator, kind: str) -> None:
    first, last = fpt_emulator.preload_events(1_234)
    sg = fpt_emulator.connect(timeout=1.0)
    fpt_emulator.faults.set(hang_seconds=3.0)
    fpt_emulator.faults.fail_next(2, kind, method="read", after=3)
    collected = CollectingPublisher()
    store = InMemoryStateStore()
    initialise(store, first - 1)
    deps = PollerDeps(FptEventLog(sg, RetryPolicy(base_delay=0.05)), store, collected)
    config = PollerConfig(fpt_emulator.url, "s", "t", "a", page_size=100, safety_margin=0.0)
    deadline = time.monotonic() + 30
    while (stored := store.load()) is None or stored.state.cursor < last:
        poll(deps, config, lambda: 0.0)
        assert time.monotonic() < deadline
    assert collected.ids == list(range(first, last + 1))


def test_authentication_failure_is_named_and_state_untouched(
    deployed: Pipeline, fpt_emulator: FptEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    invoke()
    before = deployed.dynamodb.scan(TableName=deployed.table)["Items"]
    fpt_emulator.faults.fail_auth(DEFAULT_SCRIPT_NAME)
    with pytest.raises(FptError) as raised:
        invoke()
    assert raised.value.kind == "auth"
    errors = [r.getMessage() for r in caplog.records if r.name == "shotgun-events" and r.levelname == "ERROR"]
    assert len(errors) == 1 and "(auth)" in errors[0]
    assert DEFAULT_SCRIPT_KEY not in caplog.text
    assert deployed.dynamodb.scan(TableName=deployed.table)["Items"] == before


def test_a_hanging_site_ends_in_one_clear_error_before_the_lambda_deadline(
    deployed: Pipeline,
    fpt_emulator: FptEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SHOTGUN_TIMEOUT_SECONDS", "1")
    fpt_emulator.faults.set(hang_rate=1.0, hang_seconds=10.0)
    started = time.monotonic()
    with pytest.raises(FptError) as raised:
        invoke(seconds=3.5)
    assert time.monotonic() - started < 3.5  # never killed by the Lambda timeout mid-call
    assert raised.value.kind == "timeout"
    errors = [r.getMessage() for r in caplog.records if r.name == "shotgun-events" and r.levelname == "ERROR"]
    assert len(errors) == 1 and "(timeout)" in errors[0]
    fpt_emulator.faults.reset()
