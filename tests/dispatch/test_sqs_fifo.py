"""Dispatch driven like Lambda's SQS event source mapping over moto: SNS FIFO -> SQS FIFO -> DLQ."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from shotgun_events.dispatch import EffectLedger, PluginDispatcher, dynamodb_persistence
from shotgun_events.events import encode_event
from shotgun_events.plugins import RecordedMetrics, filter_policy
from tests.dispatch.support import (
    FakeConnections,
    LambdaSqsDriver,
    LogLines,
    create_idempotency_table,
    create_plugin_pipeline,
    publish,
    queue_event_ids,
)
from tests.dispatch.test_core import URL, cb, make_plugin
from tests.helpers import make_event

pytestmark = pytest.mark.usefixtures("aws")

STATUS = {"Shotgun_Shot_Change": ["sg_status_list"]}


class Recorder:
    def __init__(self, fail_ids: set[int] | None = None, fail_times: int | None = None):
        self.runs: list[int] = []
        self.fail_ids = fail_ids or set()
        self.fail_times = fail_times

    def __call__(self, sg: Any, logger: Any, event: dict[str, Any], args: Any) -> None:
        self.runs.append(event["id"])
        failing = event["id"] in self.fail_ids
        if failing and (self.fail_times is None or self.runs.count(event["id"]) <= self.fail_times):
            raise RuntimeError(f"cannot handle event {event['id']}")


def build(recorder: Recorder, *, ledger: bool = True, match_events: Any = STATUS) -> PluginDispatcher:
    plugin = make_plugin("studio", cb("s", "k", recorder, match_events))
    effect_ledger = None
    if ledger:
        table = create_idempotency_table(boto3.client("dynamodb"))
        effect_ledger = EffectLedger(dynamodb_persistence(table), key_prefix="plugin.studio")
    return PluginDispatcher(
        plugin,
        shotgun_url=URL,
        connections=FakeConnections(),
        ledger=effect_ledger,
        metrics=RecordedMetrics(),
    )


def shot_event(event_id: int, shot: int, attribute: str = "sg_status_list") -> dict[str, Any]:
    return make_event(event_id, ("Shot", shot), attribute_name=attribute)


@pytest.mark.parametrize("raw_delivery", [True, False])
def test_a_failing_event_retries_then_lands_in_the_dlq_while_other_entities_proceed(
    raw_delivery: bool, json_logs: LogLines
) -> None:
    recorder = Recorder(fail_ids={2})
    dispatch = build(recorder)
    pipeline = create_plugin_pipeline(filter_policy([STATUS]), max_receive_count=3, raw_delivery=raw_delivery)
    events = [shot_event(1, 1), shot_event(2, 1), shot_event(3, 2), shot_event(4, 1), shot_event(5, 2)]
    events.append(shot_event(6, 3, attribute="code"))  # filtered out by the subscription
    publish(pipeline, events)

    LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, dispatch.handle_batch, batch_size=10).run()

    assert recorder.runs.count(2) == 3  # maxReceiveCount deliveries, then the DLQ
    dead = queue_event_ids(pipeline.sqs, pipeline.dlq_url)
    assert dead[0] == 2
    # Shot 2 went on; shot 1's later event never ran before the failed one (it waits, or follows it
    # into the DLQ, depending on how SQS batches the group).
    assert [i for i in recorder.runs if i in (3, 5)] == [3, 5]
    assert 6 not in recorder.runs
    shot1 = [i for i in recorder.runs if i in (1, 2, 4)]
    assert shot1[:4] == [1, 2, 2, 2]
    assert sorted(set(dead) | set(shot1)) == [1, 2, 4]
    # Every event in the DLQ is explained in the log: the failed one, and any held back behind it.
    explained = {r.get("event_id") for r in json_logs.records() if r["level"] in ("WARNING", "ERROR")}
    assert set(dead) <= explained
    held_back = [r for r in json_logs.at("WARNING") if "held back" in r["message"]]
    assert all(r["held_back_by_event_id"] == 2 and r["message_group"] == "Shot:1" for r in held_back)


def test_per_entity_order_is_kept_across_many_entities_and_batches() -> None:
    recorder = Recorder(fail_ids={3}, fail_times=1)  # one transient failure
    dispatch = build(recorder, match_events=None)
    pipeline = create_plugin_pipeline(None, max_receive_count=5)
    events = [shot_event(i, shot=i % 4) for i in range(1, 41)]
    publish(pipeline, events)

    LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, dispatch.handle_batch, batch_size=4).run()

    done = [i for n, i in enumerate(recorder.runs) if i != 3 or recorder.runs[:n].count(3) == 1]
    assert sorted(set(recorder.runs)) == list(range(1, 41))
    for shot in range(4):
        ids = [i for i in done if i % 4 == shot]
        assert ids == sorted(ids), f"shot {shot} out of order: {ids}"
    assert queue_event_ids(pipeline.sqs, pipeline.dlq_url) == []


def test_a_redelivered_or_republished_event_does_not_run_a_completed_callback_twice() -> None:
    recorder = Recorder()
    dispatch = build(recorder)
    pipeline = create_plugin_pipeline(filter_policy([STATUS]))
    event = shot_event(7, 1)
    publish(pipeline, [event])

    # The function completes but its answer is lost (e.g. it timed out after the callback):
    # Lambda never deletes the message and SQS delivers it again.
    driver = LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, dispatch.handle_batch)

    def answer_lost(batch: dict[str, Any], context: Any) -> dict[str, Any]:
        dispatch.handle_batch(batch, context)
        raise TimeoutError("Task timed out")

    LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, answer_lost).poll()
    driver.run()
    # Re-published later (after the 5-minute FIFO dedup window): a new message for the same event.
    message = encode_event(event)
    pipeline.sqs.send_message(
        QueueUrl=pipeline.queue_url,
        MessageBody=message.body,
        MessageGroupId=message.group_id,
        MessageDeduplicationId="republished-7",
    )
    driver.run()

    assert recorder.runs == [7]
    assert queue_event_ids(pipeline.sqs, pipeline.dlq_url) == []


def test_the_sqs_event_shape_reaches_the_handler_like_lambdas() -> None:
    seen: list[dict[str, Any]] = []
    pipeline = create_plugin_pipeline(None)
    publish(pipeline, [shot_event(8, 1)])

    def handler(batch: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(batch["Records"])
        return {"batchItemFailures": []}

    LambdaSqsDriver(pipeline.sqs, pipeline.queue_url, handler).run()
    (record,) = seen
    assert record["attributes"]["MessageGroupId"] == "Shot:1"
    assert record["attributes"]["MessageDeduplicationId"] == "8"
    assert record["messageAttributes"]["event_type"]["stringValue"] == "Shotgun_Shot_Change"
    assert json.loads(record["body"])["id"] == 8
