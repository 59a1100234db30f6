"""Benchmark: the poller catching up on N preloaded events (default 100,000), beside its limit.

The limit is bare paging: `shotgun_api3` reading the event log page after page on the same
emulator (FPT at `--latency` per call, 20 ms by default), nothing else done. Beside it: the
poller (`poll()`, the real loop: fetch, encode, publish, commit, reading the next page while it
publishes this one) with an in-memory publisher, its own cost; the same with `SnsPublisher` on an
SNS client that answers at once (its batching and threads, no network); the passes one step at a
time, as before reading ahead; and the poller through moto's SNS. Every row commits the state to
DynamoDB (moto) after every page.

The emulator and moto's server each run in a process of their own, as FPT and AWS are remote.
These machines are noisy, so the event log is taken in segments (`--segment` events) and every
row reads each segment in turn, one right after the other: each row's ratio is the median of
its ratios to bare paging over the same segment. moto is measured apart (over `--moto-events`):
its number is moto's speed, not AWS's. Not a test: it prints numbers.

    .venv/bin/python bench/poller_catchup.py [--events 100000] [--latency 0.02] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import boto3
from benchkit import emulator_process, machine, moto_process, print_table

from shotgun_events.config import PollerConfig
from shotgun_events.event_log import FptEventLog
from shotgun_events.events import EventMessage
from shotgun_events.fpt import RetryPolicy, connect
from shotgun_events.poller import PollerDeps, initialise, load_or_start, poll, run_pass
from shotgun_events.poller.cursor import PollState
from shotgun_events.poller.publisher import Publisher, SnsPublisher
from shotgun_events.poller.state_store import DynamoDBStateStore, VersionedState

TARGET = 0.8  # of bare paging, with the in-memory publisher

Run = tuple[int, float]  # events, seconds


class InMemoryPublisher:
    """A `Publisher` that only counts: the poller's own cost, without any SNS client."""

    def __init__(self) -> None:
        self.published = 0

    def publish(self, messages: Sequence[EventMessage]) -> None:
        self.published += len(messages)


class InstantSns:
    """An SNS client that accepts every entry at once."""

    def publish_batch(
        self, TopicArn: str, PublishBatchRequestEntries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {"Successful": [{"Id": e["Id"]} for e in PublishBatchRequestEntries], "Failed": []}


class WatchedStore:
    """The state store, noting when a commit first reached `end` (the bench's finish line)."""

    def __init__(self, inner: DynamoDBStateStore, end: int):
        self.inner = inner
        self.end = end
        self.cursor = 0
        self.reached_end_at: float | None = None

    def load(self) -> VersionedState | None:
        return self.inner.load()

    def save(self, state: PollState, expected_version: int | None) -> int:
        version = self.inner.save(state, expected_version)
        self.cursor = state.cursor
        if state.cursor >= self.end and self.reached_end_at is None:
            self.reached_end_at = time.perf_counter()
        return version


def bare_paging(reader: FptEventLog, start: int, end: int, page_size: int) -> Run:
    """Pages after `start` until one reaches `end`."""
    started, cursor, count = time.perf_counter(), start, 0
    while cursor < end and (page := reader.after(cursor, page_size)):
        count += len(page)
        cursor = page[-1]["id"]
    return count, time.perf_counter() - started


def catch_up(deps: PollerDeps, config: PollerConfig) -> Run:
    """`poll()` with all the time in the world until a commit reaches the store's `end`.

    Timed to that commit: the read ahead it started for a next pass is not counted (it is waited
    for, and happens once per catch-up, not once per page).
    """
    store = deps.store
    assert isinstance(store, WatchedStore)
    started = time.perf_counter()
    summary = poll(deps, config, lambda: 0.0 if store.cursor >= store.end else 3600.0)
    assert store.reached_end_at is not None
    return summary.published, store.reached_end_at - started


def step_by_step(deps: PollerDeps, config: PollerConfig) -> Run:
    """The same passes, each fetch -> publish -> commit done before the next fetch starts."""
    store = deps.store
    assert isinstance(store, WatchedStore)
    started, published = time.perf_counter(), 0
    current = load_or_start(deps)
    while current.state.cursor < store.end:
        current, result, _full = run_pass(deps, config, current)
        published += len(result.to_publish)
    return published, time.perf_counter() - started


def rate(run: Run) -> float:
    return run[0] / run[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the emulator adds to each call")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--segment", type=int, default=10_000, help="events each row reads in turn")
    parser.add_argument("--moto-events", type=int, default=None, help="events through moto (default all)")
    parser.add_argument("--quick", action="store_true", help="20,000 events, 5,000 through moto")
    args = parser.parse_args()
    if args.quick:
        args.events, args.moto_events = 20_000, args.moto_events or 5_000
    moto_events = min(args.events, args.moto_events or args.events)
    segments = [
        (start, min(start + args.segment, args.events)) for start in range(0, args.events, args.segment)
    ]
    print(f"machine: {machine()}")

    with (
        emulator_process(preload=args.events, latency=args.latency) as (url, credentials),
        moto_process(),
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),  # Powertools prints EMF blobs when 100 data points pile up
    ):
        sg = connect(url, credentials, timeout_secs=30)
        reader = FptEventLog(sg, RetryPolicy())
        sns, dynamodb = boto3.client("sns"), boto3.client("dynamodb")
        topic = sns.create_topic(Name="bench.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
        dynamodb.create_table(
            TableName="state",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        config = PollerConfig(url, "unused", "state", topic, page_size=args.page_size, safety_margin=0.0)
        sites = iter(range(1, 10**9))

        def deps(publisher: Publisher, start: int, end: int) -> PollerDeps:
            store = DynamoDBStateStore("state", f"{url}/{next(sites)}", dynamodb)  # a fresh state each run
            initialise(store, start)
            return PollerDeps(FptEventLog(sg, RetryPolicy()), WatchedStore(store, end), publisher)

        instant: Any = InstantSns()
        rows: dict[str, tuple[str, str, Callable[[int, int], Run]]] = {
            "bare": (
                "bare `shotgun_api3` paging (the limit)",
                "1.00",
                lambda start, end: bare_paging(reader, start, end, args.page_size),
            ),
            "poller": (
                "poller, in-memory publisher (its own cost)",
                f">= {TARGET}",
                lambda start, end: catch_up(deps(InMemoryPublisher(), start, end), config),
            ),
            "sns": (
                "poller, `SnsPublisher` on an SNS client answering at once",
                "",
                lambda start, end: catch_up(deps(SnsPublisher(topic, instant), start, end), config),
            ),
            "steps": (
                "poller, in-memory publisher, one step at a time (before reading ahead)",
                "",
                lambda start, end: step_by_step(deps(InMemoryPublisher(), start, end), config),
            ),
        }
        runs: dict[str, list[Run]] = {name: [] for name in rows}
        for number, (start, end) in enumerate(segments, start=1):
            progress(f"segment {number}/{len(segments)}: events {start + 1}..{end}")
            names = list(rows)
            for name in (
                names[number % len(names) :] + names[: number % len(names)]
            ):  # each goes first in turn
                runs[name].append(rows[name][2](start, end))
        progress(f"through moto: {moto_events} events ...")
        moto = catch_up(deps(SnsPublisher(topic, sns), 0, moto_events), config)
        peak = peak_memory_of_a_pass(deps(InMemoryPublisher(), 0, args.events), config)

    table = []
    for name, (label, target, _measure) in rows.items():
        ratios = [rate(run) / rate(bare) for run, bare in zip(runs[name], runs["bare"], strict=True)]
        events, seconds = sum(r[0] for r in runs[name]), sum(r[1] for r in runs[name])
        table.append([label, events, f"{events / seconds:,.0f}", f"{statistics.median(ratios):.2f}", target])
    bare_rate = sum(r[0] for r in runs["bare"]) / sum(r[1] for r in runs["bare"])
    moto_ratio = f"{rate(moto) / bare_rate:.2f}"
    moto_label = "poller, `SnsPublisher` to moto's server (moto's speed)"
    table.append([moto_label, moto[0], f"{rate(moto):,.0f}", moto_ratio, ""])
    print_table(
        f"Catch-up: {args.events:,} preloaded events, emulator at {args.latency * 1000:g} ms per call, "
        f"pages of {args.page_size}; ratio: median over {len(segments)} segments of {args.segment:,}",
        ["path", "events", "events/s", "÷ bare paging", "target"],
        table,
    )
    print(f"\npeak memory of a pass: {peak / 2**20:.1f} MiB above baseline (max of 20 passes, tracemalloc)")


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def peak_memory_of_a_pass(deps: PollerDeps, config: PollerConfig) -> int:
    """Python memory of one pass (fetch a page, encode, publish, commit), moto's own storage left out."""
    current, peaks = load_or_start(deps), []
    tracemalloc.start()
    for _ in range(20):
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        current, _result, _full = run_pass(deps, config, current)
        peaks.append(tracemalloc.get_traced_memory()[1] - before)
    tracemalloc.stop()
    return max(peaks)


if __name__ == "__main__":
    main()
