"""The stack itself, end to end: template.yaml translated offline and created in moto, the skipped
resource types added from the same template data, then the real poller handler and two dispatch
handlers run with the environment the stack gives them, against the stack's own resources and the
FPT emulator."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from fpt_emulator import FptEmulator
from functions.poller import app as poller_app
from shotgun_events.dispatch import DispatchFunction
from shotgun_events.plugins import RecordedMetrics
from shotgun_events_tools.stack.embedded import EmbeddedStack, create_stack
from tests.dispatch.support import LambdaSqsDriver
from tests.helpers import LambdaContextStub
from tests.infrastructure.conftest import TEMPLATE

pytestmark = pytest.mark.usefixtures("aws", "clean_environ")

SCRIPTS = {
    "poller": ("shotgun_events_poller", "poller-key-0001"),
    "init_entity": ("init_entity", "init-entity-key-0001"),
    "create_shot_directories": ("shot_dirs", "shot-dirs-key-0001"),
}


def queue_depth(stack: EmbeddedStack, queue_url: str) -> int:
    """Messages waiting in a queue, counted without receiving them (a receive counts towards the DLQ)."""
    attributes = stack.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def received_ids(driver: LambdaSqsDriver) -> list[int]:
    return [json.loads(r["body"])["id"] for i in driver.invocations for r in i["event"]["Records"]]


def dead_letter_ids(stack: EmbeddedStack, queue_url: str) -> list[int]:
    messages = (
        stack.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    )
    return sorted(json.loads(m["Body"])["id"] for m in messages)


@pytest.fixture
def stack(fpt_emulator: FptEmulator) -> EmbeddedStack:
    for name, key in SCRIPTS.values():
        fpt_emulator.add_script(name, key)
    stack = create_stack(TEMPLATE, "studio", {"ShotgunUrl": fpt_emulator.url, "MaxReceiveCount": "2"})
    # The secrets, as README's `aws secretsmanager create-secret` commands make them.
    secrets = boto3.client("secretsmanager")
    name, key = SCRIPTS["poller"]
    secrets.create_secret(
        Name="shotgun-events/poller", SecretString=json.dumps({"script_name": name, "api_key": key})
    )
    name, key = SCRIPTS["init_entity"]
    secrets.create_secret(
        Name="shotgun-events/plugins/init_entity",
        SecretString=json.dumps({"SGDAEMON_INITENTITY_NAME": name, "SGDAEMON_INITENTITY_KEY": key}),
    )
    name, key = SCRIPTS["create_shot_directories"]
    # No SHOT_DIRECTORIES_ROOT: this plugin raises on every Shot, as it would when misconfigured.
    secrets.create_secret(
        Name="shotgun-events/plugins/create_shot_directories",
        SecretString=json.dumps({"SGDAEMON_SHOTDIRS_NAME": name, "SGDAEMON_SHOTDIRS_KEY": key}),
    )
    return stack


def run_poller(stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name, value in stack.environment("PollerFunction").items():
        monkeypatch.setenv(name, value)
    poller_app._adapters.cache_clear()
    return poller_app.lambda_handler({}, LambdaContextStub(seconds=1))  # one pass


def dispatcher(stack: EmbeddedStack, plugin: str) -> LambdaSqsDriver:
    outputs = stack.outputs.plugin(plugin)
    environ = stack.environment(stack.function_logical_id(outputs.function_name))
    handler = DispatchFunction(environ=environ, metrics=RecordedMetrics())
    return LambdaSqsDriver(stack.client("sqs"), outputs.queue_url, handler)


def test_an_event_reaches_matching_plugins_only_and_a_failing_plugin_parks_it_alone(
    stack: EmbeddedStack, fpt_emulator: FptEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_poller(stack, monkeypatch)["published"] == 0  # first start: after the newest event
    artist = fpt_emulator.connect(timeout=5)
    shot = artist.create("Shot", {"code": "SH_STACK_010", "project": {"type": "Project", "id": 1}})
    created = [
        e
        for e in fpt_emulator.site.events(0)
        if e["event_type"] == "Shotgun_Shot_New" and e["entity"]["id"] == shot["id"]
    ]
    assert len(created) == 1
    new_event = created[0]["id"]

    assert run_poller(stack, monkeypatch)["published"] >= 1
    plugins = stack.outputs.plugins
    # The filter policies route by event type: both Shot_New plugins have it, the Task plugin has nothing.
    assert queue_depth(stack, plugins["init_entity"].queue_url) == 1
    assert queue_depth(stack, plugins["create_shot_directories"].queue_url) == 1
    assert queue_depth(stack, plugins["layout_final_animation_ready"].queue_url) == 0

    working = dispatcher(stack, "init_entity")
    working.run()
    assert received_ids(working) == [new_event]
    assert artist.find_one("Shot", [["id", "is", shot["id"]]], ["sg_cut_in"])["sg_cut_in"] == 1001
    assert len(fpt_emulator.writes_by(SCRIPTS["init_entity"][0])) == 1

    failing = dispatcher(stack, "create_shot_directories")
    failing.run()
    assert len(failing.invocations) == 2  # MaxReceiveCount deliveries, then SQS moves it
    assert all(i["response"]["batchItemFailures"] for i in failing.invocations)
    assert received_ids(failing) == [new_event, new_event]
    assert dead_letter_ids(stack, plugins["create_shot_directories"].dead_letter_queue_url) == [new_event]
    # The other plugin is untouched: nothing parked, its effect done once.
    assert queue_depth(stack, plugins["init_entity"].dead_letter_queue_url) == 0
    assert queue_depth(stack, plugins["init_entity"].queue_url) == 0
    assert len(fpt_emulator.writes_by(SCRIPTS["init_entity"][0])) == 1


def test_the_skipped_resource_types_exist_as_the_template_defines_them(stack: EmbeddedStack) -> None:
    alarms = boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert len(alarms) == 5 + 2 * len(stack.outputs.plugins)
    assert all(a["AlarmActions"] == [stack.outputs.alarm_topic_arn] == a["OKActions"] for a in alarms)
    sqs = boto3.client("sqs")
    for plugin in stack.outputs.plugins.values():
        policy = json.loads(
            sqs.get_queue_attributes(QueueUrl=plugin.queue_url, AttributeNames=["Policy"])["Attributes"][
                "Policy"
            ]
        )
        assert (
            policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
            == stack.outputs.events_topic_arn
        )
    (schedule,) = boto3.client("scheduler").list_schedules()["Schedules"]
    assert schedule["Target"]["Arn"].endswith(stack.outputs.poller_function)
    mappings = boto3.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert len(mappings) == len(stack.outputs.plugins)
    assert {m["FunctionResponseTypes"][0] for m in mappings} == {"ReportBatchItemFailures"}


def test_the_doorbell_stack_wires_webhook_to_poller(
    fpt_emulator: FptEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.webhook import app as webhook_app
    from shotgun_events.webhook import WebhookFunction, sign
    from tests.integration.test_webhook_handler import delivery, function_url_event

    stack = create_stack(TEMPLATE, "bell", {"ShotgunUrl": fpt_emulator.url, "EnableDoorbell": "true"})
    webhook_env = stack.environment("WebhookFunction")
    poller_env = stack.environment("PollerFunction")
    queue_url = stack.physical["DoorbellQueue"]
    assert poller_env["DOORBELL_QUEUE_URL"] == webhook_env["DOORBELL_QUEUE_URL"] == queue_url
    # The stack generated the token; the operator reads it from the secret the output names.
    token = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=webhook_env["WEBHOOK_SECRET_ID"])[
            "SecretString"
        ]
    )["token"]
    assert len(token) >= 32 and stack.extra_outputs["WebhookUrl"].startswith("http")
    for name, value in webhook_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(webhook_app, "webhook", WebhookFunction())
    body = delivery(4242)
    signed = webhook_app.lambda_handler(
        function_url_event(body, {"X-SG-SIGNATURE": sign(body, token)}), LambdaContextStub(5)
    )
    forged = webhook_app.lambda_handler(
        function_url_event(body, {"X-SG-SIGNATURE": sign(body, "nope")}), LambdaContextStub(5)
    )
    assert (signed["statusCode"], forged["statusCode"]) == (200, 401)
    rings = (
        boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    )
    assert [json.loads(m["Body"])["event_id"] for m in rings] == [4242]
