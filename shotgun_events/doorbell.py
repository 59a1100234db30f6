"""The doorbell: a small SQS queue that the webhook rings and the poller waits on between passes.

A ring only says "event N exists". The poller still reads the event log as usual, so ordering,
completeness, the backlog and publish-then-commit do not change. A ring that is lost, late,
doubled, replayed or forged costs one interval of latency or one read at most, never an event.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from shotgun_events.observability import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_WAIT_SECONDS = 20  # SQS's longest long poll
RECEIVE_BATCH = 10


class Doorbell(Protocol):
    """What the poller waits on instead of sleeping."""

    def wait(self, wanted: Callable[[int], bool], timeout: float) -> bool:
        """Wait at most `timeout` seconds for a ring whose event id is `wanted`. True if one came.

        Every ring received is consumed, whatever its id: rings for events already read only
        drain, so a flood of them ends in one read.
        """
        ...


class Ringer(Protocol):
    """What the webhook rings: one ring per delivery, with the delivery's highest event id."""

    def ring(self, event_id: int, events: int = 1) -> None: ...


def ring_body(event_id: int, events: int = 1) -> str:
    return json.dumps({"event_id": event_id, "events": events})


def rung_id(body: str) -> int | None:
    """The event id a ring carries, or None when the message is not a ring."""
    try:
        value = json.loads(body).get("event_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def wakes(body: str, wanted: Callable[[int], bool]) -> bool:
    """Whether a ring ends the wait. One that cannot be read wakes the poller: one read too many
    is the safe mistake."""
    event_id = rung_id(body)
    if event_id is None:
        logger.warning("doorbell message is not a ring: reading anyway", extra={"body": body[:80]})
        return True
    return wanted(event_id)


class SqsDoorbell:
    """`Doorbell` and `Ringer` on an SQS standard queue.

    `wait` long-polls until the timeout is used up. SQS waits in whole seconds, at most 20 per
    call, so the time left is rounded to the nearest second: a wait may end up to half a second
    late, and the last half second or less, which cannot be long-polled, is slept. When the queue
    cannot be read, the rest of the timeout is slept too. The poller then falls back to its
    interval (`DoorbellErrors`).
    """

    def __init__(
        self,
        queue_url: str,
        client: SQSClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._queue_url = queue_url
        self._client = client or boto3.client("sqs")
        self._clock = clock
        self._sleep = sleep

    def ring(self, event_id: int, events: int = 1) -> None:
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=ring_body(event_id, events))

    def wait(self, wanted: Callable[[int], bool], timeout: float) -> bool:
        deadline = self._clock() + timeout
        while True:
            left = deadline - self._clock()
            seconds = min(MAX_WAIT_SECONDS, math.floor(left + 0.5))  # 1.9999 s left is a 2 s poll
            if seconds < 1:
                if left > 0:
                    self._sleep(left)
                return False
            try:
                answer = self._client.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=RECEIVE_BATCH, WaitTimeSeconds=seconds
                )
            except (BotoCoreError, ClientError) as exc:
                logger.warning(
                    "doorbell cannot be read: sleeping out the interval",
                    extra={"error": str(exc).splitlines()[0][:300], "queue_url": self._queue_url},
                )
                metrics.add_metric(name="DoorbellErrors", unit=MetricUnit.Count, value=1)
                self._sleep(max(0.0, deadline - self._clock()))
                return False
            messages = answer.get("Messages", [])
            if not messages:
                continue
            self._delete(messages)
            # Every message is looked at (no short-circuit), so each one that is not a ring is logged.
            if any([wakes(m.get("Body", ""), wanted) for m in messages]):
                return True

    def _delete(self, messages: Sequence[Any]) -> None:
        # A ring that is not deleted comes back after the visibility timeout: one read at most.
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        try:
            self._client.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)  # type: ignore[arg-type]
        except (BotoCoreError, ClientError) as exc:
            logger.warning("doorbell rings not deleted", extra={"error": str(exc).splitlines()[0][:300]})
