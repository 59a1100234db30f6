"""The stand-in for Lambda's SQS event source mapping, driving the real dispatch handler over moto:
a FIFO queue with a DLQ RedrivePolicy, as the template makes them."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest

from shotgun_events.dispatch import EffectLedger, PluginDispatcher, dynamodb_persistence
from shotgun_events.plugins import RecordedMetrics
from shotgun_events_tools.local.event_source import SqsEventSource, failed_ids
from tests.dispatch.support import (
    FakeConnections,
    PluginPipeline,
    create_idempotency_table,
    create_plugin_pipeline,
    publish,
    queue_event_ids,
)
from tests.dispatch.test_core import URL, cb, make_plugin
from tests.helpers import make_event

pytestmark = pytest.mark.usefixtures("aws")

IDLE_TIMEOUT = 60.0  # only a guard against a hang: every test waits for the queue to drain


class Studio:
    """A plugin callback that records event ids per entity, fails on `poisoned`, and makes its first
    `meet` runs wait for each other: they can only all get through if invocations run at once."""

    def __init__(self, poisoned: set[int] | None = None, meet: int = 0):
        self.poisoned = poisoned or set()
        self.runs: list[tuple[int, int]] = []  # (shot, event id), in run order
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(meet, timeout=IDLE_TIMEOUT) if meet else None
        self._meet = meet

    def __call__(self, sg: Any, logger: Any, event: dict[str, Any], args: Any) -> None:
        with self._lock:
            self.runs.append((event["entity"]["id"], event["id"]))
            waits = self._barrier is not None and len(self.runs) <= self._meet
        if waits:
            assert self._barrier is not None
            self._barrier.wait()
        if event["id"] in self.poisoned:
            raise RuntimeError(f"event {event['id']} is poisoned")

    def ids(self, shot: int) -> list[int]:
        return [event_id for s, event_id in self.runs if s == shot]


def dispatch_handler(studio: Studio) -> Any:
    table = create_idempotency_table(boto3.client("dynamodb"))
    plugin = make_plugin("studio", cb("s", "k", studio, None))
    return PluginDispatcher(
        plugin,
        shotgun_url=URL,
        connections=FakeConnections(),
        ledger=EffectLedger(dynamodb_persistence(table), key_prefix="plugin.studio"),
        metrics=RecordedMetrics(),
    ).handle_batch


def shots(pipeline: PluginPipeline, count: int, per_shot: int) -> list[dict[str, Any]]:
    """`per_shot` events on each of `count` shots, published interleaved (ids 1, 2, ... across shots)."""
    events = [make_event(i * count + s + 1, ("Shot", s + 1)) for i in range(per_shot) for s in range(count)]
    publish(pipeline, events)
    return events


def test_order_per_entity_dlq_after_max_receive_count_and_concurrency_across_groups() -> None:
    # GIVEN 6 shots with 5 events each, one event of shot 1 always failing, maxReceiveCount 3
    pipeline = create_plugin_pipeline(None, max_receive_count=3)
    events = shots(pipeline, count=6, per_shot=5)
    poisoned = next(e["id"] for e in events if e["entity"]["id"] == 1 and e["id"] > 6)  # shot 1's 2nd
    studio = Studio(poisoned={poisoned}, meet=3)
    source = SqsEventSource(
        pipeline.queue_url, dispatch_handler(studio), client=pipeline.sqs, batch_size=2, retry_visibility=0
    )
    # WHEN the event source drives the dispatch handler until the queue is empty
    with source:
        assert source.wait_idle(IDLE_TIMEOUT)

    # THEN invocations ran at once: batches of two hold two shots, so the first three callbacks could
    # only meet in three invocations under way together
    assert source.stats.max_concurrent >= 3
    # the poisoned event was received maxReceiveCount times, then SQS moved it to the DLQ, first
    assert studio.runs.count((1, poisoned)) == 3
    dead = queue_event_ids(pipeline.sqs, pipeline.dlq_url)
    assert dead[0] == poisoned
    # shot 1's later events waited behind it and, held back, may have followed it to the DLQ in order
    shot1 = [e["id"] for e in events if e["entity"]["id"] == 1]
    ran = [i for i in dict.fromkeys(studio.ids(1))]
    assert ran[: shot1.index(poisoned) + 1] == shot1[: shot1.index(poisoned) + 1]
    assert sorted(set(ran) | set(dead)) == shot1 and ran == sorted(ran) and dead == sorted(dead)
    # the other shots ran every event once, in order, and none is in the DLQ
    for shot in range(2, 7):
        assert studio.ids(shot) == [e["id"] for e in events if e["entity"]["id"] == shot]
    assert not set(dead) - set(shot1)


def test_a_failed_invocation_leaves_the_whole_batch_and_it_comes_back() -> None:
    pipeline = create_plugin_pipeline(None, max_receive_count=5)
    shots(pipeline, count=2, per_shot=2)
    calls: list[list[str]] = []

    def crashes_once(event: dict[str, Any], context: Any) -> Any:
        calls.append([r["messageId"] for r in event["Records"]])
        if len(calls) == 1:
            raise MemoryError("Runtime exited")
        return {"batchItemFailures": []}

    with SqsEventSource(
        pipeline.queue_url, crashes_once, client=pipeline.sqs, concurrency=1, retry_visibility=0
    ) as source:
        assert source.wait_idle(IDLE_TIMEOUT)
    assert calls[1] == calls[0] and len(calls[0]) == 4  # the same four records again, nothing deleted
    assert (source.stats.invocation_errors, source.stats.deleted) == (1, 4)


def test_a_handler_past_its_timeout_is_a_failed_invocation() -> None:
    pipeline = create_plugin_pipeline(None)
    shots(pipeline, count=1, per_shot=1)
    calls: list[Any] = []

    def slow_first(event: dict[str, Any], context: Any) -> Any:
        calls.append(context)
        if len(calls) == 1:
            while context.get_remaining_time_in_millis() > 0:
                threading.Event().wait(0.01)
        return {"batchItemFailures": []}

    with SqsEventSource(
        pipeline.queue_url,
        slow_first,
        client=pipeline.sqs,
        concurrency=1,
        function_timeout=0.2,
        retry_visibility=0,
        function_name="dispatch-studio",
    ) as source:
        assert source.wait_idle(IDLE_TIMEOUT)
    assert len(calls) == 2 and source.stats.invocation_errors == 1
    assert calls[0].function_name == "dispatch-studio" and calls[0].aws_request_id != calls[1].aws_request_id


def test_records_have_lambdas_shape() -> None:
    pipeline = create_plugin_pipeline(None)
    shots(pipeline, count=1, per_shot=1)
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        seen.extend(event["Records"])
        return {"batchItemFailures": []}

    with SqsEventSource(pipeline.queue_url, handler, client=pipeline.sqs) as source:
        assert source.wait_idle(IDLE_TIMEOUT)
    (record,) = seen
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == source.queue_arn
    assert record["attributes"]["MessageGroupId"] == "Shot:1"
    assert record["attributes"]["MessageDeduplicationId"] == "1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["event_type"]["stringValue"] == "Shotgun_Shot_Change"
    assert record["receiptHandle"] and record["awsRegion"] == "us-east-1"


def test_pause_stops_receiving_and_resume_goes_on() -> None:
    pipeline = create_plugin_pipeline(None)
    studio = Studio()
    source = SqsEventSource(pipeline.queue_url, dispatch_handler(studio), client=pipeline.sqs).start()
    try:
        source.pause()
        assert source.wait_idle(IDLE_TIMEOUT)
        shots(pipeline, count=3, per_shot=1)
        assert not source.wait_idle(0.5)  # the messages wait in the queue
        assert studio.runs == [] and source.paused
        source.resume()
        assert source.wait_idle(IDLE_TIMEOUT)
    finally:
        source.stop()
    assert sorted(studio.runs) == [(1, 1), (2, 2), (3, 3)]


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, None),  # not in the batch
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"id": "a"}]}, None),
        ({"batchItemFailures": "a"}, None),
        ("ok", None),
    ],
)
def test_batch_item_failures_are_read_as_lambda_reads_them(response: Any, failed: set[str] | None) -> None:
    assert failed_ids(response, ["a", "b"]) == failed


def test_settings_lambda_refuses_are_refused() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        SqsEventSource("q", lambda e, c: None, client=boto3.client("sqs"), batch_size=11)
    with pytest.raises(ValueError, match="concurrency"):
        SqsEventSource("q", lambda e, c: None, client=boto3.client("sqs"), concurrency=0)
