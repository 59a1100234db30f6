"""The doorbell end to end: FPT emulator webhooks -> the real webhook handler behind a local Function URL
-> the SQS doorbell (moto) -> the real poller handler -> SNS FIFO -> the plugin's SQS FIFO queue.

No timing thresholds: the proofs are counts. With a poll interval of 30 s a poller without the
doorbell waits out its invocation after the first pass, so an update published in a second pass was
read because the doorbell rang; the test ends that invocation right after that pass.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from fpt_emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator
from fpt_emulator.webhooks import Webhook
from functions.poller import app as poller_app
from functions.webhook import app as webhook_app
from shotgun_events.doorbell import SqsDoorbell
from shotgun_events.webhook import WebhookFunction
from shotgun_events_tools.function_url import LocalFunctionUrl
from tests.aws import Pipeline, create_pipeline, drain
from tests.helpers import LambdaContextStub

PROJECT = {"type": "Project", "id": 1}
TOKEN = "e2e-webhook-token-7f3a"


class Deadline(LambdaContextStub):
    """A Lambda context whose invocation the test can end (`end()`): no wall-clock window to race."""

    def end(self) -> None:
        import time

        self._deadline = time.monotonic()


class WatchedDoorbell:
    """The real `SqsDoorbell`, telling the test when the poller starts waiting on it.

    With `end_after_ring`, the wait after the pass a ring caused ends the invocation instead: the
    test then counts that invocation's passes whatever the machine's speed.
    """

    def __init__(self, inner: SqsDoorbell):
        self.inner = inner
        self.waiting = threading.Event()
        self.rang = 0
        self.end_after_ring: Deadline | None = None

    def wait(self, wanted: Callable[[int], bool], timeout: float) -> bool:
        if self.end_after_ring is not None and self.rang:
            self.end_after_ring.end()
            return False
        self.waiting.set()
        rang = self.inner.wait(wanted, timeout)
        self.rang += rang
        return rang


@dataclass
class Stack:
    pipeline: Pipeline
    doorbell_url: str
    webhook_url: LocalFunctionUrl
    doorbell: WatchedDoorbell  # what the poller handler waits on

    def invoke_poller(self, seconds: float, context: LambdaContextStub | None = None) -> dict[str, Any]:
        return poller_app.lambda_handler({}, context or LambdaContextStub(seconds))

    def invoke_in_background(
        self, seconds: float, context: LambdaContextStub | None = None
    ) -> tuple[threading.Thread, dict[str, Any]]:
        result: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: result.update(self.invoke_poller(seconds, context)))
        thread.start()
        return thread, result

    def published(self) -> list[dict[str, Any]]:
        return drain(self.pipeline.sqs, self.pipeline.queue_url)


@pytest.fixture
def stack(aws: None, fpt_emulator: FptEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    poller_app._adapters.cache_clear()
    pipeline = create_pipeline()
    sqs, secrets = boto3.client("sqs"), boto3.client("secretsmanager")
    doorbell_url = sqs.create_queue(QueueName="doorbell")["QueueUrl"]
    secrets.create_secret(
        Name="fpt/poller",
        SecretString=json.dumps({"script_name": DEFAULT_SCRIPT_NAME, "api_key": DEFAULT_SCRIPT_KEY}),
    )
    secrets.create_secret(Name="fpt/webhook", SecretString=json.dumps({"token": TOKEN}))
    for name, value in {
        "SHOTGUN_URL": fpt_emulator.url,
        "SHOTGUN_SECRET_ID": "fpt/poller",
        "STATE_TABLE": pipeline.table,
        "EVENTS_TOPIC_ARN": pipeline.topic_arn,
        "POLL_INTERVAL_SECONDS": "30",
        "SAFETY_MARGIN_SECONDS": "0.2",
        "SHOTGUN_TIMEOUT_SECONDS": "5",
        "DOORBELL_QUEUE_URL": doorbell_url,
        "WEBHOOK_SECRET_ID": "fpt/webhook",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(webhook_app, "webhook", WebhookFunction())
    with LocalFunctionUrl(webhook_app.lambda_handler) as url:
        found = Stack(pipeline, doorbell_url, url, WatchedDoorbell(SqsDoorbell(doorbell_url, sqs)))
        monkeypatch.setattr(poller_app, "_doorbell", lambda queue_url: found.doorbell)
        yield found


def webhook(fpt_emulator: FptEmulator, stack: Stack, **options: Any) -> Webhook:
    return fpt_emulator.add_webhook(stack.webhook_url.url, TOKEN, **options)


def test_with_the_doorbell_an_update_is_published_long_before_the_30_s_interval(
    stack: Stack, fpt_emulator: FptEmulator, sg: Any
) -> None:
    shot = sg.create("Shot", {"code": "SH010", "project": PROJECT})
    hook = webhook(fpt_emulator, stack)
    fpt_emulator.clear_writes()  # forget the calls so far: count the poller's reads only
    # A long invocation, ended by the test right after the pass the ring caused.
    context = stack.doorbell.end_after_ring = Deadline(25.0)
    thread, result = stack.invoke_in_background(25.0, context)
    assert stack.doorbell.waiting.wait(10)  # first pass done: waiting
    sg.update("Shot", shot["id"], {"sg_status_list": "ip"})
    thread.join(30)

    [message] = stack.published()
    body = json.loads(message["Body"])
    assert body["entity"]["id"] == shot["id"] and body["meta"]["new_value"] == "ip"
    # The webhook notes its delivery once FPT's side has the answer, which may be after the pass.
    assert hook.wait_idle(10) and hook.delivered_ids() == [body["id"]]
    assert result["passes"] == 2 and result["published"] == 1  # without the ring: one pass, nothing
    assert stack.doorbell.rang == 1
    # First start (newest id) + one read per pass: the ring cost exactly one read.
    assert fpt_emulator.calls.count("read") == 3


def test_with_the_webhook_down_the_update_still_arrives_on_the_interval(
    stack: Stack, fpt_emulator: FptEmulator, sg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "1")
    hook = webhook(fpt_emulator, stack)
    stack.webhook_url.stop()  # the receiver is gone: FPT's deliveries fail
    shot = sg.create("Shot", {"code": "SH020", "project": PROJECT})
    thread, result = stack.invoke_in_background(8.0)  # the update needs one 1 s interval of it
    assert stack.doorbell.waiting.wait(10)
    sg.update("Shot", shot["id"], {"sg_status_list": "hld"})
    thread.join(20)

    [message] = stack.published()
    assert json.loads(message["Body"])["meta"]["new_value"] == "hld"
    assert result["published"] == 1 and stack.doorbell.rang == 0
    assert hook.wait_idle(10) and hook.deliveries and not any(a.delivered for a in hook.deliveries)
    assert hook.status == "unstable"


def test_through_restarts_and_a_flood_of_rings_every_event_once_in_order_per_entity(
    stack: Stack, fpt_emulator: FptEmulator, sg: Any
) -> None:
    single = webhook(fpt_emulator, stack)
    batch = webhook(fpt_emulator, stack, batched=True)
    rng = random.Random(11)
    start = fpt_emulator.site.last_event_id
    stack.invoke_poller(0.5)  # first start: after the newest event
    fpt_emulator.activity.held_commit_rate = 0.2  # some transactions commit late: gaps that fill
    fpt_emulator.activity.held_commit_seconds = 0.5
    flood = SqsDoorbell(stack.doorbell_url, boto3.client("sqs"))

    def studio() -> None:
        for _ in range(6):  # moto's FIFO queues slow down with length: a hundred events or so
            fpt_emulator.activity.step(3)
            for _ in range(20):  # replayed and forged rings, old and far ahead
                flood.ring(rng.choice([rng.randrange(1, max(2, start)), rng.randrange(1, 10**7)]))

    work = threading.Thread(target=studio)
    work.start()
    results = [stack.invoke_poller(1.5) for _ in range(3)]  # three invocations: restarts from the state
    work.join(30)
    assert fpt_emulator.wait_for_commits(10) and single.wait_idle(10) and batch.wait_idle(10)
    results.append(stack.invoke_poller(1.5))

    expected = [e["id"] for e in fpt_emulator.site.events(start)]
    messages = stack.published()
    ids = [json.loads(m["Body"])["id"] for m in messages]
    assert len(expected) > 50
    assert sorted(ids) == expected  # every committed event, none twice
    per_entity: dict[tuple[str, int], list[int]] = {}
    for body in (json.loads(m["Body"]) for m in messages):
        if body["entity"]:  # an entity's changes are serialised by FPT's row locks; others are not
            per_entity.setdefault((body["entity"]["type"], body["entity"]["id"]), []).append(body["id"])
    assert all(chain == sorted(chain) for chain in per_entity.values())
    assert sum(r["passes"] for r in results) > len(results)  # rings, not the 30 s interval, drove passes
    assert single.delivered_ids() and batch.delivered_ids()
