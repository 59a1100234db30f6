"""SnsPublisher against moto's SNS FIFO -> SQS FIFO: order per group, retries, batching, size."""

from __future__ import annotations

import json
import random
import threading
from collections import defaultdict
from typing import Any

import pytest

from shotgun_events.events import MAX_MESSAGE_BYTES, encode_event
from shotgun_events.poller.publisher import BATCH_LIMIT, PublishError, SnsPublisher
from tests.aws import Pipeline, create_pipeline, delivered_ids, drain
from tests.helpers import make_event


class FlakySns:
    """Wraps moto's client: entries whose dedup id is in `fail` are reported failed, not sent."""

    def __init__(self, client: Any, fail: dict[str, int] | None = None, raise_calls: int = 0):
        self.client = client
        self.fail = dict(fail or {})
        self.raise_calls = raise_calls
        self.batches: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()

    def publish_batch(
        self, TopicArn: str, PublishBatchRequestEntries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        with self.lock:
            self.batches.append(PublishBatchRequestEntries)
            if self.raise_calls:
                self.raise_calls -= 1
                raise ConnectionError("connection reset by peer")
            failing = [
                e for e in PublishBatchRequestEntries if self.fail.get(e["MessageDeduplicationId"], 0) > 0
            ]
            for entry in failing:
                self.fail[entry["MessageDeduplicationId"]] -= 1
        passing = [e for e in PublishBatchRequestEntries if e not in failing]
        result: dict[str, Any] = {"Successful": [], "Failed": []}
        if passing:
            result = self.client.publish_batch(TopicArn=TopicArn, PublishBatchRequestEntries=passing)
        result.setdefault("Failed", []).extend(
            {"Id": e["Id"], "Code": "InternalError", "Message": "try again", "SenderFault": False}
            for e in failing
        )
        return result


@pytest.fixture
def pipeline(aws: None) -> Pipeline:
    return create_pipeline()


def sns_size(entry: dict[str, Any]) -> int:
    """What SNS counts against 256 KiB: the body and every attribute's name, type and value."""
    attributes = entry.get("MessageAttributes", {})
    return len(entry["Message"].encode()) + sum(
        len(name) + len(a["DataType"]) + len(a["StringValue"].encode()) for name, a in attributes.items()
    )


def groups_of(messages: list[dict[str, Any]]) -> dict[str, list[int]]:
    by_group: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        by_group[m["Attributes"]["MessageGroupId"]].append(json.loads(m["Body"])["id"])
    return by_group


def test_every_event_delivered_once_with_attributes_and_group(pipeline: Pipeline) -> None:
    events = [make_event(i, entity=("Shot", i % 7)) for i in range(1, 101)]
    SnsPublisher(pipeline.topic_arn, pipeline.sns).publish([encode_event(e) for e in events])
    messages = drain(pipeline.sqs, pipeline.queue_url)
    assert sorted(delivered_ids(messages)) == list(range(1, 101))
    first = next(m for m in messages if json.loads(m["Body"])["id"] == 8)
    assert first["Attributes"]["MessageGroupId"] == "Shot:1"
    assert first["Attributes"]["MessageDeduplicationId"] == "8"
    assert first["MessageAttributes"]["event_type"]["StringValue"] == "Shotgun_Shot_Change"
    for ids in groups_of(messages).values():
        assert ids == sorted(ids)


def test_a_batch_never_holds_two_entries_of_one_group_and_at_most_ten(pipeline: Pipeline) -> None:
    sns = FlakySns(pipeline.sns)
    events = [make_event(i, entity=("Shot", i % 3)) for i in range(1, 61)]
    SnsPublisher(pipeline.topic_arn, sns).publish([encode_event(e) for e in events])
    for batch in sns.batches:
        assert len(batch) <= BATCH_LIMIT
        assert len({e["MessageGroupId"] for e in batch}) == len(batch)


def test_failed_entry_is_retried_and_holds_back_its_group_only(pipeline: Pipeline) -> None:
    sns = FlakySns(pipeline.sns, fail={"5": 3})
    events = [make_event(i, entity=("Shot", 1 if i >= 5 else 100 + i)) for i in range(1, 21)]
    SnsPublisher(pipeline.topic_arn, sns, sleep=lambda s: None).publish([encode_event(e) for e in events])
    messages = drain(pipeline.sqs, pipeline.queue_url)
    assert sorted(delivered_ids(messages)) == list(range(1, 21))
    assert groups_of(messages)["Shot:1"] == list(range(5, 21))
    sent_of_group = [
        int(e["MessageDeduplicationId"]) for b in sns.batches for e in b if e["MessageGroupId"] == "Shot:1"
    ]
    assert sent_of_group[:4] == [5, 5, 5, 5]  # nothing later in the group went out before 5 succeeded


def test_whole_call_failure_is_retried(pipeline: Pipeline) -> None:
    sns = FlakySns(pipeline.sns, raise_calls=2)
    SnsPublisher(pipeline.topic_arn, sns, sleep=lambda s: None).publish([encode_event(make_event(1))])
    assert delivered_ids(drain(pipeline.sqs, pipeline.queue_url)) == [1]


def test_entry_failing_past_retries_raises_and_names_the_held_back_events(pipeline: Pipeline) -> None:
    sns = FlakySns(pipeline.sns, fail={"2": 100})
    events = [
        make_event(1, entity=("Shot", 9)),
        make_event(2),
        make_event(3),
        make_event(4, entity=("Shot", 8)),
    ]
    publisher = SnsPublisher(pipeline.topic_arn, sns, max_retries=2, sleep=lambda s: None)
    with pytest.raises(PublishError) as raised:
        publisher.publish([encode_event(e) for e in events])
    assert raised.value.failed_ids == [2, 3]
    assert sorted(delivered_ids(drain(pipeline.sqs, pipeline.queue_url))) == [1, 4]


def test_batches_respect_the_aggregate_size_limit(pipeline: Pipeline) -> None:
    sns = FlakySns(pipeline.sns)
    events = []
    for i in range(1, 11):
        event = make_event(i, entity=("Shot", i))
        event["meta"]["new_value"] = "z" * (MAX_MESSAGE_BYTES // 3)
        events.append(event)
    SnsPublisher(pipeline.topic_arn, sns).publish([encode_event(e) for e in events])
    for batch in sns.batches:
        assert sum(sns_size(e) for e in batch) <= MAX_MESSAGE_BYTES
    assert sorted(delivered_ids(drain(pipeline.sqs, pipeline.queue_url))) == list(range(1, 11))


def test_fifo_dedup_drops_a_republished_event(pipeline: Pipeline) -> None:
    publisher = SnsPublisher(pipeline.topic_arn, pipeline.sns)
    publisher.publish([encode_event(make_event(1))])
    publisher.publish([encode_event(make_event(1))])
    assert delivered_ids(drain(pipeline.sqs, pipeline.queue_url)) == [1]


def test_random_failures_never_reorder_a_group(pipeline: Pipeline) -> None:
    rng = random.Random(7)
    fail = {str(i): rng.choice([0, 0, 1, 2]) for i in range(1, 121)}
    sns = FlakySns(pipeline.sns, fail=fail)
    events = [make_event(i, entity=("Shot", rng.randint(1, 12))) for i in range(1, 121)]
    SnsPublisher(pipeline.topic_arn, sns, sleep=lambda s: None).publish([encode_event(e) for e in events])
    messages = drain(pipeline.sqs, pipeline.queue_url)
    assert sorted(delivered_ids(messages)) == list(range(1, 121))
    for ids in groups_of(messages).values():
        assert ids == sorted(ids)
