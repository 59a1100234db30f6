"""moto-backed AWS resources the way the template creates them, and helpers to read them back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3


@dataclass
class Pipeline:
    """A FIFO topic with one FIFO queue subscribed (raw delivery), and the poller's state table."""

    sns: Any
    sqs: Any
    dynamodb: Any
    topic_arn: str
    queue_url: str
    table: str


def create_table(dynamodb: Any, name: str, key: str) -> str:
    """An on-demand table whose only key is the string partition key `key`."""
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def create_state_table(dynamodb: Any, name: str = "shotgun-events-state") -> str:
    """The poller's state table (DESIGN §4: partition key `pk`, no sort key)."""
    return create_table(dynamodb, name, key="pk")


def create_pipeline(filter_policy: dict[str, Any] | None = None) -> Pipeline:
    sns, sqs, dynamodb = boto3.client("sns"), boto3.client("sqs"), boto3.client("dynamodb")
    topic_arn = sns.create_topic(
        Name="shotgun-events.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"}
    )["TopicArn"]
    queue_url = sqs.create_queue(
        QueueName="plugin.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {"RawMessageDelivery": "true"}
    if filter_policy is not None:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    return Pipeline(sns, sqs, dynamodb, topic_arn, queue_url, create_state_table(dynamodb))


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue, in delivery order (FIFO), deleted as read."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            messages.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def delivered_ids(messages: list[dict[str, Any]]) -> list[int]:
    return [json.loads(m["Body"])["id"] for m in messages]
