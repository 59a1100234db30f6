"""Moving a plugin's parked events from its DLQ back to its queue.

Where SQS offers it, `StartMessageMoveTask` does the move inside SQS and this only follows its
progress. Where it does not (moto; a partition or endpoint without it), the messages are copied:
receive a batch from the DLQ, send it to the queue, delete it from the DLQ. Interrupted anywhere,
a rerun loses nothing and doubles nothing:

- received, not sent: the messages are still in the DLQ (made visible again at once when the run
  stops cleanly; otherwise after `visibility_timeout`, which the rerun waits for);
- sent, not deleted: the rerun sends them again with the same deduplication id, the DLQ copy's
  message id, so the queue drops the second copy within SQS's 5-minute window; after it, the
  effect-once ledger keeps the callbacks that completed from running twice.

The deduplication id is the DLQ copy's message id rather than the event id the poller used: the
queue may still remember the event id (an event parked within 5 minutes of its publication, or one
redriven and parked again) and would silently drop the redriven copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.operate.queues import Outgoing, resendable_attributes, send_in_order

Progress = Callable[[int, int | None], None]

VISIBILITY_TIMEOUT = 60  # how long a message received for the move stays hidden if the run dies
MOVE_TASK_POLL_SECONDS = 2.0
# Answers that mean "this service has no message move tasks" (moto's server answers a bare 500).
UNSUPPORTED_CODES = {"UnsupportedOperation", "InvalidAction", "UnknownOperationException", "NotImplemented"}


@dataclass
class MoveResult:
    method: str  # "move-task" or "copy"
    moved: int
    task_handle: str | None = None


def depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue, without receiving any."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def queue_arn(sqs: Any, queue_url: str) -> str:
    return str(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    )


def move_tasks_offered(sqs: Any, source_arn: str) -> bool:
    """Whether the service answers `ListMessageMoveTasks` (a read: asking changes nothing)."""
    from botocore.exceptions import ClientError

    try:
        sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1)
    except NotImplementedError:  # moto in process
        return False
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in UNSUPPORTED_CODES or status >= 500:
            return False
        raise
    return True


def move_with_task(
    sqs: Any,
    source_arn: str,
    destination_arn: str,
    progress: Progress,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> MoveResult:
    """Start SQS's own move task and follow it to its end."""
    handle = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)["TaskHandle"]
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else {})
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        total = task.get("ApproximateNumberOfMessagesToMove")
        progress(moved, int(total) if total is not None else None)
        status = task.get("Status", "RUNNING")
        if status == "COMPLETED":
            return MoveResult("move-task", moved, handle)
        if status in {"FAILED", "CANCELLED"}:
            reason = f": {task['FailureReason']}" if task.get("FailureReason") else ""
            raise CommandError(
                f"the SQS move task {status.lower()} after {moved} messages{reason}; "
                "run redrive again to move the rest"
            )
        sleep(MOVE_TASK_POLL_SECONDS)


def move_by_copy(
    sqs: Any,
    source_url: str,
    destination_url: str,
    progress: Progress,
    *,
    visibility_timeout: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> MoveResult:
    """Receive -> send -> delete until the DLQ is empty (see the module docstring)."""
    visibility_timeout = VISIBILITY_TIMEOUT if visibility_timeout is None else visibility_timeout
    visible, hidden = depth(sqs, source_url)
    total = visible + hidden
    moved = 0
    held: dict[str, str] = {}  # message id -> receipt handle: received and not yet deleted
    waited_since: float | None = None

    def sent(batch: list[Outgoing]) -> None:
        nonlocal moved
        entries = [{"Id": str(i), "ReceiptHandle": held[m.tag]} for i, m in enumerate(batch)]
        response = sqs.delete_message_batch(QueueUrl=source_url, Entries=entries)
        if response.get("Failed"):
            first = response["Failed"][0]
            raise CommandError(
                f"sent {len(batch)} messages back but could not delete them from the DLQ "
                f"({first.get('Code')}: {first.get('Message', '')}); run redrive again: "
                "the copies are deduplicated"
            )
        for message in batch:
            held.pop(message.tag, None)
        moved += len(batch)
        progress(moved, max(total, moved))

    progress(0, total)
    try:
        while True:
            received = sqs.receive_message(
                QueueUrl=source_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=visibility_timeout,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                # Messages a run that died had received are hidden until their visibility timeout.
                _, hidden = depth(sqs, source_url)
                if hidden == 0:
                    break
                waited_since = clock() if waited_since is None else waited_since
                if clock() - waited_since > visibility_timeout + 5:
                    raise CommandError(
                        f"{hidden} messages of the DLQ stay in flight (is another redrive, or dlq --show, "
                        "running?); run redrive again when they are visible"
                    )
                sleep(1.0)
                continue
            waited_since = None
            outgoing = []
            for message in received:
                held[message["MessageId"]] = message["ReceiptHandle"]
                attributes = message.get("Attributes", {})
                outgoing.append(
                    Outgoing(
                        body=message["Body"],
                        group_id=attributes["MessageGroupId"],
                        dedup_id=message["MessageId"],
                        attributes=resendable_attributes(message.get("MessageAttributes", {})),
                        tag=message["MessageId"],
                    )
                )
            send_in_order(sqs, destination_url, outgoing, sent)
    finally:
        _release(sqs, source_url, held)
    return MoveResult("copy", moved)


def _release(sqs: Any, queue_url: str, held: dict[str, str]) -> None:
    """Make messages received and not moved visible again at once (best effort: a rerun also waits)."""
    handles = list(held.values())
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        with suppress(Exception):
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
