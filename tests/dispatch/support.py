"""Test support for dispatch and plugins: log capture, fakes, a Lambda context, and an SQS driver.

`LambdaSqsDriver` drives a handler the way Lambda's SQS event source mapping does: receive a batch,
call the handler with an event shaped like Lambda's, delete the successes, and leave failures to
become visible again (here made visible at once, as if the visibility timeout had passed).
"""

from __future__ import annotations

import io
import json
import logging
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from shotgun_events.fpt import ScriptCredentials
from shotgun_events.observability import logger
from shotgun_events_tools.local.event_source import lambda_record
from tests.helpers import LambdaContextStub

# --- logs -------------------------------------------------------------------------------------------


class LogLines:
    """JSON lines written through the Powertools handler while the fixture is active."""

    def __init__(self, buffer: io.StringIO):
        self._buffer = buffer

    @property
    def text(self) -> str:
        return self._buffer.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def at(self, level: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("level") == level]


def capture_json_logs() -> Iterator[LogLines]:
    handler = cast("logging.StreamHandler[Any]", logger.registered_handler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield LogLines(buffer)
    finally:
        handler.setStream(previous)


# --- plugins on disk --------------------------------------------------------------------------------


def write_plugin(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


# --- FPT fakes ----------------------------------------------------------------------------------------


@dataclass
class FakeShotgun:
    """Stands in for `shotgun_api3.Shotgun` in dispatch tests (the plugin tests use the emulator)."""

    script_name: str
    calls: list[tuple[str, Any]] = field(default_factory=list)
    events: dict[int, dict[str, Any]] = field(default_factory=dict)

    def set_session_uuid(self, session_uuid: Any) -> None:
        self.calls.append(("set_session_uuid", session_uuid))

    def find(
        self, entity_type: str, filters: list[Any], fields: list[str] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """EventLogEntry rows by `["id", "in", ids]`, as `FptEventLog.by_ids` asks for them."""
        self.calls.append(("find", (entity_type, filters, fields)))
        if entity_type != "EventLogEntry":
            return []
        ((_, relation, ids),) = filters
        assert relation == "in"
        return [self.events[i] for i in ids if i in self.events]

    def update(self, entity_type: str, entity_id: int, data: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("update", (entity_type, entity_id, data)))
        return {"type": entity_type, "id": entity_id, **data}


class FakeConnections:
    """`Connections` handing out one `FakeShotgun` per script user, like `FptConnections`."""

    def __init__(self) -> None:
        self.clients: dict[str, FakeShotgun] = {}
        self.requests: list[tuple[str, str]] = []

    def get(self, url: str, credentials: ScriptCredentials) -> FakeShotgun:
        self.requests.append((url, credentials.script_name))
        return self.clients.setdefault(credentials.script_name, FakeShotgun(credentials.script_name))


# --- Lambda -------------------------------------------------------------------------------------------


def one_minute_left() -> LambdaContextStub:
    return LambdaContextStub(seconds=60)


Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaSqsDriver:
    """Lambda's SQS event source mapping over a (moto) FIFO queue, one batch per `poll`."""

    sqs: Any
    queue_url: str
    handler: Handler
    batch_size: int = 10
    context: Any = field(default_factory=one_minute_left)
    invocations: list[dict[str, Any]] = field(default_factory=list)
    _queue_arn: str | None = None

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:
            attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = str(attributes["Attributes"]["QueueArn"])
        return self._queue_arn

    def poll(self) -> dict[str, Any] | None:
        """One batch: None when the queue had nothing visible."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return None
        arn = self.queue_arn
        event = {"Records": [lambda_record(m, arn) for m in messages]}
        try:
            response = self.handler(event, self.context)
        except Exception:
            # An invocation error: Lambda returns the whole batch to the queue.
            response = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                # As if the visibility timeout had passed.
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.invocations.append({"event": event, "response": response})
        return response

    def run(self, max_polls: int = 100) -> int:
        """Poll until the queue is empty (or `max_polls`); the number of invocations."""
        for count in range(max_polls):
            if self.poll() is None:
                return count
        raise AssertionError(f"queue not drained after {max_polls} polls")


# --- AWS resources the way the template creates them (moto) --------------------------------------------


@dataclass
class PluginPipeline:
    """An SNS FIFO topic, one plugin's SQS FIFO queue (filtered subscription) and its FIFO DLQ."""

    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str
    dlq_url: str


def create_plugin_pipeline(
    filter_policy: dict[str, Any] | None = None,
    *,
    max_receive_count: int = 3,
    raw_delivery: bool = True,
    name: str = "plugin",
) -> PluginPipeline:
    import boto3

    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic_arn = sns.create_topic(
        Name="shotgun-events.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"}
    )["TopicArn"]
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": "180",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {"RawMessageDelivery": "true" if raw_delivery else "false"}
    if filter_policy is not None:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    return PluginPipeline(sns, sqs, topic_arn, queue_url, dlq_url)


def publish(pipeline: PluginPipeline, events: list[dict[str, Any]]) -> None:
    """Publish the way the poller does (SnsPublisher: group = entity, dedup id = event id)."""
    from shotgun_events.events import encode_event
    from shotgun_events.poller.publisher import SnsPublisher

    SnsPublisher(pipeline.topic_arn, pipeline.sns).publish([encode_event(e) for e in events])


def queue_event_ids(sqs: Any, queue_url: str) -> list[int]:
    """Ids of the events in a queue (read and deleted), SNS-wrapped or raw."""
    from shotgun_events.events import decode_body
    from tests.aws import drain

    return [int(decode_body(m["Body"])["id"]) for m in drain(sqs, queue_url)]


def create_idempotency_table(dynamodb: Any, name: str = "shotgun-events-idempotency") -> str:
    """Partition key `id`, TTL on `expiration`, as Powertools idempotency expects."""
    from tests.aws import create_table

    create_table(dynamodb, name, key="id")
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    return name
