"""moto with the embedded stack's fixes behaves as SQS does where the demo and the soak rely on it.

The fixes (`shotgun_events_tools.stack.embedded`) change moto, not the product: these tests show
the behaviour they promise, so a moto upgrade that breaks one is seen here rather than as a
mysterious soak failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from shotgun_events_tools.stack.embedded import make_moto_fifo_receives_in_order, make_moto_sqs_counts_cheap


@pytest.fixture
def sqs(aws: None) -> Iterator[Any]:
    make_moto_fifo_receives_in_order()
    make_moto_sqs_counts_cheap()
    yield boto3.client("sqs")


def fifo_queue(sqs: Any, visibility: int) -> str:
    attributes = {"FifoQueue": "true", "VisibilityTimeout": str(visibility)}
    return str(sqs.create_queue(QueueName="plugin.fifo", Attributes=attributes)["QueueUrl"])


def bodies(sqs: Any, url: str, count: int = 10) -> list[str]:
    return [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=count).get("Messages", [])
    ]


def test_a_group_whose_messages_came_back_together_is_delivered_in_order(sqs: Any) -> None:
    url = fifo_queue(sqs, visibility=1)
    for body in ("first", "second", "third"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="Shot:7", MessageDeduplicationId=body)
    assert bodies(sqs, url, 2) == ["first", "second"]  # a batch that failed: both come back
    assert bodies(sqs, url) == []  # the group is locked meanwhile
    time.sleep(1.2)
    assert bodies(sqs, url) == ["first", "second", "third"]  # unfixed moto answers ["second", "third"]


def test_counts_are_what_the_messages_say(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="doorbell", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    assert len(bodies(sqs, url, 2)) == 2
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "3"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "2"
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1"
