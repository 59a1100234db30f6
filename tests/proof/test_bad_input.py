"""The bad-input catalogue: one row per malformed input, through the real entry points end to end.

The site is the FPT emulator, AWS is moto: an SNS FIFO topic, a FIFO queue and DLQ per plugin, the
poller's state table and the effect-once table, as the stack makes them. Each row asserts the one
clear message that names what is wrong, and that nothing else was lost or blocked: the other
records of the batch processed, the other plugins unaffected, the cursor never past an event that
was not published, and once the input is fixed everything delivered exactly once.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from fpt_emulator import FptEmulator
from fpt_emulator import events as site_events
from functions.poller import app as poller_app
from shotgun_events.dispatch import DispatchFunction
from shotgun_events.events import encode_event
from shotgun_events.plugins import RecordedMetrics
from shotgun_events.poller import initialise
from shotgun_events.poller.publisher import SnsPublisher
from shotgun_events.poller.state_store import DynamoDBStateStore
from shotgun_events_tools.cli import main as cli
from shotgun_events_tools.local.event_source import SqsEventSource
from tests.aws import create_state_table
from tests.dispatch.support import LambdaSqsDriver, LogLines, create_idempotency_table
from tests.helpers import LambdaContextStub, make_event
from tests.integration.test_webhook_handler import function_url_event

pytestmark = pytest.mark.usefixtures("aws", "clean_environ")

POLLER_SECRET = "shotgun-events/poller"
POLLER_SCRIPT = ("shotgun_events_poller", "poller-key-0001")
RECORDER_SCRIPT = ("recorder", "recorder-key-0001")
POLLER_VARIABLES = (
    "SHOTGUN_URL", "SHOTGUN_SECRET_ID", "STATE_TABLE", "EVENTS_TOPIC_ARN", "POLL_INTERVAL_SECONDS",
    "BACKLOG_TIMEOUT_SECONDS", "PAGE_SIZE", "MAX_BACKLOG", "SHOTGUN_TIMEOUT_SECONDS", "SAFETY_MARGIN_SECONDS",
    "DOORBELL_QUEUE_URL",
)  # fmt: skip

# The healthy plugin: every event it is given, as it was given, one JSON line each.
RECORDER = """
import json
import os

def registerCallbacks(reg):
    reg.registerCallback(os.environ["SGDAEMON_RECORDER_NAME"], os.environ["SGDAEMON_RECORDER_KEY"], record)

def record(sg, logger, event, args):
    with open(os.environ["RECORDER_OUTPUT"], "a") as out:
        out.write(json.dumps({**event, "created_at": repr(event["created_at"])}) + "\\n")
"""


# --- the world: the emulator as the site, moto as the stack -------------------------------------------


@dataclass
class Plugin:
    name: str
    queue_url: str
    dead_letter_url: str
    metrics: RecordedMetrics


@dataclass
class World:
    emulator: FptEmulator
    root: Path
    sns: Any
    sqs: Any
    dynamodb: Any
    secrets: Any
    topic_arn: str
    state_table: str
    idempotency_table: str
    plugins: dict[str, Plugin]

    @property
    def output(self) -> Path:
        return self.root / "recorded.jsonl"

    def recorded(self) -> list[dict[str, Any]]:
        return (
            [json.loads(line) for line in self.output.read_text().splitlines()]
            if self.output.exists()
            else []
        )

    def recorded_ids(self) -> list[int]:
        return [e["id"] for e in self.recorded()]

    # -- the poller --

    def poller_env(self) -> dict[str, str]:
        return {
            "SHOTGUN_URL": self.emulator.url,
            "SHOTGUN_SECRET_ID": POLLER_SECRET,
            "STATE_TABLE": self.state_table,
            "EVENTS_TOPIC_ARN": self.topic_arn,
            "POLL_INTERVAL_SECONDS": "0.1",
            "SAFETY_MARGIN_SECONDS": "0",
            "SHOTGUN_TIMEOUT_SECONDS": "2",
        }

    def store(self) -> DynamoDBStateStore:
        return DynamoDBStateStore(self.state_table, self.emulator.url, self.dynamodb)

    def cursor(self) -> int | None:
        loaded = self.store().load()
        return loaded.state.cursor if loaded else None

    def poll(self, env: dict[str, str | None] | None = None, seconds: float = 0.5) -> dict[str, Any]:
        """One invocation of the real poller handler with the poller's environment (changed by `env`)."""
        for name in POLLER_VARIABLES:
            os.environ.pop(name, None)
        for name, value in {**self.poller_env(), **(env or {})}.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        result: dict[str, Any] = poller_app.lambda_handler({}, LambdaContextStub(seconds))
        return result

    # -- the plugins --

    def dispatch_env(self, plugin: str) -> dict[str, str]:
        return {
            "PLUGIN_NAME": plugin,
            "PLUGIN_PATHS": str(self.root / "plugins"),
            "SHOTGUN_URL": self.emulator.url,
            "PLUGIN_SECRET_ID": f"shotgun-events/plugins/{plugin}",
            "IDEMPOTENCY_TABLE": self.idempotency_table,
            "SHOTGUN_TIMEOUT_SECONDS": "2",
        }

    def function(self, plugin: str, **env: str | None) -> DispatchFunction:
        environ = {k: v for k, v in {**self.dispatch_env(plugin), **env}.items() if v is not None}
        return DispatchFunction(environ=environ, metrics=self.plugins[plugin].metrics)

    def driver(self, plugin: str, function: DispatchFunction | None = None) -> LambdaSqsDriver:
        return LambdaSqsDriver(self.sqs, self.plugins[plugin].queue_url, function or self.function(plugin))

    def queued(self, url: str) -> list[dict[str, Any]]:
        """The messages of a queue, left where they are."""
        messages = []
        while batch := self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=5
        ).get("Messages", []):
            messages.extend(batch)
        for m in messages:
            self.sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )
        return messages

    def parked(self, plugin: str) -> list[str]:
        return [m["Body"] for m in self.queued(self.plugins[plugin].dead_letter_url)]

    def publish(self, *events: dict[str, Any]) -> None:
        SnsPublisher(self.topic_arn, self.sns).publish([encode_event(e) for e in events])

    def add_plugin(self, name: str, source: str, secret: dict[str, Any] | None = None) -> Plugin:
        (self.root / "plugins" / f"{name}.py").write_text(textwrap.dedent(source))
        self.secrets.create_secret(
            Name=f"shotgun-events/plugins/{name}", SecretString=json.dumps(secret or {})
        )
        dlq = self.sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})[
            "QueueUrl"
        ]
        redrive = {"deadLetterTargetArn": self.arn(dlq), "maxReceiveCount": "2"}
        queue = self.sqs.create_queue(
            QueueName=f"{name}.fifo",
            Attributes={"FifoQueue": "true", "VisibilityTimeout": "30", "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=self.arn(queue),
            Attributes={"RawMessageDelivery": "true"},
        )
        self.plugins[name] = Plugin(name, queue, dlq, RecordedMetrics())
        return self.plugins[name]

    def arn(self, queue_url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    # -- the site --

    def site_event(self, **fields: Any) -> int:
        """A committed EventLogEntry row as given (the API would not write odd ones); its id."""
        row = {
            "event_type": "Shotgun_Shot_Change",
            "attribute_name": "sg_status_list",
            "meta": {"type": "attribute_change", "attribute_name": "sg_status_list", "new_value": "ip"},
            "entity": {"type": "Shot", "id": 1000 + len(self.emulator.site.events())},
            "user": {"type": "HumanUser", "id": 1},
            "project": {"type": "Project", "id": 1},
            "session_uuid": None,
            "created_at": "2026-11-27T12:00:00Z",
            "description": "",
            **fields,
        }
        site = self.emulator.site
        with site.lock:
            event_id = site.alloc_event_id()
            site.tables["EventLogEntry"].insert(site_events.row(event_id, **row))
            site.version += 1
        return event_id


@pytest.fixture
def world(fpt_emulator: FptEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    poller_app._adapters.cache_clear()  # a cold start inside this test's moto
    (tmp_path / "plugins").mkdir()
    sns, sqs, dynamodb = boto3.client("sns"), boto3.client("sqs"), boto3.client("dynamodb")
    secrets = boto3.client("secretsmanager")
    topic_arn = sns.create_topic(
        Name="shotgun-events.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"}
    )["TopicArn"]
    world = World(
        fpt_emulator,
        tmp_path,
        sns,
        sqs,
        dynamodb,
        secrets,
        topic_arn,
        create_state_table(dynamodb),
        create_idempotency_table(dynamodb),
        {},
    )
    for script in (POLLER_SCRIPT, RECORDER_SCRIPT):
        fpt_emulator.add_script(*script)
    secrets.create_secret(
        Name=POLLER_SECRET,
        SecretString=json.dumps({"script_name": POLLER_SCRIPT[0], "api_key": POLLER_SCRIPT[1]}),
    )
    recorder_secret = {
        "SGDAEMON_RECORDER_NAME": RECORDER_SCRIPT[0],
        "SGDAEMON_RECORDER_KEY": RECORDER_SCRIPT[1],
    }
    world.add_plugin("recorder", RECORDER, recorder_secret)
    monkeypatch.setenv("RECORDER_OUTPUT", str(world.output))
    yield world
    poller_app._adapters.cache_clear()


def errors(logs: LogLines) -> list[str]:
    return [r["message"] for r in logs.at("ERROR")]


def warnings(logs: LogLines) -> list[str]:
    return [r["message"] for r in logs.at("WARNING")]


# --- events: odd rows on the site, through the poller and a plugin ------------------------------------

EVENTS = [
    pytest.param(
        {"entity": None, "project": None, "user": None, "attribute_name": None, "meta": None},
        None,
        id="event-every-link-null",
    ),
    pytest.param(
        {"meta": {"big": 2**70, "ratio": 0.5, "flags": [True, None], "nested": {"a": [{"b": -1}]}}},
        None,
        id="event-odd-meta-types",
    ),
    pytest.param({"meta": ["not", "a", "dict"]}, None, id="event-meta-not-an-object"),
    pytest.param({"meta": {"new_value": "x" * 300_000}}, None, id="event-meta-too-large-for-sns"),
    pytest.param(
        {"meta": {"new_value": "nul \x00, U+FFFE \ufffe, astral \U0010ffff"}},
        None,
        id="event-text-sqs-refuses",
    ),
    pytest.param(
        {"created_at": "2026-11-27 12:00:04.123456 PST"}, "created_at is not a date", id="event-date-as-text"
    ),
    pytest.param({"created_at": None}, "created_at is not a date", id="event-date-null"),
    pytest.param(
        {"event_type": "Toolkit_App_Startup", "entity": None, "attribute_name": None},
        None,
        id="event-custom-type",
    ),
]


@pytest.mark.parametrize(("odd", "warning"), EVENTS)
def test_an_odd_event_is_published_and_delivered_as_it_is_and_the_others_too(
    world: World, json_logs: LogLines, odd: dict[str, Any], warning: str | None
) -> None:
    initialise(world.store(), world.emulator.site.last_event_id)
    before, odd_id, after = world.site_event(), world.site_event(**odd), world.site_event()
    world.poll()
    assert world.cursor() == after
    world.driver("recorder").run()

    assert world.recorded_ids().count(odd_id) == 1 and sorted(world.recorded_ids()) == [before, odd_id, after]
    given = next(e for e in world.recorded() if e["id"] == odd_id)
    for field, value in odd.items():
        if field != "created_at":
            assert given[field] == value, field  # nothing truncated, retyped or dropped
    if "created_at" in odd:
        assert given["created_at"] == repr(odd["created_at"])  # text stays text, null stays null
    else:
        assert given["created_at"].startswith("datetime.datetime(2026, 11, 27, 12, 0, tzinfo=")
    warnings = [r for r in json_logs.at("WARNING") if warning and warning in r["message"]]
    assert [w["event_id"] for w in warnings] == ([odd_id] if warning else [])
    assert errors(json_logs) == [] and world.parked("recorder") == []


# --- messages: what reaches a plugin's queue that the poller did not write ---------------------------

GOOD = json.loads(encode_event(make_event(5, entity=("Shot", 5))).body)
MESSAGES = [
    pytest.param("{oops", "message body is not JSON", id="message-not-json"),
    pytest.param("   ", "message body is not JSON", id="message-blank"),
    pytest.param("[1, 2]", "event is a list, not an object", id="message-json-array"),
    pytest.param('"just text"', "event is a str, not an object", id="message-json-string"),
    pytest.param(
        json.dumps({"Type": "Notification", "Message": "{oops"}), "not JSON", id="message-envelope-bad"
    ),
    pytest.param(
        json.dumps({"Type": "Notification", "TopicArn": "t"}),
        "no positive integer id",
        id="message-envelope-empty",
    ),
    pytest.param(
        json.dumps({"Records": [{"eventSource": "aws:s3"}]}),
        "no positive integer id",
        id="message-other-service",
    ),
    pytest.param(
        json.dumps({k: v for k, v in GOOD.items() if k != "id"}), "id=None", id="message-missing-id"
    ),
    pytest.param(json.dumps({**GOOD, "id": "5"}), "id='5'", id="message-id-as-text"),
    pytest.param(json.dumps({**GOOD, "id": -5}), "id=-5", id="message-id-negative"),
    pytest.param(json.dumps({**GOOD, "id": True}), "id=True", id="message-id-boolean"),
    pytest.param(
        json.dumps({"type": "EventLogEntryReference", "id": 987654, "created_at": "2026-11-27T12:00:00Z"}),
        "EventLogEntry 987654 (sent as a reference) is not in FPT",
        id="message-reference-to-a-deleted-event",
    ),
]


@pytest.mark.parametrize(("body", "reason"), MESSAGES)
def test_a_malformed_message_is_parked_named_and_its_batch_goes_on(
    world: World, json_logs: LogLines, body: str, reason: str
) -> None:
    url = world.plugins["recorder"].queue_url
    first, second = make_event(1, entity=("Shot", 1)), make_event(2, entity=("Shot", 2))
    world.sqs.send_message(
        QueueUrl=url,
        MessageBody=encode_event(first).body,
        MessageGroupId="Shot:1",
        MessageDeduplicationId="1",
    )
    sent = world.sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId="bad", MessageDeduplicationId="bad"
    )
    world.sqs.send_message(
        QueueUrl=url,
        MessageBody=encode_event(second).body,
        MessageGroupId="Shot:2",
        MessageDeduplicationId="2",
    )
    world.driver("recorder").run()

    assert world.recorded_ids() == [1, 2]  # the rest of the batch, once each
    assert world.parked("recorder") == [body]  # kept, as sent, for the operator
    named = [m for m in errors(json_logs) if reason in m and sent["MessageId"] in m]
    assert len(named) == 2, errors(json_logs)  # one line per delivery (maxReceiveCount 2)


# --- plugins: broken ones lose their own events to their DLQ only ------------------------------------

CALLBACK = "def cb(sg, logger, event, args):\n    pass\n"
REGISTER = "import os\n\ndef registerCallbacks(reg):\n    reg.registerCallback('broken', 'broken-key', {})\n"
PLUGINS = [
    pytest.param("def registerCallbacks(reg)\n", "failed to import: SyntaxError", id="plugin-syntax-error"),
    pytest.param(
        "raise RuntimeError('no studio config')\n",
        "RuntimeError: no studio config",
        id="plugin-raises-on-import",
    ),
    pytest.param("import studio_toolkit_nowhere\n", "ModuleNotFoundError", id="plugin-missing-module"),
    pytest.param("import sys\nsys.exit(3)\n", "failed to import: SystemExit: 3", id="plugin-exits-on-import"),
    pytest.param(CALLBACK, "has no registerCallbacks(reg) function", id="plugin-no-registerCallbacks"),
    pytest.param(
        "def registerCallbacks(reg):\n    raise KeyError('SGDAEMON_BROKEN_NAME')\n",
        "raised in registerCallbacks: KeyError",
        id="plugin-registerCallbacks-raises",
    ),
    pytest.param(
        REGISTER.format("'not a function'"),
        "raised in registerCallbacks: TypeError",
        id="plugin-callback-not-callable",
    ),
    pytest.param(
        REGISTER.format("cb") + "\ndef cb(sg, event):\n    pass\n",
        "callback cb failed on event 1: TypeError",
        id="plugin-callback-wrong-signature",
    ),
    pytest.param(
        "def registerCallbacks(reg):\n    reg.registerCallback(None, None, cb)\n\n" + CALLBACK,
        "registered without a script name and key",
        id="plugin-callback-without-script-user",
    ),
]


@pytest.mark.parametrize(("source", "reason"), PLUGINS)
def test_a_broken_plugin_parks_its_own_events_and_the_others_run(
    world: World, json_logs: LogLines, source: str, reason: str
) -> None:
    world.add_plugin("broken", source)
    world.publish(make_event(1, entity=("Shot", 1)), make_event(2, entity=("Shot", 2)))
    world.driver("broken").run()
    world.driver("recorder").run()

    assert world.recorded_ids() == [1, 2]
    assert sorted(json.loads(b)["id"] for b in world.parked("broken")) == [1, 2]
    named = [r for r in json_logs.at("ERROR") if reason in r["message"]]
    assert named and all(r.get("plugin") == "broken" or "broken" in r["message"] for r in named), errors(
        json_logs
    )


def test_plugin_callback_hangs_past_the_lambda_deadline_and_its_batch_is_run_again(
    world: World, json_logs: LogLines
) -> None:
    hung = world.root / "hung-once"
    world.add_plugin(
        "slow",
        f"""
        import os, time

        def registerCallbacks(reg):
            reg.registerCallback("recorder", "recorder-key-0001", cb)

        def cb(sg, logger, event, args):
            if event["id"] == 1 and not os.path.exists({str(hung)!r}):
                open({str(hung)!r}, "w").close()
                time.sleep(2.5)  # past the 1 s deadline below
            with open(os.environ["RECORDER_OUTPUT"], "a") as out:
                out.write('{{"id": %d, "created_at": ""}}\\n' % event["id"])
        """,
    )
    world.sqs.set_queue_attributes(
        QueueUrl=world.plugins["slow"].queue_url, Attributes={"VisibilityTimeout": "6"}
    )  # the README's setting, 6x the function timeout: the redelivery comes after the hung one's deadline
    world.publish(make_event(1, entity=("Shot", 1)), make_event(2, entity=("Shot", 2)))
    source = SqsEventSource(
        world.plugins["slow"].queue_url, world.function("slow"), client=world.sqs, function_timeout=1.0
    )
    with source:
        assert source.wait_idle(timeout=60, settle=0.5)

    assert sorted(world.recorded_ids()) == [1, 2]  # both ran, once: the redelivery found them done
    assert any("ran past its 1.0 s timeout; the batch stays in the queue" in m for m in errors(json_logs))
    assert world.parked("slow") == []


# --- configuration: every variable of the three functions --------------------------------------------

POLLER_CONFIG = [
    pytest.param(
        "SHOTGUN_URL", None, "environment variable SHOTGUN_URL is not set", id="poller-SHOTGUN_URL-missing"
    ),
    pytest.param(
        "SHOTGUN_URL",
        "studio.example.com",
        "SHOTGUN_URL='studio.example.com' is not an http(s) URL",
        id="poller-SHOTGUN_URL-not-a-url",
    ),
    pytest.param(
        "SHOTGUN_SECRET_ID", None, "SHOTGUN_SECRET_ID is not set", id="poller-SHOTGUN_SECRET_ID-missing"
    ),
    pytest.param("STATE_TABLE", None, "STATE_TABLE is not set", id="poller-STATE_TABLE-missing"),
    pytest.param("STATE_TABLE", "no-such-table", "no-such-table", id="poller-STATE_TABLE-not-a-table"),
    pytest.param(
        "EVENTS_TOPIC_ARN", None, "EVENTS_TOPIC_ARN is not set", id="poller-EVENTS_TOPIC_ARN-missing"
    ),
    pytest.param(
        "EVENTS_TOPIC_ARN",
        "arn:aws:sns:us-east-1:123456789012:nowhere.fifo",
        "nowhere.fifo",
        id="poller-EVENTS_TOPIC_ARN-not-a-topic",
    ),
    pytest.param(
        "POLL_INTERVAL_SECONDS",
        "soon",
        "POLL_INTERVAL_SECONDS='soon' is not a number",
        id="poller-POLL_INTERVAL-text",
    ),
    pytest.param(
        "BACKLOG_TIMEOUT_SECONDS",
        "7200",
        "BACKLOG_TIMEOUT_SECONDS='7200' must be between",
        id="poller-BACKLOG_TIMEOUT-over-an-hour",
    ),
    pytest.param(
        "PAGE_SIZE",
        "501",
        "PAGE_SIZE=501 exceeds FPT's page limit of 500",
        id="poller-PAGE_SIZE-over-fpt-limit",
    ),
    pytest.param("MAX_BACKLOG", "-1", "MAX_BACKLOG='-1' must be between", id="poller-MAX_BACKLOG-negative"),
    pytest.param(
        "SHOTGUN_TIMEOUT_SECONDS",
        "0",
        "SHOTGUN_TIMEOUT_SECONDS='0' must be between",
        id="poller-SHOTGUN_TIMEOUT-zero",
    ),
    pytest.param(
        "SAFETY_MARGIN_SECONDS",
        "nan",
        "SAFETY_MARGIN_SECONDS='nan' is not a finite number",
        id="poller-SAFETY_MARGIN-nan",
    ),
]


@pytest.mark.parametrize(("name", "value", "message"), POLLER_CONFIG)
def test_a_bad_poller_variable_is_named_publishes_nothing_and_moves_nothing(
    world: World, json_logs: LogLines, name: str, value: str | None, message: str
) -> None:
    initialise(world.store(), world.emulator.site.last_event_id)
    start = world.cursor()
    waiting = [world.site_event(), world.site_event()]
    with pytest.raises(Exception):  # noqa: B017 (the handler re-raises what stopped it, as Lambda records)
        world.poll({name: value})
    (line,) = [m for m in errors(json_logs) if m.startswith("poller stopped: ")]
    assert message in line, errors(json_logs)
    assert world.cursor() == start and world.queued(world.plugins["recorder"].queue_url) == []

    world.poll()  # fixed: everything that waited goes out, once
    world.driver("recorder").run()
    assert world.recorded_ids() == waiting and world.cursor() == waiting[-1]


def test_poller_doorbell_queue_missing_is_counted_and_polling_goes_on(
    world: World, json_logs: LogLines
) -> None:
    initialise(world.store(), world.emulator.site.last_event_id)
    waiting = [world.site_event(), world.site_event()]
    missing = "https://sqs.us-east-1.amazonaws.com/123456789012/no-doorbell"
    world.poll({"DOORBELL_QUEUE_URL": missing, "POLL_INTERVAL_SECONDS": "1"}, seconds=2.5)
    world.driver("recorder").run()
    assert world.recorded_ids() == waiting
    (warning, *_) = [r for r in json_logs.at("WARNING") if "doorbell cannot be read" in r["message"]]
    assert warning["queue_url"] == missing and errors(json_logs) == []


DISPATCH_CONFIG = [
    pytest.param("PLUGIN_NAME", None, "PLUGIN_NAME is not set", id="dispatch-PLUGIN_NAME-missing"),
    pytest.param(
        "PLUGIN_NAME",
        "no_such_plugin",
        "plugin 'no_such_plugin' not found in",
        id="dispatch-PLUGIN_NAME-unknown",
    ),
    pytest.param(
        "PLUGIN_NAME", "../recorder", "plugin '../recorder' not found in", id="dispatch-PLUGIN_NAME-a-path"
    ),
    pytest.param("PLUGIN_PATHS", ":", "PLUGIN_PATHS names no directory", id="dispatch-PLUGIN_PATHS-empty"),
    pytest.param(
        "SHOTGUN_URL",
        "ftp://site",
        "SHOTGUN_URL='ftp://site' is not an http(s) URL",
        id="dispatch-SHOTGUN_URL-not-http",
    ),
    pytest.param(
        "IDEMPOTENCY_TABLE", None, "IDEMPOTENCY_TABLE is not set", id="dispatch-IDEMPOTENCY_TABLE-missing"
    ),
    pytest.param(
        "IDEMPOTENCY_TABLE", "no-such-table", "no-such-table", id="dispatch-IDEMPOTENCY_TABLE-not-a-table"
    ),
    pytest.param(
        "USE_SESSION_UUID",
        "maybe",
        "USE_SESSION_UUID='maybe' is not a boolean",
        id="dispatch-USE_SESSION_UUID-not-boolean",
    ),
    pytest.param(
        "SHOTGUN_TIMEOUT_SECONDS",
        "0",
        "SHOTGUN_TIMEOUT_SECONDS='0' must be between",
        id="dispatch-SHOTGUN_TIMEOUT-zero",
    ),
]


@pytest.mark.parametrize(("name", "value", "message"), DISPATCH_CONFIG)
def test_a_bad_dispatch_variable_is_named_and_keeps_every_record(
    world: World, json_logs: LogLines, name: str, value: str | None, message: str
) -> None:
    world.publish(make_event(1, entity=("Shot", 1)), make_event(2, entity=("Shot", 2)))
    response = world.driver("recorder", world.function("recorder", **{name: value})).poll()
    assert response is not None and len(response["batchItemFailures"]) == 2  # both kept for a retry
    assert any(message in m for m in errors(json_logs)), errors(json_logs)
    assert world.recorded_ids() == []

    world.driver("recorder").run()  # fixed
    assert world.recorded_ids() == [1, 2]


WEBHOOK_CONFIG = [
    pytest.param("WEBHOOK_SECRET_ID", "WEBHOOK_SECRET_ID is not set", id="webhook-WEBHOOK_SECRET_ID-missing"),
    pytest.param(
        "DOORBELL_QUEUE_URL", "DOORBELL_QUEUE_URL is not set", id="webhook-DOORBELL_QUEUE_URL-missing"
    ),
]


@pytest.mark.parametrize(("missing", "message"), WEBHOOK_CONFIG)
def test_a_webhook_without_its_variable_refuses_and_says_which(
    world: World, json_logs: LogLines, monkeypatch: pytest.MonkeyPatch, missing: str, message: str
) -> None:
    from functions.webhook import app as webhook_app
    from shotgun_events.webhook import WebhookFunction

    doorbell = world.sqs.create_queue(QueueName="doorbell")["QueueUrl"]
    world.secrets.create_secret(Name="webhook/token", SecretString=json.dumps({"token": "t0ken"}))
    monkeypatch.setattr(webhook_app, "webhook", WebhookFunction())
    env = {"WEBHOOK_SECRET_ID": "webhook/token", "DOORBELL_QUEUE_URL": doorbell}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    request = function_url_event(b"{}", {})

    answer = webhook_app.lambda_handler(request, LambdaContextStub(5))
    assert answer["statusCode"] == 500
    (line,) = errors(json_logs)
    assert message in line and "every request is refused until it is fixed" in line
    assert world.queued(doorbell) == []


# --- secrets ------------------------------------------------------------------------------------------

POLLER_SECRETS = [
    pytest.param(None, "secret 'shotgun-events/poller' could not be read", id="poller-secret-missing"),
    pytest.param("not json at all", "is not a JSON object", id="poller-secret-not-json"),
    pytest.param('["shotgun_events_poller"]', "is not a JSON object", id="poller-secret-a-list"),
    pytest.param(
        json.dumps({"script_name": POLLER_SCRIPT[0]}), "has no api_key string", id="poller-secret-no-api_key"
    ),
    pytest.param(
        json.dumps({"name": "x", "key": "y"}),
        "has no script_name or api_key string",
        id="poller-secret-wrong-keys",
    ),
    pytest.param(
        json.dumps({"script_name": POLLER_SCRIPT[0], "api_key": "wrong-key-9"}),
        "(auth)",
        id="poller-secret-wrong-key",
    ),
]


@pytest.mark.parametrize(("secret", "message"), POLLER_SECRETS)
def test_a_bad_poller_secret_is_named_without_its_value_and_moves_nothing(
    world: World, json_logs: LogLines, secret: str | None, message: str
) -> None:
    initialise(world.store(), world.emulator.site.last_event_id)
    start, waiting = world.cursor(), [world.site_event()]
    if secret is None:
        world.secrets.delete_secret(SecretId=POLLER_SECRET, ForceDeleteWithoutRecovery=True)
    else:
        world.secrets.put_secret_value(SecretId=POLLER_SECRET, SecretString=secret)
    with pytest.raises(Exception):  # noqa: B017
        world.poll()
    (line,) = errors(json_logs)
    assert message in line, line
    assert "wrong-key-9" not in json_logs.text and POLLER_SCRIPT[1] not in json_logs.text
    assert world.cursor() == start and world.queued(world.plugins["recorder"].queue_url) == []
    assert waiting


def test_poller_secret_rotated_mid_run_is_picked_up_and_nothing_is_lost(
    world: World, json_logs: LogLines
) -> None:
    initialise(world.store(), world.emulator.site.last_event_id)
    first = world.site_event()
    world.poll()
    world.emulator.add_script(POLLER_SCRIPT[0], "rotated-key-0002")  # the site takes only the new key now
    world.secrets.put_secret_value(
        SecretId=POLLER_SECRET,
        SecretString=json.dumps({"script_name": POLLER_SCRIPT[0], "api_key": "rotated-key-0002"}),
    )
    second = world.site_event()
    with pytest.raises(Exception):  # noqa: B017  (its cached key is refused: it forgets it)
        world.poll()
    assert any("(auth)" in m for m in errors(json_logs))
    world.poll()
    world.driver("recorder").run()
    assert world.recorded_ids() == [first, second]


# A plugin that reads FPT as its script user: a refused key fails its callback.
READER = """
import os

def registerCallbacks(reg):
    reg.registerCallback(os.environ["SGDAEMON_READER_NAME"], os.environ["SGDAEMON_READER_KEY"], read)

def read(sg, logger, event, args):
    sg.find_one("Project", [], ["id"])
    with open(os.environ["READER_OUTPUT"], "a") as out:
        out.write("%d\\n" % event["id"])
"""


def test_plugin_secret_rotated_mid_run_is_picked_up_without_a_cold_start(
    world: World, json_logs: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, old_key, new_key = "reader", "reader-key-0001", "reader-key-0002"
    world.emulator.add_script(name, old_key)
    secret = {"SGDAEMON_READER_NAME": name, "SGDAEMON_READER_KEY": old_key}
    world.add_plugin(name, READER, secret)
    output = world.root / "read.txt"
    monkeypatch.setenv("READER_OUTPUT", str(output))
    function = world.function(name)  # one warm container throughout
    world.publish(make_event(1, entity=("Shot", 1)))
    world.driver(name, function).run()
    # The key is rotated: the site takes only the new one, the secret holds it.
    world.emulator.add_script(name, new_key)
    world.secrets.put_secret_value(
        SecretId=f"shotgun-events/plugins/{name}",
        SecretString=json.dumps({**secret, "SGDAEMON_READER_KEY": new_key}),
    )
    world.publish(make_event(2, entity=("Shot", 1)))
    response = world.driver(name, function).poll()
    assert response is not None and len(response["batchItemFailures"]) == 1  # refused: kept for a retry
    assert any("FPT refused the plugin's script key" in m for m in warnings(json_logs)), warnings(json_logs)
    world.driver(name, function).run()  # the next invocation loads the plugin with the new key
    assert output.read_text().split() == ["1", "2"]
    assert world.parked(name) == []
    assert old_key not in json_logs.text and new_key not in json_logs.text


PLUGIN_SECRETS = [
    pytest.param(None, "could not be read", id="plugin-secret-missing"),
    pytest.param("{not json", "is not a JSON object", id="plugin-secret-not-json"),
    pytest.param('["SGDAEMON_RECORDER_NAME"]', "is not a JSON object", id="plugin-secret-a-list"),
    pytest.param(
        json.dumps({"SGDAEMON_RECORDER_NAME": {"nested": 1}}),
        "must be a string, number or boolean",
        id="plugin-secret-value-an-object",
    ),
    pytest.param(
        json.dumps({"AWS_REGION": "eu-west-1"}), "AWS_REGION is reserved", id="plugin-secret-reserved-name"
    ),
    pytest.param(
        json.dumps({"1-NOT-A-NAME": "x"}), "is not an environment variable name", id="plugin-secret-bad-name"
    ),
]


@pytest.mark.parametrize(("secret", "message"), PLUGIN_SECRETS)
def test_a_bad_plugin_secret_is_named_and_keeps_every_record(
    world: World, json_logs: LogLines, secret: str | None, message: str
) -> None:
    secret_id = "shotgun-events/plugins/recorder"
    good = world.secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    if secret is None:
        world.secrets.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
    else:
        world.secrets.put_secret_value(SecretId=secret_id, SecretString=secret)
    world.publish(make_event(1, entity=("Shot", 1)))
    function = world.function("recorder")
    response = world.driver("recorder", function).poll()
    assert response is not None and len(response["batchItemFailures"]) == 1
    assert any(message in m and secret_id in m for m in errors(json_logs)), errors(json_logs)
    assert "eu-west-1" not in json_logs.text

    if secret is None:
        world.secrets.create_secret(Name=secret_id, SecretString=good)
    else:
        world.secrets.put_secret_value(SecretId=secret_id, SecretString=good)
    function._secrets = None  # the fixed secret is read afresh (Powertools caches for 5 minutes)
    world.driver("recorder", function).run()
    assert world.recorded_ids() == [1]


# --- the command line -------------------------------------------------------------------------------

STORE = "{root}/store.sqlite"
CLI = [
    pytest.param(
        ["init", "--local", STORE],
        "one of the arguments --from-id --latest is required",
        id="cli-init-no-start",
    ),
    pytest.param(
        ["init", "--from-id", "five", "--local", STORE],
        "'five' is not an event id",
        id="cli-init-id-not-a-number",
    ),
    pytest.param(
        ["init", "--from-id", "0", "--local", STORE],
        "'0' is not an event id: ids start at 1",
        id="cli-init-id-zero",
    ),
    pytest.param(
        ["init", "--from-id", "5"],
        "one of the arguments --stack --local is required",
        id="cli-init-no-deployment",
    ),
    pytest.param(
        ["init", "--from-id", "5", "--local", "{root}/nowhere/s.sqlite"],
        "s.sqlite --from-id N` creates one that starts at event N)",
        id="cli-init-store-missing",
    ),
    pytest.param(
        ["replay", "init_entity", "--from-id", "1", "--max-events", "0", "--local", STORE],
        "argument --max-events: '0' must be a finite number at least 1",
        id="cli-replay-max-events-zero",
    ),
    pytest.param(
        ["dlq", "init_entity", "--limit", "0", "--local", STORE],
        "argument --limit: '0' must be a finite number at least 1",
        id="cli-dlq-limit-zero",
    ),
    pytest.param(
        [
            "replay",
            "init_entity",
            "--since",
            "2026-11-30T10:00",
            "--until",
            "2026-11-30T09:00Z",
            "--local",
            STORE,
        ],
        "is not after --since 2026-11-30T10:00:00: the range is reversed",
        id="cli-replay-time-range-reversed",
    ),
    pytest.param(
        ["validate-plugins", "{root}/nowhere"],
        "nowhere does not exist",
        id="cli-validate-plugins-folder-missing",
    ),
    pytest.param(
        ["status", "--credentials", "{root}/nope.json", "--local", STORE],
        "cannot read credentials file",
        id="cli-status-credentials-missing",
    ),
    pytest.param(
        ["import-daemon-state", "{root}/none.id", "--local", STORE],
        "cannot read daemon state file",
        id="cli-import-daemon-file-missing",
    ),
    pytest.param(
        ["redrive", "--local", STORE],
        "the following arguments are required: PLUGIN",
        id="cli-redrive-no-plugin",
    ),
    pytest.param(
        ["generate-template", "--project", "{root}/nowhere"],
        "no template.yaml in",
        id="cli-generate-template-no-project",
    ),
    pytest.param(["no-such-command"], "invalid choice", id="cli-unknown-command"),
]


@pytest.mark.parametrize(("argv", "message"), CLI)
def test_a_bad_command_line_is_one_line_and_changes_nothing(
    world: World, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    args = [a.format(table=world.state_table, root=world.root) for a in argv]
    try:
        code = cli(args)
    except SystemExit as exit_:  # argparse's own errors
        code = int(exit_.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1], err
    assert not (world.root / "store.sqlite").exists()  # nothing created
