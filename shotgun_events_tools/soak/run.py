"""The soak: the deployed pipeline under load and faults, then a verdict from real effects.

On the demo's embedded pipeline (moto's server as AWS, the stack from a copy of `template.yaml`
with the soak plugins, the real poller and dispatch handlers, Lambda's SQS event source stand-in):

1. `SoakStudio` makes `events` changes at `rate` per second, some held open up to the backlog
   timeout, some rolled back, a few too large for SNS; a tenth of the way in, the poisoned event.
2. All along: FPT answers `fpt_fault_rate` of its calls with a 503, the same share with a dropped
   connection and the same with a hang (longer than the poller's client timeout); SNS and SQS
   calls fail at `aws_fault_rate` (`AwsFaults`); the flaky plugin fails `plugin_failure_rate` of its
   calls; the poller is killed `kills` times at random points of its pass (`PollerKiller`), each
   followed by a cold start, as Lambda gives a new environment after a crash.
3. Drain: every delayed commit done, the poller caught up past everything committed, every queue
   idle; the poisoned event must be in the flaky plugin's DLQ.
4. The fix: the flaky plugin is rewritten and redeployed, its DLQ redriven by the operator's
   `shotgun-events redrive`; drained again.
5. Verdict (`verdict`) per plugin, from the effect files against the emulator's committed log.

Moto limitation worked around here (not in the product): none needed beyond the embedded
stack's own (see `shotgun_events_tools.stack.embedded`).
"""

from __future__ import annotations

import functools
import json
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3

from fpt_emulator import FptEmulator
from shotgun_events.poller import initialise
from shotgun_events.poller.state_store import DynamoDBStateStore
from shotgun_events_tools.demo.pipeline import REGION, STACK_NAME, EmbeddedPipeline
from shotgun_events_tools.demo.run import logs_to
from shotgun_events_tools.ports import free_port
from shotgun_events_tools.soak.faults import AwsFaults, PollerCrash, PollerKiller
from shotgun_events_tools.soak.project import FLAKY, STEADY, SoakProject, create_project
from shotgun_events_tools.soak.verdict import (
    SoakVerdict,
    expected_ids,
    failed_attempts,
    read_effects,
    verdict,
)
from shotgun_events_tools.soak.workload import SoakStudio

FIRST_KILL_POINT = "before reading its state"  # reached by every invocation
# An event source's pause after an empty receive (the demo's 0.05 s costs this busy process more
# moto requests than the events themselves: latency is not what the soak measures).
IDLE_WAIT = 0.5


@dataclass
class SoakOptions:
    template: Path
    events: int = 50_000
    rate: float = 40.0  # changes per second (about what this pipeline on moto keeps up with on 2 cores)
    shots: int = 1_000
    backlog_timeout: float = 60.0
    delay_rate: float = 0.1  # share of transactions held open up to the backlog timeout
    rollback_rate: float = 0.02
    oversize_rate: float = 0.001
    fpt_fault_rate: float = 0.05  # each of: 503, dropped connection, hang
    aws_fault_rate: float = 0.05
    plugin_failure_rate: float = 0.05
    kills: int = 20
    concurrency: int = 4
    schedule_seconds: float = 10.0  # the poller's invocations (scaled down from a minute)
    fpt_timeout: float = 2.0  # the poller's SHOTGUN_TIMEOUT_SECONDS
    visibility_timeout: int = 10  # the queues' receives (scaled down from 6x the function timeout)
    max_receive_count: int = 10
    max_queued: int = 500  # the studio waits while a plugin queue holds more (moto slows with length)
    drain_timeout: float = 600.0
    seed: int = 1
    workdir: Path | None = None


@dataclass
class SoakResult:
    events: int  # committed during the soak
    rolled_back: int
    delayed: int
    oversize: int
    poisoned_event: int
    parked_before_fix: list[int]
    redriven: int
    poison_effects_after_redrive: int
    kills: list[str]
    poller_errors: dict[str, int]
    aws_faults: dict[str, int]
    fpt_faults: dict[str, int]
    fpt_calls: int
    seconds: dict[str, float]
    studio_paused: float
    plugins: list[SoakVerdict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


class Soak:
    def __init__(self, options: SoakOptions, progress: Callable[[str], None] = lambda line: None):
        self.options = options
        self.progress = progress
        self.workdir = options.workdir or Path(tempfile.mkdtemp(prefix="shotgun-events-soak-"))
        self.emulator = FptEmulator(seed=options.seed, port=free_port())
        self.studio = SoakStudio(
            self.emulator,
            shots=options.shots,
            seed=options.seed,
            max_delay=options.backlog_timeout,
            delay_rate=options.delay_rate,
            rollback_rate=options.rollback_rate,
            oversize_rate=options.oversize_rate,
        )
        self.project: SoakProject = create_project(
            self.workdir / "project", options.template, self.studio.poison_shot, options.plugin_failure_rate
        )
        self.aws_faults = AwsFaults(options.aws_fault_rate, options.seed)
        self.killer = PollerKiller(options.seed)
        session = boto3.Session(region_name=REGION)
        self.aws_faults.attach(session.events)  # the event sources' and the redrive's clients
        self.pipeline = EmbeddedPipeline(
            self.emulator,
            self.project.template,
            self.workdir,
            concurrency=options.concurrency,
            schedule_seconds=options.schedule_seconds,
            max_receive_count=options.max_receive_count,
            visibility_timeout=options.visibility_timeout,
            doorbell=False,
            parameters={"BacklogTimeoutSeconds": str(options.backlog_timeout)},
            poller_environment={"SHOTGUN_TIMEOUT_SECONDS": str(options.fpt_timeout)},
            session=session,
            idle_wait=IDLE_WAIT,
        )
        self.poller_errors: Counter[str] = Counter()
        self.fpt_faults: Counter[str] = Counter()
        decide = self.emulator.faults.decide

        def counted(method: str | None) -> Any:  # what the emulator did to each call, for the summary
            decision = decide(method)
            if decision.kind is not None:
                self.fpt_faults[f"{method} {decision.kind}"] += 1
            return decision

        self.emulator.faults.decide = counted  # type: ignore[method-assign]
        self.start_id = 0
        self.poisoned = 0
        self.paused = 0.0  # seconds the studio waited for the plugins to catch up
        self._stop_poller = threading.Event()
        self._rng = random.Random(f"{options.seed}:soak")

    # -- the run --------------------------------------------------------------------------------------

    def run(self) -> SoakResult:
        seconds: dict[str, float] = {}
        with open(self.workdir / "logs.jsonl", "a") as logs, logs_to(logs):
            self.emulator.start()
            poller = threading.Thread(target=self._poll, name="soak-poller", daemon=True)
            try:
                started = time.monotonic()
                self.pipeline.start()
                self.start_id = self.emulator.site.last_event_id
                initialise(self._store(), self.start_id)
                seconds["setup"] = time.monotonic() - started
                self._faults(on=True)
                poller.start()
                seconds["workload"] = self._timed(self._work)
                seconds["drain"] = self._timed(self._drain)
                with self.aws_faults.suspended():
                    parked = self.pipeline.dead_letter_ids(FLAKY)
                effects_before = len(read_effects(self.project.effects(FLAKY)))
                self.project.write_flaky(fixed=True)
                self.pipeline.redeploy(FLAKY)
                redriven = self._redrive(FLAKY)
                seconds["redrive"] = self._timed(self._drain)
                self._faults(on=False)
                self._stop_poller.set()
                poller.join(timeout=60)
                result = self._verdicts(parked, redriven, effects_before, seconds)
            finally:
                self._stop_poller.set()
                self.pipeline.stop()
                self.emulator.stop()
        return result

    @staticmethod
    def _timed(step: Callable[[], None]) -> float:
        started = time.monotonic()
        step()
        return round(time.monotonic() - started, 1)

    @functools.cached_property
    def _inspect(self) -> tuple[DynamoDBStateStore, Any]:
        """The soak's own view of the poller's state and the queues (its clients are not faulted)."""
        stack = self.pipeline.stack
        assert stack is not None
        dynamodb = boto3.client("dynamodb", endpoint_url=self.pipeline.endpoint_url)
        sqs = boto3.client("sqs", endpoint_url=self.pipeline.endpoint_url)
        return DynamoDBStateStore(stack.outputs.state_table, self.emulator.url, dynamodb), sqs

    def _store(self) -> DynamoDBStateStore:
        return self._inspect[0]

    def _queued(self, queue_url: str) -> tuple[int, int]:
        """(waiting, in flight) messages of a queue."""
        attributes = self._inspect[1].get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def _backlogged(self) -> bool:
        """A plugin queue holds more than `max_queued`: the studio waits (moto slows with queue length)."""
        return any(
            sum(self._queued(runtime.source.queue_url)) > self.options.max_queued
            for runtime in self.pipeline.plugins.values()
        )

    def _faults(self, on: bool) -> None:
        self.aws_faults.enabled = on
        rate = self.options.fpt_fault_rate if on else 0.0
        self.emulator.faults.set(
            error_503_rate=rate, drop_rate=rate, hang_rate=rate, hang_seconds=self.options.fpt_timeout + 1
        )

    # -- the poller: its schedule, killed and cold-started -------------------------------------------

    def _cold_start(self) -> None:
        """A new Lambda environment: the handler's cached clients are built afresh (and hooked)."""
        from functions.poller import app

        app._adapters.cache_clear()
        _, _, dynamodb, sns = app._adapters(float(self.options.fpt_timeout))
        self.killer.attach(sns, dynamodb)
        self.aws_faults.attach(sns.meta.events)

    def _poll(self) -> None:
        cold = True
        while not self._stop_poller.is_set():
            tick = time.monotonic()
            if cold:
                self._cold_start()
            cold = False
            try:
                self.pipeline.invoke_poller()
            except PollerCrash:
                cold = True
            except Exception as exc:  # logged by the handler; the next tick polls again, as in Lambda
                self.poller_errors[type(exc).__name__] += 1
            self._stop_poller.wait(max(0.0, self.options.schedule_seconds - (time.monotonic() - tick)))

    # -- the studio ---------------------------------------------------------------------------------------

    def _work(self) -> None:
        options = self.options
        kills_at = [options.events * (i + 1) // (options.kills + 1) for i in range(options.kills)]
        interval = 1.0 / options.rate
        next_at = reported = checked = time.monotonic()
        for done in range(options.events):
            if kills_at and done >= kills_at[0] and not self.killer.armed:
                kills_at.pop(0)
                self.killer.arm()
            if done == options.events // 10:
                self.poisoned = self.studio.poison()
            self.studio.act()
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() - checked >= 1:
                checked = time.monotonic()
                while self._backlogged():
                    time.sleep(1.0)
                    self.paused += 1.0
                next_at = max(next_at, time.monotonic())
            if time.monotonic() - reported >= 5:
                reported = time.monotonic()
                self.progress(self._status(f"{done + 1}/{options.events} changes"))
        # Kills still due (their point may not come again without new events): at the next invocations.
        while len(self.killer.fired) < options.kills:
            if self.killer.armed_at != FIRST_KILL_POINT:
                self.killer.arm(FIRST_KILL_POINT, skip=0)
            time.sleep(0.2)

    def _status(self, what: str) -> str:
        loaded = self._store().load()
        cursor = loaded.state.cursor - self.start_id if loaded else 0
        queues = ", ".join(
            "{} {}+{}".format(name, *self._queued(runtime.source.queue_url))
            for name, runtime in self.pipeline.plugins.items()
        )
        return (
            f"{what}; committed {self.emulator.site.last_event_id - self.start_id}, poller cursor {cursor}, "
            f"backlog {len(loaded.state.backlog) if loaded else 0}, queued+in flight {queues}, "
            f"kills {len(self.killer.fired)}/{self.options.kills}"
        )

    # -- draining and the redrive ------------------------------------------------------------------------

    def _caught_up(self) -> bool:
        """The poller has published everything committed (the backlog holds rolled-back ids at most)."""
        loaded = self._store().load()
        if loaded is None or loaded.state.cursor < self.emulator.site.last_event_id:
            return False
        waiting = set(loaded.state.backlog) - set(self.emulator.site.rolled_back_event_ids)
        return not waiting

    def _drain(self) -> None:
        deadline = time.monotonic() + self.options.drain_timeout
        if not self.emulator.wait_for_commits(self.options.drain_timeout):
            raise RuntimeError("delayed commits did not all happen")
        quiet = 0
        reported = time.monotonic()
        while quiet < 2:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"not drained within {self.options.drain_timeout} s: {self._status('drain')}"
                )
            if time.monotonic() - reported >= 5:
                reported = time.monotonic()
                self.progress(self._status("draining"))
            caught_up = self._caught_up()
            idle = self.pipeline.wait_drained(timeout=max(0.1, min(5.0, deadline - time.monotonic())))
            quiet = quiet + 1 if caught_up and idle else 0
            time.sleep(0.2)

    def _redrive(self, plugin: str) -> int:
        """The operator's `shotgun-events redrive` on the stack (its own clients: not faulted); the
        number of events it moved."""
        from shotgun_events_tools.cli import main

        with self.aws_faults.suspended():
            parked = len(self.pipeline.dead_letter_ids(plugin))
        argv = [
            "redrive",
            "--stack",
            STACK_NAME,
            "--region",
            REGION,
            "--endpoint-url",
            self.pipeline.endpoint_url,
        ]
        if main([*argv, plugin]) != 0:
            raise RuntimeError(f"shotgun-events redrive {plugin} failed (its line is in the log)")
        return parked

    # -- the verdict ------------------------------------------------------------------------------------

    def _verdicts(
        self, parked: list[int], redriven: int, effects_before: int, seconds: dict[str, float]
    ) -> SoakResult:
        committed = self.emulator.site.events(self.start_id)
        record = self.pipeline.record
        verdicts = []
        for name in (STEADY, FLAKY):
            effects = read_effects(self.project.effects(name))
            expected = expected_ids(self.pipeline.plugins[name].registrations, committed)
            verdicts.append(
                verdict(
                    name,
                    expected,
                    effects,
                    self.pipeline.dead_letter_ids(name),
                    failed_attempts(record.started, record.completed, name),
                )
            )
        flaky_effects = read_effects(self.project.effects(FLAKY))
        poison_after = sum(1 for e in flaky_effects[effects_before:] if e.event_id == self.poisoned)
        stats = self.studio.stats
        result = SoakResult(
            events=len(committed),
            rolled_back=stats.rolled_back,
            delayed=stats.delayed,
            oversize=stats.oversize,
            poisoned_event=self.poisoned,
            parked_before_fix=parked,
            redriven=redriven,
            poison_effects_after_redrive=poison_after,
            kills=list(self.killer.fired),
            poller_errors=dict(self.poller_errors),
            aws_faults=dict(self.aws_faults.counts),
            fpt_faults=dict(self.fpt_faults),
            fpt_calls=len(self.emulator.calls),
            seconds=seconds,
            studio_paused=self.paused,
            plugins=verdicts,
        )
        result.problems = [line for v in verdicts for line in v.broken]
        if parked != [self.poisoned]:
            result.problems.append(
                f"{FLAKY}'s DLQ held {parked} before the fix, not the poisoned {self.poisoned}"
            )
        if poison_after != 1:
            result.problems.append(
                f"the poisoned event {self.poisoned} ran {poison_after} times after the redrive"
            )
        if len(self.killer.fired) != self.options.kills:
            result.problems.append(
                f"the poller was killed {len(self.killer.fired)} times, not {self.options.kills}"
            )
        return result


def run_soak(options: SoakOptions, progress: Callable[[str], None] = lambda line: None) -> SoakResult:
    return Soak(options, progress).run()
