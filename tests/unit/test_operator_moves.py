"""Sending in order, and SQS's move task, with the exact requests (botocore's Stubber and a fake
queue client); the copy path and everything else run against moto in tests/operate."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.operate.queues import Outgoing, send_in_order
from shotgun_events_tools.operate.redrive import move_tasks_offered, move_with_task

SOURCE = "arn:aws:sqs:us-east-1:123456789012:studio-p-dlq.fifo"
DESTINATION = "arn:aws:sqs:us-east-1:123456789012:studio-p.fifo"


class FlakyQueue:
    """`send_message_batch` that refuses chosen messages a number of times, and records what it took."""

    def __init__(self, refuse: dict[str, int]):
        self.refuse = dict(refuse)
        self.accepted: list[str] = []
        self.batches: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.batches.append([e["MessageBody"] for e in Entries])
        failed = []
        for entry in Entries:
            body = entry["MessageBody"]
            if self.refuse.get(body, 0) > 0:
                self.refuse[body] -= 1
                failed.append({"Id": entry["Id"], "Code": "InternalError", "SenderFault": False})
            else:
                self.accepted.append(body)
        return {"Successful": [], "Failed": failed}


def message(body: str, group: str) -> Outgoing:
    return Outgoing(body=body, group_id=group, dedup_id=body)


def test_a_refused_message_is_retried_before_the_rest_of_its_group() -> None:
    queue = FlakyQueue({"a1": 2})
    sent: list[str] = []
    messages = [message("a1", "A"), message("b1", "B"), message("a2", "A"), message("b2", "B")]
    send_in_order(
        queue, "q", messages, lambda batch: sent.extend(m.body for m in batch), sleep=lambda s: None
    )
    assert queue.accepted == ["b1", "b2", "a1", "a2"]  # B went on; A kept its order
    assert all(len({b[0] for b in batch}) == len(batch) for batch in queue.batches)  # one per group a batch
    assert sent == queue.accepted


def test_a_message_refused_every_time_stops_its_group_with_one_error() -> None:
    queue = FlakyQueue({"a1": 99})
    sent: list[str] = []
    with pytest.raises(CommandError, match="refused a message of group A 5 times"):
        send_in_order(
            queue,
            "q",
            [message("a1", "A"), message("a2", "A"), message("b1", "B")],
            lambda batch: sent.extend(m.body for m in batch),
            sleep=lambda s: None,
        )
    assert "a2" not in queue.accepted
    assert sent == queue.accepted == ["b1"]


def stubbed_sqs() -> tuple[Any, Stubber]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    return sqs, Stubber(sqs)


def test_move_tasks_are_detected_by_asking_and_their_absence_is_not_an_error() -> None:
    sqs, stubber = stubbed_sqs()
    expected = {"SourceArn": SOURCE, "MaxResults": 1}
    stubber.add_response("list_message_move_tasks", {"Results": []}, expected)
    stubber.add_client_error("list_message_move_tasks", "UnsupportedOperation", expected_params=expected)
    stubber.add_client_error("list_message_move_tasks", "500", http_status_code=500, expected_params=expected)
    stubber.add_client_error("list_message_move_tasks", "AccessDenied", http_status_code=403)
    with stubber:
        assert move_tasks_offered(sqs, SOURCE) is True
        assert move_tasks_offered(sqs, SOURCE) is False
        assert move_tasks_offered(sqs, SOURCE) is False  # moto's server
        with pytest.raises(Exception, match="AccessDenied"):
            move_tasks_offered(sqs, SOURCE)


def test_a_move_task_is_started_and_followed_to_its_end() -> None:
    sqs, stubber = stubbed_sqs()
    stubber.add_response(
        "start_message_move_task", {"TaskHandle": "h-1"}, {"SourceArn": SOURCE, "DestinationArn": DESTINATION}
    )
    for moved, status in ((1, "RUNNING"), (3, "COMPLETED")):
        stubber.add_response(
            "list_message_move_tasks",
            {
                "Results": [
                    {
                        "TaskHandle": "h-1",
                        "Status": status,
                        "SourceArn": SOURCE,
                        "ApproximateNumberOfMessagesMoved": moved,
                        "ApproximateNumberOfMessagesToMove": 3,
                    }
                ]
            },
            {"SourceArn": SOURCE, "MaxResults": 1},
        )
    progress: list[tuple[int, int | None]] = []
    with stubber:
        result = move_with_task(
            sqs, SOURCE, DESTINATION, lambda done, total: progress.append((done, total)), sleep=lambda s: None
        )
    assert (result.method, result.moved, result.task_handle) == ("move-task", 3, "h-1")
    assert progress == [(1, 3), (3, 3)]


def test_a_failed_move_task_is_one_error_saying_to_run_again() -> None:
    sqs, stubber = stubbed_sqs()
    stubber.add_response("start_message_move_task", {"TaskHandle": "h-2"})
    stubber.add_response(
        "list_message_move_tasks",
        {
            "Results": [
                {
                    "TaskHandle": "h-2",
                    "Status": "FAILED",
                    "ApproximateNumberOfMessagesMoved": 2,
                    "FailureReason": "AWS.SimpleQueueService.NonExistentQueue",
                }
            ]
        },
    )
    with (
        stubber,
        pytest.raises(CommandError, match=r"failed after 2 messages: AWS\.SimpleQueue.*run redrive again"),
    ):
        move_with_task(sqs, SOURCE, DESTINATION, lambda done, total: None, sleep=lambda s: None)
