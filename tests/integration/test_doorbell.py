"""The doorbell: `SqsDoorbell` on moto and the `FakeDoorbell` pass the same contract; the SQS requests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from shotgun_events.doorbell import SqsDoorbell, rung_id
from tests.dispatch.support import LogLines
from tests.fakes import FakeClock, FakeDoorbell, Recording, kwargs_of


def everything(event_id: int) -> bool:
    return True


def above(n: int) -> Callable[[int], bool]:
    return lambda event_id: event_id > n


@pytest.fixture(params=["sqs", "fake"])
def doorbell(request: pytest.FixtureRequest) -> Iterator[SqsDoorbell | FakeDoorbell]:
    if request.param == "fake":
        yield FakeDoorbell(FakeClock())
        return
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs")
        yield SqsDoorbell(sqs.create_queue(QueueName="doorbell")["QueueUrl"], sqs)


def test_a_ring_ends_the_wait(doorbell: SqsDoorbell | FakeDoorbell) -> None:
    doorbell.ring(41)
    assert doorbell.wait(everything, 5.0) is True


def test_no_ring_uses_up_the_timeout(doorbell: SqsDoorbell | FakeDoorbell) -> None:
    assert doorbell.wait(everything, 1.0) is False


def test_rings_not_wanted_are_consumed_and_do_not_end_the_wait(doorbell: SqsDoorbell | FakeDoorbell) -> None:
    for event_id in (3, 4, 5):
        doorbell.ring(event_id)
    assert doorbell.wait(above(5), 1.0) is False
    doorbell.ring(6)
    assert doorbell.wait(above(5), 5.0) is True


def test_several_rings_end_one_wait(doorbell: SqsDoorbell | FakeDoorbell) -> None:
    for event_id in (7, 8, 9):
        doorbell.ring(event_id)
    assert doorbell.wait(above(6), 5.0) is True
    assert doorbell.wait(above(9), 1.0) is False  # the pass read up to 9: the other rings are spent


# --- SqsDoorbell's requests and failures ---------------------------------------------------------------


def test_ring_and_wait_requests(aws: None) -> None:
    sqs = Recording(boto3.client("sqs"))
    url = sqs.create_queue(QueueName="doorbell")["QueueUrl"]
    doorbell = SqsDoorbell(url, sqs)  # type: ignore[arg-type]
    doorbell.ring(545175, events=3)
    assert kwargs_of(sqs.calls, "send_message") == [
        {"QueueUrl": url, "MessageBody": json.dumps({"event_id": 545175, "events": 3})}
    ]
    assert doorbell.wait(everything, 30.0) is True
    assert kwargs_of(sqs.calls, "receive_message") == [
        {"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 20}
    ]
    [delete] = kwargs_of(sqs.calls, "delete_message_batch")
    assert delete["QueueUrl"] == url and [e["Id"] for e in delete["Entries"]] == ["0"]
    assert (
        sqs.client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessagesNotVisible"
        ]
        == "0"
    )


class StubSqs:
    """An SQS client on a fake clock: long polls take their whole wait and find `messages`."""

    def __init__(
        self, clock: FakeClock, messages: list[list[str]] | None = None, fail: Exception | None = None
    ):
        self.clock = clock
        self.messages = messages or []
        self.fail = fail
        self.waits: list[int] = []
        self.deleted: list[str] = []

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        if self.fail:
            raise self.fail
        self.waits.append(kwargs["WaitTimeSeconds"])
        if self.messages:
            bodies = self.messages.pop(0)
            return {"Messages": [{"Body": b, "ReceiptHandle": f"r{i}"} for i, b in enumerate(bodies)]}
        self.clock.now += kwargs["WaitTimeSeconds"]
        return {}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.deleted.extend(e["ReceiptHandle"] for e in kwargs["Entries"])
        return {"Successful": [{"Id": e["Id"]} for e in kwargs["Entries"]]}


def stub_doorbell(clock: FakeClock, sqs: StubSqs) -> SqsDoorbell:
    return SqsDoorbell("https://sqs/doorbell", sqs, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("timeout", "polls", "took"),
    [
        (2.0, [2], 2.0),
        (1.9999, [2], 2.0),  # what is left of a 2 s interval once a few microseconds have gone
        (45.4, [20, 20, 5], 45.4),  # the last 0.4 s is slept
        (45.7, [20, 20, 6], 46.0),  # 0.3 s late rather than 0.7 s deaf
        (0.6, [1], 1.0),
        (0.4, [], 0.4),  # too short to long-poll: slept
    ],
)
def test_a_wait_is_long_polls_of_whole_seconds_up_to_20(
    timeout: float, polls: list[int], took: float
) -> None:
    clock = FakeClock()
    start = clock.now
    sqs = StubSqs(clock)
    assert stub_doorbell(clock, sqs).wait(everything, timeout) is False
    assert sqs.waits == polls
    assert clock.now - start == pytest.approx(took)


def test_unreadable_doorbell_sleeps_out_the_interval_and_is_counted(
    json_logs: LogLines, capsys: pytest.CaptureFixture[str]
) -> None:
    from shotgun_events.observability import metrics

    clock = FakeClock()
    start = clock.now
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "ReceiveMessage")
    assert stub_doorbell(clock, StubSqs(clock, fail=denied)).wait(everything, 30.0) is False
    assert clock.now - start == pytest.approx(30.0)  # the poller's interval, as without a doorbell
    [line] = json_logs.at("WARNING")
    assert "doorbell cannot be read" in line["message"] and "AccessDenied" in line["error"]
    metrics.flush_metrics()
    assert '"DoorbellErrors"' in capsys.readouterr().out


def test_a_message_that_is_not_a_ring_wakes_the_poller(json_logs: LogLines) -> None:
    clock = FakeClock()
    sqs = StubSqs(clock, messages=[["hello", json.dumps({"event_id": "7"})]])
    assert stub_doorbell(clock, sqs).wait(lambda event_id: False, 30.0) is True
    assert sqs.deleted == ["r0", "r1"]
    assert [r["body"] for r in json_logs.at("WARNING")] == ["hello", '{"event_id": "7"}']


def test_rung_id() -> None:
    assert rung_id('{"event_id": 5, "events": 2}') == 5
    assert [rung_id(b) for b in ("[]", "{}", '{"event_id": true}', '{"event_id": -1}', "x")] == [None] * 5


def test_moto_long_poll_returns_when_a_ring_arrives(aws: None) -> None:
    # The real thing the poller relies on: a waiting long poll returns when the webhook rings.
    import threading

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="doorbell")["QueueUrl"]
    doorbell = SqsDoorbell(url, sqs)
    ringer = threading.Timer(0.3, lambda: SqsDoorbell(url, sqs).ring(12))
    ringer.start()
    try:
        assert doorbell.wait(everything, 20.0) is True  # rung 0.3 s into the wait
    finally:
        ringer.join()
