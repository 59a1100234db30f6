"""Benchmark: live latency, from a change on the site to the plugin's callback starting.

The deployed shape on one machine (`EmbeddedPipeline`, as `make demo`): the stack of
`template.yaml` on moto's server, the real poller handler on its schedule, SNS FIFO, each
plugin's SQS FIFO queue, the real dispatch handlers driven as Lambda's event source mapping
drives them, the webhook doorbell when on. The demo's studio works at `--rate` events a second
(20) for `--seconds` (60), so every example plugin fires. Per row: POLL_INTERVAL_SECONDS 1 or 2,
the doorbell off or on, and how the poller is scheduled: one invocation for the whole run (the
poller's own latency), or the template's schedule (one invocation a minute, with its Timeout and
SAFETY_MARGIN_SECONDS), which hands over from one invocation to the next each minute.

Two clocks, because FPT's `created_at` (and the emulator's) is whole seconds, cut down: measured
from it, a latency reads up to 1 s more than it was. So each row gives p50/p95/p99 from
`created_at` (what the target and `ProcessingDelay` use) and p99 from the commit as the emulator
recorded it (to the microsecond), and the poller's part: commit to SNS accepting the event. Each
(plugin, event) counts once, at its first callback start. Each row runs in a process of its own.
Not a test: it prints numbers.

    .venv/bin/python bench/live_latency.py [--seconds 60] [--rate 20] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import re
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchkit import machine, percentile, print_table

from fpt_emulator import FptEmulator
from shotgun_events.events import EventMessage
from shotgun_events.observability import logger
from shotgun_events.plugins.registrar import Registration
from shotgun_events.poller import initialise
from shotgun_events.poller.publisher import SnsPublisher
from shotgun_events.poller.state_store import DynamoDBStateStore
from shotgun_events_tools.demo.pipeline import EmbeddedPipeline
from shotgun_events_tools.demo.studio import DemoStudio
from shotgun_events_tools.stack.embedded import EmbeddedStack

ROOT = Path(__file__).resolve().parents[1]
# Event source pollers per plugin. The stand-in for Lambda's event source mapping short-polls moto
# every 50 ms per poller; the demo's 10 a plugin (the template's MaximumConcurrency) would be 1,200
# receives a second on moto in this process, which measures moto's CPU. 2 keep up with 20 events/s.
CONCURRENCY = 2
WHOLE_RUN = 3600.0  # one invocation "for the whole run": ended by the bench, not by its timeout


@dataclass
class Row:
    schedule: str
    interval: float
    doorbell: bool
    from_created: dict[str, list[float]] = field(default_factory=dict)
    from_commit: dict[str, list[float]] = field(default_factory=dict)
    events: int = 0
    seconds: float = 0.0
    poller: list[float] = field(default_factory=list)  # commit -> published, each event
    publish_batch: list[float] = field(default_factory=list)  # seconds, each PublishBatch call
    drained: bool = False

    @property
    def label(self) -> str:
        return f"{self.schedule}, interval {self.interval:g} s, doorbell {'on' if self.doorbell else 'off'}"

    def pooled(self, of: dict[str, list[float]]) -> list[float]:
        return [v for values in of.values() for v in values]


class PublishTimes:
    """When SNS accepted each event (its `PublishBatch` call returned): the poller's part."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}
        self.calls: list[float] = []  # how long each PublishBatch took
        self._inner = SnsPublisher._send

        def send(publisher: SnsPublisher, attempt: Any) -> list[tuple[EventMessage, str | None]]:
            started = time.time()
            results = self._inner(publisher, attempt)
            now = time.time()
            self.calls.append(now - started)
            for message, error in results:
                if error is None:
                    self.at.setdefault(message.event_id, now)
            return results

        SnsPublisher._send = send  # type: ignore[method-assign, assignment]

    def close(self) -> None:
        SnsPublisher._send = self._inner  # type: ignore[method-assign]


class Starts:
    """The first callback start of each (plugin, event): its time, and the event's `created_at`."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, int], tuple[float, float | None]] = {}
        self._lock = threading.Lock()

    def wrap(self, registration: Registration) -> None:
        """Note the start before the callback (and the pipeline's own record) runs."""
        inner, plugin = registration.callback, registration.plugin

        @functools.wraps(inner)  # the effect-once key is the callback's name: keep it
        def timed(sg: Any, log: Any, event: dict[str, Any], args: Any) -> Any:
            now = time.time()
            created = event.get("created_at")
            with self._lock:
                self.first.setdefault(
                    (plugin, int(event["id"])),
                    (now, created.timestamp() if isinstance(created, datetime) else None),
                )
            return inner(sg, log, event, args)

        registration.callback = timed


def poller_schedule(stack: EmbeddedStack) -> tuple[float, float, float]:
    """The poller's schedule period, function timeout and safety margin, in seconds, as the
    template sets them."""
    resources = stack.template["Resources"]
    (schedule,) = [name for name, r in resources.items() if r["Type"] == "AWS::Scheduler::Schedule"]
    expression = stack.properties(schedule)["ScheduleExpression"]
    rate = re.fullmatch(r"rate\((\d+) minutes?\)", expression)
    assert rate, f"unexpected poller schedule {expression!r}"
    margin = float(stack.environment("PollerFunction")["SAFETY_MARGIN_SECONDS"])
    return int(rate.group(1)) * 60.0, float(stack.properties("PollerFunction")["Timeout"]), margin


def run_row(row: Row, seconds: float, rate: float, workdir: Path) -> None:
    template_schedule = row.schedule != "whole run"
    emulator = FptEmulator(seed=1)
    emulator.start()
    commits: dict[int, float] = {}
    emulator.site.on_commit(lambda tx: commits.update(dict.fromkeys(tx.event_ids, time.time())))
    published = PublishTimes()
    pipeline = EmbeddedPipeline(
        emulator,
        ROOT / "template.yaml",
        workdir,
        poll_interval=row.interval,
        doorbell=row.doorbell,
        concurrency=CONCURRENCY,
        schedule_seconds=WHOLE_RUN,
        invocation_seconds=WHOLE_RUN,
    )
    try:
        stack = pipeline.start()
        if template_schedule:
            schedule = poller_schedule(stack)
            pipeline.schedule_seconds, pipeline.invocation_seconds, pipeline.safety_margin = schedule
        starts = Starts()
        for runtime in pipeline.plugins.values():
            for registration in runtime.registrations:
                starts.wrap(registration)
        state = DynamoDBStateStore(stack.outputs.state_table, emulator.url, stack.client("dynamodb"))
        first = emulator.site.last_event_id
        initialise(state, first)
        pipeline.start_poller()
        studio = DemoStudio(emulator, workdir / "shots", seed=1)
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            while emulator.site.last_event_id - first < rate * elapsed:
                studio.act()
            time.sleep(0.01)
        row.seconds = time.monotonic() - started
        row.events = emulator.site.last_event_id - first
        row.drained = drain(pipeline, state, emulator)
        for (plugin, event_id), (at, created) in starts.first.items():
            if created is not None:
                row.from_created.setdefault(plugin, []).append(at - created)
            if event_id in commits:
                row.from_commit.setdefault(plugin, []).append(at - commits[event_id])
        row.poller = [published.at[i] - commits[i] for i in published.at if i in commits]
        row.publish_batch = published.calls
    finally:
        published.close()
        pipeline.stop()
        emulator.stop()


def drain(pipeline: EmbeddedPipeline, state: DynamoDBStateStore, emulator: FptEmulator) -> bool:
    """Until the cursor has the last event and every queue is idle, twice (plugins write events too)."""
    deadline = time.monotonic() + 120
    quiet = 0
    while time.monotonic() < deadline and quiet < 2:
        last = emulator.site.last_event_id
        loaded = state.load()
        idle = pipeline.wait_drained(timeout=max(0.1, deadline - time.monotonic()))
        caught_up = loaded is not None and loaded.state.cursor >= last
        quiet = quiet + 1 if caught_up and idle and last == emulator.site.last_event_id else 0
        time.sleep(0.5)
    return quiet >= 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the studio works per row")
    parser.add_argument("--rate", type=float, default=20.0, help="events a second")
    parser.add_argument(
        "--quick", action="store_true", help="15 s a row; interval 2 s only, without the template's schedule"
    )
    parser.add_argument("--row", help=argparse.SUPPRESS)  # one row, in a process of its own: JSON out
    args = parser.parse_args()
    if args.row:
        one_row(Row(**json.loads(args.row)), args.seconds, args.rate)
        return
    if args.quick:
        args.seconds = 15.0
    intervals = (2.0,) if args.quick else (1.0, 2.0)
    rows = [Row("whole run", interval, bell) for interval in intervals for bell in (False, True)]
    if not args.quick:  # a minute of activity meets one gap between two invocations
        rows.append(Row("template's (1/min)", 2.0, False))
    print(f"machine: {machine()}")
    for number, row in enumerate(rows, start=1):
        progress(f"row {number}/{len(rows)}: {row.label}")
        # Each row in a fresh process: moto's state and the handlers' cached clients are per process.
        command = [sys.executable, __file__, "--seconds", str(args.seconds), "--rate", str(args.rate)]
        spec = json.dumps({"schedule": row.schedule, "interval": row.interval, "doorbell": row.doorbell})
        done = subprocess.run([*command, "--row", spec], stdout=subprocess.PIPE, text=True, check=True)
        rows[number - 1] = row = Row(**json.loads(done.stdout.strip().splitlines()[-1]))
        if not row.drained:
            progress("  ! the pipeline did not drain within 120 s: some callbacks are missing from this row")
    report(rows, args)


def one_row(row: Row, seconds: float, rate: float) -> None:
    warnings.filterwarnings("ignore", message="Tried to parse AWS")  # moto's CloudFormation skipping types
    with tempfile.TemporaryDirectory(prefix="live-latency-") as tmp:
        workdir = Path(tmp)
        (workdir / "shots").mkdir()
        with quiet_logs(workdir / "logs.jsonl"):
            run_row(row, seconds, rate, workdir)
    print(json.dumps(asdict(row)))


def report(rows: list[Row], args: argparse.Namespace) -> None:
    table = []
    for row in rows:
        created, commit = row.pooled(row.from_created), row.pooled(row.from_commit)
        p99, limit = percentile(created, 99), row.interval + 1
        table.append(
            [
                row.schedule,
                f"{row.interval:g} s",
                "on" if row.doorbell else "off",
                f"{row.events / row.seconds:.1f}",
                len(created),
                f"{percentile(created, 50):.2f} s",
                f"{percentile(created, 95):.2f} s",
                f"{p99:.2f} s",
                f"{percentile(commit, 50):.2f} s",
                f"{percentile(commit, 99):.2f} s",
                f"{percentile(row.poller, 99):.2f} s",
                f"{percentile(row.publish_batch, 50) * 1000:.0f} ms",
                f"{limit:g} s",
                f"{p99 / limit:.2f}",
            ]
        )
    print_table(
        f"Live latency to callback start, all plugins; {args.rate:g} events/s for {args.seconds:g} s a row",
        [
            "poller schedule",
            "POLL_INTERVAL",
            "doorbell",
            "events/s",
            "callbacks",
            "p50",
            "p95",
            "p99",
            "from commit: p50",
            "p99",
            "commit -> SNS p99",
            "PublishBatch p50",
            "target p99",
            "p99 ÷ target",
        ],
        table,
    )
    detail = []
    for row in rows:
        for plugin, values in sorted(row.from_created.items()):
            detail.append(
                [
                    row.label,
                    plugin,
                    len(values),
                    f"{percentile(values, 50):.2f} s",
                    f"{percentile(values, 95):.2f} s",
                    f"{percentile(values, 99):.2f} s",
                    f"{percentile(row.from_commit.get(plugin, []), 99):.2f} s",
                ]
            )
    print_table(
        "Per plugin (from created_at; last column from the commit)",
        ["row", "plugin", "callbacks", "p50", "p95", "p99", "p99 from commit"],
        detail,
    )


@contextlib.contextmanager
def quiet_logs(path: Path) -> Any:
    """The handlers' JSON lines and EMF blobs go to a file; the terminal gets the tables."""
    handler = logger.registered_handler
    for noisy in ("werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    with open(path, "a") as stream:
        previous = handler.setStream(stream) if isinstance(handler, logging.StreamHandler) else None
        try:
            with contextlib.redirect_stdout(stream):
                yield
        finally:
            if previous is not None and isinstance(handler, logging.StreamHandler):
                handler.setStream(previous)


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
