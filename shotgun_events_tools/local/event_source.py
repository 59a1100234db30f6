"""A local stand-in for Lambda's SQS event source mapping on a FIFO queue (for `make demo`).

It drives a real handler, `handler(event, context) -> {"batchItemFailures": [...]}`, the way Lambda
does with `ReportBatchItemFailures`:

- `concurrency` pollers (default 10) each receive up to `batch_size` messages (at most 10 on a
  FIFO queue) and invoke the handler with them as Lambda's SQS event, several invocations at once.
  SQS itself hands out a message group to one receiver at a time, so one entity's events stay in
  order and concurrency spreads across groups, as Lambda scales a FIFO queue by its active groups;
- each invocation gets a Lambda context stand-in whose deadline is `function_timeout`;
- the records reported in `batchItemFailures` are left in the queue, the others deleted. A handler
  that raises, runs past its deadline, or answers with an invalid response (not a dict, an
  `itemIdentifier` missing or not in the batch) fails the whole batch, as in Lambda;
- failed messages come back when their visibility timeout ends (the queue's, or `visibility_timeout`
  given to ReceiveMessage); `retry_visibility` shortens that for failed ones (a demo wants retries
  within its minute). SQS itself moves a message to the DLQ after `maxReceiveCount` receives
  (the queue's RedrivePolicy), so redrive is SQS's own, not this module's;
- `pause()` / `resume()` stop and restart receiving (invocations under way finish), `stop()` ends it.

moto's ReceiveMessage and DeleteMessage are not atomic under threads (two receivers can get one
message group, a delete can drop a concurrent one), so this stand-in serialises its own SQS calls;
real SQS needs no such lock, and the invocations themselves run in parallel.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from shotgun_events.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_FIFO_BATCH = 10
Handler = Callable[[dict[str, Any], Any], Any]


class InvocationContext:
    """What Powertools and the handlers read from a Lambda context, with a real deadline."""

    function_version = "$LATEST"
    memory_limit_in_mb = 512
    log_stream_name = "local"

    def __init__(self, function_name: str, timeout: float, region: str = "us-east-1"):
        self.function_name = function_name
        self.invoked_function_arn = f"arn:aws:lambda:{region}:000000000000:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    @property
    def timed_out(self) -> bool:
        return self.get_remaining_time_in_millis() == 0


def lambda_record(message: Mapping[str, Any], queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """A message as ReceiveMessage returns it, as a record of Lambda's SQS event."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SequenceNumber": attributes.get("SequenceNumber", "1"),
            "MessageGroupId": attributes.get("MessageGroupId"),
            "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            "MessageDeduplicationId": attributes.get("MessageDeduplicationId"),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_ids(response: Any, message_ids: Sequence[str]) -> set[str] | None:
    """The message ids Lambda leaves in the queue for this handler response; None when the response
    is invalid, which Lambda treats as the whole batch failing."""
    if response is None:
        return set()
    if not isinstance(response, Mapping):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        failed.add(identifier)
    return failed


@dataclass
class EventSourceStats:
    invocations: int = 0
    records: int = 0
    deleted: int = 0
    failed: int = 0  # records left in the queue after an invocation (failed or held back)
    invocation_errors: int = 0  # raised, timed out or answered invalidly: the whole batch failed
    max_concurrent: int = 0
    running: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def started(self, records: int) -> None:
        with self._lock:
            self.invocations += 1
            self.records += records
            self.running += 1
            self.max_concurrent = max(self.max_concurrent, self.running)

    def finished(self, deleted: int, failed: int, error: bool) -> None:
        with self._lock:
            self.running -= 1
            self.deleted += deleted
            self.failed += failed
            self.invocation_errors += int(error)


class SqsEventSource:
    """Lambda's SQS event source mapping over one FIFO queue, driving `handler` (module docstring)."""

    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        *,
        client: SQSClient | None = None,
        batch_size: int = MAX_FIFO_BATCH,
        concurrency: int = 10,
        function_timeout: float = 30.0,
        visibility_timeout: int | None = None,
        retry_visibility: int | None = None,
        function_name: str = "dispatch",
        idle_wait: float = 0.05,
    ):
        if not 1 <= batch_size <= MAX_FIFO_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_FIFO_BATCH} on a FIFO queue, not {batch_size}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.function_timeout = function_timeout
        self.visibility_timeout = visibility_timeout
        self.retry_visibility = retry_visibility
        self.function_name = function_name
        self.stats = EventSourceStats()
        self._client = client or boto3.client("sqs")
        self._region = self._client.meta.region_name or "us-east-1"
        self._idle_wait = idle_wait
        self._sqs = threading.Lock()
        self._stop = threading.Event()
        self._active = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue_arn: str | None = None

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:
            with self._sqs:
                attributes = self._client.get_queue_attributes(
                    QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
                )
            self._queue_arn = attributes["Attributes"]["QueueArn"]
        return self._queue_arn

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> SqsEventSource:
        if self._threads:
            return self
        _ = self.queue_arn
        self._stop.clear()
        self._active.set()
        for index in range(self.concurrency):
            thread = threading.Thread(
                target=self._poll_loop, name=f"{self.function_name}-poller-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def pause(self) -> None:
        """Receive nothing more once this returns; invocations under way finish."""
        self._active.clear()
        with self._sqs:  # a receive that started before the pause has ended
            pass

    def resume(self) -> None:
        self._active.set()

    @property
    def paused(self) -> bool:
        return not self._active.is_set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop receiving and wait for the invocations under way (up to `timeout` seconds each)."""
        self._stop.set()
        self._active.set()  # wake paused pollers so they see the stop
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def __enter__(self) -> SqsEventSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_idle(self, timeout: float, settle: float = 0.0) -> bool:
        """Wait until no invocation runs and the queue has no visible or in-flight message.

        True when idle; False when `timeout` passed first. `settle` is how long it must stay idle.
        """
        deadline = time.monotonic() + timeout
        idle_since: float | None = None
        while time.monotonic() < deadline:
            if self.stats.running == 0 and self._queue_empty():
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= settle:
                    return True
            else:
                idle_since = None
            time.sleep(self._idle_wait)
        return False

    def _queue_empty(self) -> bool:
        with self._sqs:
            attributes = self._client.get_queue_attributes(
                QueueUrl=self.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        return all(int(attributes.get(name, "0")) == 0 for name in attributes)

    # -- one poller ------------------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            if not self._active.is_set():
                self._active.wait()
                continue
            try:
                messages = self._receive()
                if messages:
                    self._invoke(messages)
                else:
                    self._stop.wait(self._idle_wait)
            except Exception as exc:  # an SQS call failed: the messages come back after their timeout
                logger.error(
                    f"event source for {self.function_name} failed: {type(exc).__name__}: {exc}",
                    extra={"queue_url": self.queue_url},
                )
                self._stop.wait(1.0)

    def _receive(self) -> list[dict[str, Any]]:
        options: dict[str, Any] = {}
        if self.visibility_timeout is not None:
            options["VisibilityTimeout"] = self.visibility_timeout
        with self._sqs:
            if not self._active.is_set():
                return []
            response = self._client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
                **options,
            )
        return list(response.get("Messages", []))  # type: ignore[arg-type]

    def _invoke(self, messages: list[dict[str, Any]]) -> None:
        ids = [m["MessageId"] for m in messages]
        event = {"Records": [lambda_record(m, self.queue_arn, self._region) for m in messages]}
        context = InvocationContext(self.function_name, self.function_timeout, self._region)
        self.stats.started(len(messages))
        failed: set[str] | None
        try:
            failed = failed_ids(self.handler(event, context), ids)
            if failed is None:
                logger.error(
                    f"{self.function_name} answered with an invalid batchItemFailures; "
                    "the batch stays in the queue",
                    extra={"message_ids": ids},
                )
        except Exception as exc:
            logger.error(
                f"{self.function_name} invocation failed: {type(exc).__name__}: {exc}; "
                "the batch stays in the queue",
                extra={"message_ids": ids},
            )
            failed = None
        if failed is not None and context.timed_out:
            # Lambda would have stopped it at its deadline: nothing of the batch is deleted.
            logger.error(
                f"{self.function_name} ran past its {self.function_timeout} s timeout; "
                "the batch stays in the queue",
                extra={"message_ids": ids},
            )
            failed = None
        error = failed is None
        failed = set(ids) if failed is None else failed
        done = [m for m in messages if m["MessageId"] not in failed]
        left = [m for m in messages if m["MessageId"] in failed]
        try:
            self._settle(done, left)
        finally:
            self.stats.finished(len(done), len(left), error)

    def _settle(self, done: list[dict[str, Any]], left: list[dict[str, Any]]) -> None:
        with self._sqs:
            if done:
                self._client.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            if left and self.retry_visibility is not None:
                self._client.change_message_visibility_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {
                            "Id": str(i),
                            "ReceiptHandle": m["ReceiptHandle"],
                            "VisibilityTimeout": self.retry_visibility,
                        }
                        for i, m in enumerate(left)
                    ],
                )
