"""Benchmark: a poller catch-up over N events (default 100,000), FPT emulator -> poller -> SNS (moto).

Prints events/s of the catch-up, next to the bare FPT paging rate on the same emulator, and the
peak Python memory of a pass. The emulator runs in its own process, as FPT is remote; AWS is moto
in-process, so the SNS numbers are moto's speed, not AWS's. Not a test: it prints numbers.

    .venv/bin/python bench/poller_catchup.py [--events 100000] [--page-size 500]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time
import tracemalloc
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(_name, "bench")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from shotgun_events.config import PollerConfig  # noqa: E402
from shotgun_events.event_log import FptEventLog  # noqa: E402
from shotgun_events.fpt import RetryPolicy, ScriptCredentials, connect  # noqa: E402
from shotgun_events.observability import metrics  # noqa: E402
from shotgun_events.poller import PollerDeps, initialise, load_or_start, run_pass  # noqa: E402
from shotgun_events.poller.publisher import SnsPublisher  # noqa: E402
from shotgun_events.poller.state_store import DynamoDBStateStore  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_emulator(events: int) -> tuple[subprocess.Popen[str], str, ScriptCredentials]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fpt_emulator", "--port", str(port), "--preload", str(events)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    credentials = None
    for line in process.stdout:
        match = re.match(r"\s+(\S+) (\S+)\s+\(default\)", line)
        if match:
            credentials = ScriptCredentials(match.group(1), match.group(2))
        if line.startswith("Ctrl-C"):
            break
    assert credentials is not None, "emulator did not print its credentials"
    return process, f"http://127.0.0.1:{port}", credentials


class InstantSns:
    """An SNS client that accepts every entry at once: isolates the poller's own cost from moto's."""

    def publish_batch(
        self, TopicArn: str, PublishBatchRequestEntries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {"Successful": [{"Id": e["Id"]} for e in PublishBatchRequestEntries], "Failed": []}


def bare_paging(reader: FptEventLog, page_size: int) -> tuple[int, float]:
    started, cursor, count = time.perf_counter(), 0, 0
    while page := reader.after(cursor, page_size):
        count += len(page)
        cursor = page[-1]["id"]
    return count, time.perf_counter() - started


def catch_up(
    deps: PollerDeps, config: PollerConfig, stop_after_passes: int | None = None
) -> tuple[int, float]:
    started, published, passes = time.perf_counter(), 0, 0
    current = load_or_start(deps)
    while True:
        current, result, full = run_pass(deps, config, current)
        metrics.clear_metrics()  # not a Lambda: nobody flushes them, and EMF lines would flood the output
        published += len(result.to_publish)
        passes += 1
        if not full or passes == stop_after_passes:
            return published, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()

    process, url, credentials = start_emulator(args.events)
    try:
        sg = connect(url, credentials, timeout_secs=30)
        reader = FptEventLog(sg, RetryPolicy())
        count, seconds = bare_paging(reader, args.page_size)
        print(f"bare FPT paging   : {count:>7} events in {seconds:6.2f} s = {count / seconds:8.0f} events/s")

        with mock_aws():
            sns, dynamodb = boto3.client("sns"), boto3.client("dynamodb")
            topic = sns.create_topic(Name="bench.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
            dynamodb.create_table(
                TableName="state",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
            config = PollerConfig(url, "unused", "state", topic, page_size=args.page_size)

            def deps(site: str, client: Any = sns) -> PollerDeps:
                store = DynamoDBStateStore("state", site, dynamodb)
                initialise(store, 0)
                return PollerDeps(FptEventLog(sg, RetryPolicy()), store, SnsPublisher(topic, client))

            published, seconds = catch_up(deps(url + "/instant", InstantSns()), config)
            print(
                f"poller, instant SNS: {published:>6} events in {seconds:6.2f} s"
                f" = {published / seconds:8.0f} events/s (the poller's own cost: fetch + encode + commit)"
            )

            published, seconds = catch_up(deps(url), config)
            print(
                f"poller catch-up   : {published:>7} events in {seconds:6.2f} s"
                f" = {published / seconds:8.0f} events/s (fetch + publish to moto SNS + commit)"
            )
            # Memory of one pass (fetch 500 + encode + publish + commit), moto's own storage left out.
            store = DynamoDBStateStore("state", url + "/traced", dynamodb)
            initialise(store, 0)
            instant: Any = InstantSns()
            traced = PollerDeps(FptEventLog(sg, RetryPolicy()), store, SnsPublisher(topic, instant))
            current, peaks = load_or_start(traced), []
            tracemalloc.start()
            for _ in range(20):
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                current, _result, _full = run_pass(traced, config, current)
                metrics.clear_metrics()
                peaks.append(tracemalloc.get_traced_memory()[1] - before)
            tracemalloc.stop()
            print(
                f"peak memory of a pass: {max(peaks) / 2**20:5.1f} MiB above baseline"
                f" (max of 20 passes of {args.page_size}, tracemalloc)"
            )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
