"""One studio for the operator command tests: template.yaml's stack on moto (in process), the FPT
emulator as its site, the secrets README says to create, and the real poller and dispatch handlers.

Creating the stack takes seconds, so it is made once for this folder; `studio` puts it back to a
clean state before each test (queues empty, no poller state, plugins running, no effect records,
alarms OK), so tests do not depend on each other or on their order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from fpt_emulator import FptEmulator
from functions.poller import app as poller_app
from shotgun_events.dispatch import DispatchFunction
from shotgun_events.plugins import RecordedMetrics
from shotgun_events_tools.cli import main
from shotgun_events_tools.stack.embedded import ACCOUNT, EmbeddedStack, create_stack
from tests.dispatch.support import LambdaSqsDriver
from tests.helpers import LambdaContextStub
from tests.infrastructure.conftest import TEMPLATE

STACK = "studio"
POLLER = ("shotgun_events_poller", "poller-key-0001")
PLUGIN_SECRETS = {
    "init_entity": {"SGDAEMON_INITENTITY_NAME": "init_entity", "SGDAEMON_INITENTITY_KEY": "init-key-0001"},
    # No SHOT_DIRECTORIES_ROOT: this plugin raises on every Shot, as when misconfigured.
    "create_shot_directories": {
        "SGDAEMON_SHOTDIRS_NAME": "shot_dirs",
        "SGDAEMON_SHOTDIRS_KEY": "dirs-key-0001",
    },
    "layout_final_animation_ready": {
        "SGDAEMON_LAYOUTFINAL_NAME": "layout_final",
        "SGDAEMON_LAYOUTFINAL_KEY": "layout-key-0001",
    },
}
PROJECT = {"type": "Project", "id": 1}


@dataclass
class Cli:
    code: int
    out: str
    err: str

    def audit(self) -> list[dict[str, Any]]:
        """The audit lines the command wrote to stderr."""
        lines = [json.loads(line) for line in self.err.splitlines() if line.startswith('{"audit"')]
        return lines


@dataclass
class Studio:
    stack: EmbeddedStack
    emulator: FptEmulator
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    metrics: dict[str, RecordedMetrics] = field(default_factory=dict)

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs")

    def cli(self, *args: str, stack: str | None = STACK) -> Cli:
        """`shotgun-events ARGS --stack studio`, its exit status and output."""
        self.capsys.readouterr()
        code = main([*args, *(["--stack", stack] if stack else [])])
        captured = self.capsys.readouterr()
        return Cli(code, captured.out, captured.err)

    def plugin(self, name: str) -> Any:
        return self.stack.outputs.plugin(name)

    def create_shots(self, *codes: str) -> list[int]:
        """Shots created as an artist would (events written); their Shotgun_Shot_New event ids."""
        artist = self.emulator.connect(timeout=5)
        ids = [artist.create("Shot", {"code": code, "project": PROJECT})["id"] for code in codes]
        return [
            e["id"]
            for e in self.emulator.site.events(0)
            if e["event_type"] == "Shotgun_Shot_New" and e["entity"]["id"] in ids
        ]

    def newest_event(self) -> int:
        return max(e["id"] for e in self.emulator.site.events(0))

    def poll(self) -> dict[str, Any]:
        """One poller run, with the environment the stack gives it."""
        for name, value in self.stack.environment("PollerFunction").items():
            self.monkeypatch.setenv(name, value)
        poller_app._adapters.cache_clear()
        result: dict[str, Any] = poller_app.lambda_handler({}, LambdaContextStub(seconds=1))
        return result

    def dispatcher(self, name: str) -> LambdaSqsDriver:
        """The plugin's dispatch function over its queue, as Lambda's event source mapping runs it."""
        outputs = self.plugin(name)
        environ = self.stack.environment(self.stack.function_logical_id(outputs.function_name))
        self.metrics[name] = RecordedMetrics()
        handler = DispatchFunction(environ=environ, metrics=self.metrics[name])
        return LambdaSqsDriver(self.sqs, outputs.queue_url, handler)

    def depth(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def messages(self, queue_url: str, delete: bool = True) -> list[dict[str, Any]]:
        """Every message of a queue, in delivery order (deleted as read unless `delete` is False)."""
        seen: list[dict[str, Any]] = []
        handles = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                seen.append(message)
                if delete:
                    self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    handles.append(message["ReceiptHandle"])
        for handle in handles:
            self.sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        return seen

    def event_ids(self, queue_url: str, delete: bool = True) -> list[int]:
        return [json.loads(m["Body"])["id"] for m in self.messages(queue_url, delete)]

    def park(self, name: str) -> LambdaSqsDriver:
        """Run the plugin's function until its queue is empty: failing events end in its DLQ."""
        driver = self.dispatcher(name)
        driver.run()
        return driver

    def empty_queues(self) -> None:
        """What the poller delivered to every plugin, dropped (the test is about what comes next)."""
        for plugin in self.stack.outputs.plugins.values():
            empty(plugin.queue_url)

    def mapping(self, name: str) -> dict[str, Any]:
        outputs = self.plugin(name)
        (mapping,) = boto3.client("lambda").list_event_source_mappings(FunctionName=outputs.function_name)[
            "EventSourceMappings"
        ]
        return dict(mapping)


@pytest.fixture(scope="package")
def studio_stack() -> Iterator[tuple[EmbeddedStack, FptEmulator]]:
    from moto import mock_aws

    with FptEmulator(seed=1) as emulator, mock_aws():
        emulator.add_script(*POLLER)
        emulator.preload_events(40)  # some history to start from, replay and read
        for values in PLUGIN_SECRETS.values():
            script = {k.rsplit("_", 1)[1]: v for k, v in values.items()}
            emulator.add_script(script["NAME"], script["KEY"])
        stack = create_stack(TEMPLATE, STACK, {"ShotgunUrl": emulator.url, "MaxReceiveCount": "2"})
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(
            Name="shotgun-events/poller",
            SecretString=json.dumps({"script_name": POLLER[0], "api_key": POLLER[1]}),
        )
        for plugin, values in PLUGIN_SECRETS.items():
            secrets.create_secret(Name=f"shotgun-events/plugins/{plugin}", SecretString=json.dumps(values))
        yield stack, emulator


def empty(queue_url: str) -> None:
    """Drop every message (PurgeQueue is allowed once a minute, in moto as in SQS)."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[ACCOUNT]["us-east-1"].queues[queue_url.rsplit("/", 1)[-1]]
    with queue._messages_lock:
        queue._messages.clear()
        queue._pending_messages.clear()


def reset(stack: EmbeddedStack) -> None:
    """The stack as just deployed: no events anywhere, no poller state, every plugin running."""
    lam = boto3.client("lambda")
    dynamodb, cloudwatch = boto3.client("dynamodb"), boto3.client("cloudwatch")
    for plugin in stack.outputs.plugins.values():
        for url in (plugin.queue_url, plugin.dead_letter_queue_url):
            empty(url)
        for mapping in lam.list_event_source_mappings(FunctionName=plugin.function_name)[
            "EventSourceMappings"
        ]:
            if mapping["State"] != "Enabled":
                lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    for table in (stack.outputs.state_table, stack.outputs.idempotency_table):
        key = "pk" if table == stack.outputs.state_table else "id"
        for item in dynamodb.scan(TableName=table).get("Items", []):
            dynamodb.delete_item(TableName=table, Key={key: item[key]})
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[ACCOUNT]["us-east-1"].metric_data.clear()  # CloudWatch cannot delete data points
    for alarm in cloudwatch.describe_alarms()["MetricAlarms"]:
        if alarm["StateValue"] != "OK":
            cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="OK", StateReason="reset")


@pytest.fixture
def studio(
    studio_stack: tuple[EmbeddedStack, FptEmulator],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    clean_environ: None,
) -> Studio:
    stack, emulator = studio_stack
    reset(stack)
    monkeypatch.delenv("SHOTGUN_EVENTS_AUDIT_LOG", raising=False)
    assert os.environ.get("AWS_DEFAULT_REGION")
    return Studio(stack, emulator, capsys, monkeypatch)
