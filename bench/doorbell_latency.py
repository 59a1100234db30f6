"""Benchmark: latency from an FPT change to its SNS delivery, with and without the doorbell.

For each poll interval (default 2 s and 10 s), with the doorbell off and on, the bench makes a
series of status changes on the FPT emulator at random moments. It measures the time from just
before each change to its message arriving in a queue subscribed to the SNS topic, and gives
p50, p99 and max of that time. Then it lets the poller idle and counts its FPT reads per minute.

The whole path is real except AWS, which is moto in this process:

    FPT emulator commit -> emulator webhook -> local Function URL -> functions.webhook.app ->
    doorbell (SQS) -> poller core (real FptEventLog, DynamoDB state, SnsPublisher) ->
    SNS FIFO -> subscriber SQS FIFO queue

The clock starts before the change is sent, not at `created_at`: FPT's API gives `created_at` in
whole seconds, which is too coarse for sub-second numbers. The emulator's webhooks go out as
soon as a change commits, while FPT's own delivery delay is not modelled. With 30 samples, p99
is close to the largest sample. Not a test: it prints numbers.

    .venv/bin/python bench/doorbell_latency.py [--updates 30] [--idle-seconds 30] [--intervals 2 10] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(_name, "bench")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # nobody flushes them here: no EMF flood

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from fpt_emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator  # noqa: E402
from shotgun_events.config import PollerConfig  # noqa: E402
from shotgun_events.doorbell import SqsDoorbell  # noqa: E402
from shotgun_events.event_log import FptEventLog  # noqa: E402
from shotgun_events.fpt import RetryPolicy, ScriptCredentials, connect  # noqa: E402
from shotgun_events.poller import PollerDeps, initialise, poll  # noqa: E402
from shotgun_events.poller.publisher import SnsPublisher  # noqa: E402
from shotgun_events.poller.state_store import DynamoDBStateStore  # noqa: E402
from shotgun_events_tools.function_url import LocalFunctionUrl  # noqa: E402

TOKEN = "bench-webhook-token"
PROJECT = {"type": "Project", "id": 1}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class TimedEventLog:
    """The real event log, noting when each read was made (FPT's view of the poller's load)."""

    def __init__(self, inner: FptEventLog):
        self.inner = inner
        self.reads: list[float] = []

    def newest_id(self) -> int | None:
        return self.inner.newest_id()

    def after(self, cursor: int, limit: int) -> list[Any]:
        self.reads.append(time.monotonic())
        return self.inner.after(cursor, limit)

    def by_ids(self, ids: Sequence[int]) -> list[Any]:
        self.reads.append(time.monotonic())
        return self.inner.by_ids(ids)

    def per_minute_since(self, start: float) -> float:
        """Reads per minute between the first and the last read after `start`."""
        times = [t for t in self.reads if t >= start]
        return (len(times) - 1) / (times[-1] - times[0]) * 60 if len(times) > 1 else 0.0


class Subscriber:
    """Long-polls the subscriber queue in a thread; notes when each event id arrived."""

    def __init__(self, sqs: Any, queue_url: str):
        self.sqs, self.queue_url = sqs, queue_url
        self.arrived: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            now = time.time()
            for message in answer.get("Messages", []):
                self.arrived.setdefault(json.loads(message["Body"])["id"], now)
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Poller:
    """The poller core in a thread, polling until stopped (the time budget is the bench's)."""

    def __init__(self, deps: PollerDeps, config: PollerConfig):
        self._running = True
        self._wake = threading.Event()
        self.deps = deps
        deps.sleep = self._sleep
        self._thread = threading.Thread(target=lambda: poll(deps, config, self._time_left), daemon=True)
        self._thread.start()

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)  # an interruptible sleep, so the bench can stop the poller

    def _time_left(self) -> float:
        return 3600.0 if self._running else 0.0

    def stop(self) -> None:
        self._running = False
        self._wake.set()
        if isinstance(self.deps.doorbell, SqsDoorbell):
            self.deps.doorbell.ring(2**31 - 1)  # ends a wait on the doorbell at once
        self._thread.join(timeout=30)


def run_config(
    emu: FptEmulator, aws: dict[str, Any], interval: float, doorbell: bool, updates: int, idle: float
) -> tuple[list[float], float]:
    sqs = aws["sqs"]
    while rings := sqs.receive_message(QueueUrl=aws["doorbell"], MaxNumberOfMessages=10).get("Messages"):
        for ring in rings:  # rings left from the previous configuration
            sqs.delete_message(QueueUrl=aws["doorbell"], ReceiptHandle=ring["ReceiptHandle"])
    sg = emu.connect(timeout=30)
    poller_sg = connect(emu.url, ScriptCredentials(DEFAULT_SCRIPT_NAME, DEFAULT_SCRIPT_KEY), 30)
    store = DynamoDBStateStore(aws["table"], f"{emu.url}/{interval}/{doorbell}", aws["dynamodb"])
    initialise(store, emu.site.last_event_id)
    config = PollerConfig(
        emu.url, "unused", aws["table"], aws["topic"], poll_interval=interval, safety_margin=0
    )
    event_log = TimedEventLog(FptEventLog(poller_sg, RetryPolicy()))
    deps = PollerDeps(
        event_log,
        store,
        SnsPublisher(aws["topic"], aws["sns"]),
        doorbell=SqsDoorbell(aws["doorbell"], sqs) if doorbell else None,
    )
    subscriber = Subscriber(sqs, aws["subscriber"])
    shot = emu.site.create("Shot", {"code": f"BENCH-{interval}-{doorbell}", "project": PROJECT}, events=False)
    poller = Poller(deps, config)
    rng = random.Random(f"{interval}:{doorbell}")
    sent: dict[int, float] = {}
    statuses = ["ip", "rev", "fin", "hld"]
    for i in range(updates):
        time.sleep(rng.uniform(0.2, min(2.0, interval)))  # random moments against the poll cycle
        started = time.time()
        sg.update("Shot", shot["id"], {"sg_status_list": statuses[i % len(statuses)]})
        sent[emu.site.last_event_id] = started
    deadline = time.monotonic() + interval + 10
    while not set(sent) <= set(subscriber.arrived) and time.monotonic() < deadline:
        time.sleep(0.05)
    latencies = [subscriber.arrived[i] - t for i, t in sent.items() if i in subscriber.arrived]
    if len(latencies) < len(sent):
        print(f"  ! {len(sent) - len(latencies)} events did not arrive", file=sys.stderr)

    idle_from = time.monotonic()
    time.sleep(idle)
    reads_per_minute = event_log.per_minute_since(idle_from)
    poller.stop()
    subscriber.stop()
    sg.close()
    return latencies, reads_per_minute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--intervals", type=float, nargs="+", default=[2.0, 10.0])
    parser.add_argument("--quick", action="store_true", help="10 changes, 10 s idle, the 2 s interval only")
    args = parser.parse_args()
    if args.quick:
        args.updates, args.idle_seconds, args.intervals = 10, 10.0, [2.0]

    with mock_aws(), FptEmulator(seed=1) as emu:
        sns, sqs, dynamodb = boto3.client("sns"), boto3.client("sqs"), boto3.client("dynamodb")
        topic = sns.create_topic(Name="bench.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
        subscriber = sqs.create_queue(QueueName="subscriber.fifo", Attributes={"FifoQueue": "true"})[
            "QueueUrl"
        ]
        arn = sqs.get_queue_attributes(QueueUrl=subscriber, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        dynamodb.create_table(
            TableName="state",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        doorbell = sqs.create_queue(QueueName="doorbell")["QueueUrl"]
        boto3.client("secretsmanager").create_secret(
            Name="webhook", SecretString=json.dumps({"token": TOKEN})
        )
        os.environ.update({"WEBHOOK_SECRET_ID": "webhook", "DOORBELL_QUEUE_URL": doorbell})
        from functions.webhook import app as webhook_app

        aws = {
            "sns": sns,
            "sqs": sqs,
            "dynamodb": dynamodb,
            "topic": topic,
            "subscriber": subscriber,
            "table": "state",
            "doorbell": doorbell,
        }
        with LocalFunctionUrl(webhook_app.lambda_handler) as url:
            emu.add_webhook(url.url, TOKEN)
            rows = []
            for interval in args.intervals:
                for bell in (False, True):
                    label = f"interval {interval:g} s, doorbell {'on' if bell else 'off'}"
                    print(f"{label} ...", file=sys.stderr, flush=True)
                    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # EMF lines
                        latencies, reads = run_config(
                            emu, aws, interval, bell, args.updates, args.idle_seconds
                        )
                    rows.append((interval, bell, latencies, reads))

    print()
    print("| POLL_INTERVAL_SECONDS | doorbell | changes | p50 | p99 | max | FPT reads/min idle |")
    print("|---|---|---|---|---|---|---|")
    for interval, bell, latencies, reads in rows:
        p50, p99, top = (percentile(latencies, 50), percentile(latencies, 99), max(latencies))
        print(
            f"| {interval:g} s | {'on' if bell else 'off'} | {len(latencies)} | {p50:.2f} s | {p99:.2f} s "
            f"| {top:.2f} s | {reads:.1f} |"
        )


if __name__ == "__main__":
    main()
