"""Publishing events to the SNS FIFO topic: batches of ten, several in flight, order kept per group.

`PublishBatch` answers 200 with per-entry failures, and a later entry of a batch can succeed after
an earlier one failed. So a batch never holds two entries of one message group, and a group is in
at most one batch in flight: a failed entry is retried before anything after it in its group is
sent, while other groups go on in parallel.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import boto3
from botocore.exceptions import ClientError

from shotgun_events.events import MAX_MESSAGE_BYTES, EventMessage
from shotgun_events.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

BATCH_LIMIT = 10
# Answers worth a retry; any other 4xx (no such topic, access denied, a bad request) never heals.
TRANSIENT_CODES = frozenset(
    {"Throttling", "Throttled", "ThrottlingException", "KMSThrottling", "InternalError", "InternalFailure",
     "ServiceUnavailable", "RequestTimeout", "RequestLimitExceeded", "TooManyRequestsException"}
)  # fmt: skip


class PublishError(RuntimeError):
    """Some events could not be published after retries; the cursor must not move past them."""

    def __init__(self, message: str, failed_ids: list[int]) -> None:
        super().__init__(message)
        self.failed_ids = failed_ids


class Publisher(Protocol):
    def publish(self, messages: Sequence[EventMessage]) -> None: ...


@dataclass
class _Attempt:
    messages: list[EventMessage]
    retry: int  # the highest retry count among the entries: decides the backoff before sending


class SnsPublisher:
    """`Publisher` on an SNS FIFO topic; raises `PublishError` unless every message was accepted."""

    def __init__(
        self,
        topic_arn: str,
        client: SNSClient | None = None,
        max_in_flight: int = 8,
        max_retries: int = 5,
        base_delay: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._topic_arn = topic_arn
        self._client = client or boto3.client("sns")
        self._max_in_flight = max_in_flight
        self._max_retries = max_retries
        self._base_delay = base_delay
        self._sleep = sleep

    def publish(self, messages: Sequence[EventMessage]) -> None:
        groups: OrderedDict[str, deque[EventMessage]] = OrderedDict()
        for message in messages:
            groups.setdefault(message.group_id, deque()).append(message)
        ready: deque[str] = deque(groups)
        retries: dict[int, int] = {}
        failed: list[int] = []
        last_error = ""
        in_flight: dict[Future[list[tuple[EventMessage, str | None]]], list[str]] = {}

        with ThreadPoolExecutor(max_workers=self._max_in_flight, thread_name_prefix="publish") as pool:
            while ready or in_flight:
                while ready and len(in_flight) < self._max_in_flight:
                    batch = self._take_batch(groups, ready)
                    retry = max(retries.get(m.event_id, 0) for m in batch)
                    in_flight[pool.submit(self._send, _Attempt(batch, retry))] = [m.group_id for m in batch]
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    in_flight.pop(future)
                    for message, error in future.result():
                        queue = groups[message.group_id]
                        if error is None:
                            queue.popleft()
                        else:
                            last_error = error
                            retries[message.event_id] = retries.get(message.event_id, 0) + 1
                            if retries[message.event_id] > self._max_retries:
                                # Give up on the group: its later events must not overtake this one.
                                failed.extend(m.event_id for m in queue)
                                logger.error(
                                    "event could not be published",
                                    extra={"event_id": message.event_id, "error": error},
                                )
                                queue.clear()
                        if queue:
                            ready.append(message.group_id)
        if failed:
            raise PublishError(
                f"{len(failed)} events could not be published to SNS topic {self._topic_arn} "
                f"(last error: {last_error})",
                sorted(failed),
            )

    @staticmethod
    def _take_batch(groups: dict[str, deque[EventMessage]], ready: deque[str]) -> list[EventMessage]:
        """Heads of up to ten ready groups, within SNS's aggregate size limit."""
        batch: list[EventMessage] = []
        size = 0
        while ready and len(batch) < BATCH_LIMIT:
            head = groups[ready[0]][0]
            if batch and size + head.size > MAX_MESSAGE_BYTES:
                break
            ready.popleft()
            batch.append(head)
            size += head.size
        return batch

    def _send(self, attempt: _Attempt) -> list[tuple[EventMessage, str | None]]:
        """Publish one batch; (message, error or None) per entry, in batch order."""
        if attempt.retry:
            delay = min(5.0, self._base_delay * 2 ** (attempt.retry - 1))
            self._sleep(delay * random.uniform(0.5, 1.0))
        entries = [
            {
                "Id": str(index),
                "Message": message.body,
                "MessageGroupId": message.group_id,
                "MessageDeduplicationId": message.dedup_id,
                "MessageAttributes": {
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in message.attributes.items()
                },
            }
            for index, message in enumerate(attempt.messages)
        ]
        try:
            response = self._client.publish_batch(
                TopicArn=self._topic_arn,
                PublishBatchRequestEntries=entries,  # type: ignore[arg-type]
            )
        except Exception as exc:  # the whole call failed: every entry is retried, unless it never heals
            if _permanent(exc):
                raise PublishError(
                    f"SNS refused to publish to topic {self._topic_arn}: {exc}",
                    [m.event_id for m in attempt.messages],
                ) from None
            logger.warning("PublishBatch failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            return [(message, f"{type(exc).__name__}: {exc}") for message in attempt.messages]
        errors = {f["Id"]: f"{f.get('Code')}: {f.get('Message', '')}" for f in response.get("Failed", [])}
        return [(message, errors.get(str(index))) for index, message in enumerate(attempt.messages)]


def _permanent(exc: Exception) -> bool:
    """An error answer no retry can change (a 4xx that is not throttling)."""
    if not isinstance(exc, ClientError):
        return False  # connection errors, timeouts: transient
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500) or 500)
    return status < 500 and code not in TRANSIENT_CODES
