"""Sending to a plugin's SQS FIFO queue in order: what replay and redrive have in common.

`SendMessageBatch` answers with per-entry failures, and a later entry can succeed after an earlier
one of its message group failed. So a batch holds at most one message per group, and a failed
entry is retried before anything after it in its group is sent: one entity's events keep their
order. Each batch is reported to `on_sent` as soon as SQS has it (redrive deletes from the DLQ
there), so an interruption leaves at most one batch both sent and not yet reported.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shotgun_events.events import MAX_MESSAGE_BYTES
from shotgun_events_tools.cli import CommandError

BATCH_LIMIT = 10
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Outgoing:
    """One message for a FIFO queue; `attributes` in SQS's shape (`{"DataType", "StringValue"}`)."""

    body: str
    group_id: str
    dedup_id: str
    attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tag: Any = None  # what the caller needs back in `on_sent` (a receipt handle, an event id)

    @property
    def size(self) -> int:
        attributes = sum(
            len(name) + len(str(value.get("DataType", ""))) + len(str(value.get("StringValue", "")))
            for name, value in self.attributes.items()
        )
        return len(self.body.encode()) + attributes


def string_attributes(values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def resendable_attributes(received: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Message attributes as `ReceiveMessage` gave them, in the shape `SendMessage` takes."""
    attributes: dict[str, dict[str, Any]] = {}
    for name, value in received.items():
        kept = {k: value[k] for k in ("DataType", "StringValue", "BinaryValue") if value.get(k) is not None}
        attributes[name] = kept
    return attributes


def send_in_order(
    sqs: Any,
    queue_url: str,
    messages: Sequence[Outgoing],
    on_sent: Callable[[list[Outgoing]], None],
    *,
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send every message, group order kept; `CommandError` when one is refused `max_attempts` times
    (the messages sent before it have been reported, none after it in its group was sent)."""
    groups: OrderedDict[str, deque[Outgoing]] = OrderedDict()
    for message in messages:
        groups.setdefault(message.group_id, deque()).append(message)
    attempts: dict[int, int] = {}
    while groups:
        batch = _heads(groups)
        retry = max(attempts.get(id(m), 0) for m in batch)
        if retry:
            sleep(min(5.0, 0.2 * 2 ** (retry - 1)) * random.uniform(0.5, 1.0))
        errors = _send(sqs, queue_url, batch)
        sent = [m for m, error in zip(batch, errors, strict=True) if error is None]
        for message, error in zip(batch, errors, strict=True):
            if error is None:
                groups[message.group_id].popleft()
                if not groups[message.group_id]:
                    del groups[message.group_id]
                continue
            attempts[id(message)] = attempts.get(id(message), 0) + 1
            if attempts[id(message)] >= max_attempts:
                if sent:
                    on_sent(sent)
                raise CommandError(
                    f"SQS refused a message of group {message.group_id} {max_attempts} times ({error}); "
                    "nothing after it in its group was sent"
                )
        if sent:
            on_sent(sent)


def _heads(groups: Mapping[str, deque[Outgoing]]) -> list[Outgoing]:
    """The first message of up to ten groups, within SQS's batch size limit."""
    batch: list[Outgoing] = []
    size = 0
    for queue in groups.values():
        head = queue[0]
        if batch and (len(batch) == BATCH_LIMIT or size + head.size > MAX_MESSAGE_BYTES):
            break
        batch.append(head)
        size += head.size
    return batch


def _send(sqs: Any, queue_url: str, batch: list[Outgoing]) -> list[str | None]:
    entries = [
        {
            "Id": str(index),
            "MessageBody": message.body,
            "MessageGroupId": message.group_id,
            "MessageDeduplicationId": message.dedup_id,
            **({"MessageAttributes": dict(message.attributes)} if message.attributes else {}),
        }
        for index, message in enumerate(batch)
    ]
    response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    failed = {f["Id"]: f"{f.get('Code')}: {f.get('Message', '')}" for f in response.get("Failed", [])}
    return [failed.get(str(index)) for index in range(len(batch))]
