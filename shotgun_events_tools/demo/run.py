"""`shotgun-events demo`: the whole pipeline for about a minute, then a verdict.

The FPT emulator's seeded studio is the site, the stack from `template.yaml` runs on moto's server,
`DemoStudio` works at `rate` actions per second (every example plugin fires; one Shot is poisoned),
and a live table shows the flow. At the end the pipeline drains and the summary is checked against
the emulator's own record: exit status 0 only when nothing was lost or doubled and the DLQ holds
exactly the poisoned event.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from fpt_emulator import FptEmulator
from shotgun_events.observability import logger
from shotgun_events.poller import initialise
from shotgun_events.poller.state_store import DynamoDBStateStore
from shotgun_events_tools.demo.pipeline import EmbeddedPipeline
from shotgun_events_tools.demo.report import PluginVerdict, problems, verdict
from shotgun_events_tools.demo.studio import DemoStudio
from shotgun_events_tools.ports import free_port

POISONED_PLUGIN = "create_shot_directories"


@dataclass
class DemoOptions:
    template: Path
    duration: float = 60.0
    rate: float = 2.0
    concurrency: int = 10
    poll_interval: float = 1.0
    fpt_port: int = 0
    aws_port: int = 0
    seed: int = 1
    workdir: Path | None = None
    live: bool = True
    doorbell: bool = True
    summary_json: Path | None = None


@contextlib.contextmanager
def logs_to(stream: IO[str]) -> Any:
    """The handlers' JSON lines and EMF metrics go to a file: the terminal shows the live table."""
    handler = logger.registered_handler
    previous = handler.setStream(stream) if isinstance(handler, logging.StreamHandler) else None
    for noisy in ("werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(stream):  # Powertools prints EMF blobs to stdout
            yield
    finally:
        if previous is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(previous)


class Demo:
    def __init__(self, options: DemoOptions, console: Console):
        self.options = options
        self.console = console
        self.workdir = options.workdir or Path(tempfile.mkdtemp(prefix="shotgun-events-demo-"))
        self.emulator = FptEmulator(seed=options.seed, port=free_port(options.fpt_port, "FPT emulator port"))
        self.pipeline = EmbeddedPipeline(
            self.emulator,
            options.template,
            self.workdir,
            aws_port=options.aws_port,
            concurrency=options.concurrency,
            poll_interval=options.poll_interval,
            doorbell=options.doorbell,
        )
        self.start_id = 0
        self.poisoned: dict[str, int] = {}
        self.effects: dict[str, int] = {}
        self.started = time.monotonic()

    def cursor(self) -> int:
        stack = self.pipeline.stack
        assert stack is not None
        loaded = DynamoDBStateStore(
            stack.outputs.state_table, self.emulator.url, stack.client("dynamodb")
        ).load()
        return loaded.state.cursor if loaded else self.start_id

    def run(self) -> int:
        (self.workdir / "shots").mkdir(parents=True, exist_ok=True)
        with open(self.workdir / "logs.jsonl", "a") as logs, logs_to(logs):
            self.emulator.start()
            try:
                stack = self.pipeline.start()
                self.start_id = self.emulator.site.last_event_id
                store = DynamoDBStateStore(
                    stack.outputs.state_table, self.emulator.url, stack.client("dynamodb")
                )
                initialise(store, self.start_id)  # publish everything from here on
                self.pipeline.start_poller()
                studio = DemoStudio(self.emulator, self.workdir / "shots", seed=self.options.seed)
                self._work(studio)
                drained = self._drain()
                verdicts = self._verdicts()
                self.effects = self._effects()
            finally:
                self.pipeline.stop()
                self.emulator.stop()
        return self._summary(verdicts, drained)

    def _work(self, studio: DemoStudio) -> None:
        self.started = time.monotonic()
        interval = 1.0 / self.options.rate if self.options.rate > 0 else self.options.duration
        end = self.started + self.options.duration
        poison_at = self.started + self.options.duration / 3
        next_action = time.monotonic()
        live_view = (
            Live(self._view(), console=self.console, refresh_per_second=2) if self.options.live else None
        )
        with live_view or contextlib.nullcontext() as live:
            while time.monotonic() < end:
                if not self.poisoned and time.monotonic() >= poison_at:
                    self.poisoned[POISONED_PLUGIN] = self._poison_event(studio.poison())
                if time.monotonic() >= next_action:
                    studio.act()
                    next_action += interval
                if live is not None:
                    live.update(self._view())
                time.sleep(min(0.1, max(0.0, next_action - time.monotonic())))
            if not self.poisoned:
                self.poisoned[POISONED_PLUGIN] = self._poison_event(studio.poison())
            if live is not None:
                live.update(self._view())

    def _poison_event(self, shot_id: int) -> int:
        for event in self.emulator.site.events(self.start_id):
            if event["event_type"] == "Shotgun_Shot_New" and (event.get("entity") or {}).get("id") == shot_id:
                return int(event["id"])
        raise RuntimeError(f"the poisoned Shot {shot_id} wrote no Shotgun_Shot_New event")

    def _drain(self, timeout: float = 90.0) -> bool:
        """Until the poller has published the last committed event and every plugin queue is idle."""
        deadline = time.monotonic() + timeout
        quiet_rounds = 0
        while time.monotonic() < deadline:
            last = self.emulator.site.last_event_id
            caught_up = self.cursor() >= last
            idle = self.pipeline.wait_drained(timeout=max(0.1, deadline - time.monotonic()))
            quiet_rounds = (
                quiet_rounds + 1 if caught_up and idle and last == self.emulator.site.last_event_id else 0
            )
            if quiet_rounds >= 2:  # plugins' own writes make new events: wait for those too
                self.pipeline.stop_poller()
                return True
            time.sleep(0.5)
        self.pipeline.stop_poller()
        return False

    def _effects(self) -> dict[str, int]:
        """Writes each plugin's script user made on the site: its visible effect."""
        return {name: len(self.emulator.writes_by(script)) for name, script in self.pipeline.scripts.items()}

    def _verdicts(self) -> list[PluginVerdict]:
        committed = self.emulator.site.events(self.start_id)
        record = self.pipeline.record
        return [
            verdict(
                name,
                runtime.registrations,
                committed,
                record.started,
                record.completed,
                self.pipeline.dead_letter_ids(name),
                record.delays.get(name, []),
            )
            for name, runtime in self.pipeline.plugins.items()
        ]

    def _view(self) -> Group:
        site = self.emulator.site
        elapsed = time.monotonic() - self.started
        head = Table.grid(padding=(0, 3))
        head.add_row(
            f"[b]shotgun-events demo[/b]  {elapsed:4.0f} s / {self.options.duration:.0f} s",
            f"events committed [b]{site.last_event_id - self.start_id}[/b]",
            f"published (poller cursor) [b]{max(0, self._safe_cursor() - self.start_id)}[/b]",
            f"poller runs {len(self.pipeline.poller_runs)}",
        )
        table = Table(title=None, expand=False)
        for column in ("plugin", "processed", "failed attempts", "queued", "in flight", "in DLQ"):
            table.add_column(column, justify="right" if column != "plugin" else "left")
        record = self.pipeline.record
        for name in self.pipeline.plugins:
            done = sum(len(v) for (p, _), v in record.completed.items() if p == name)
            started = sum(len(v) for (p, _), v in record.started.items() if p == name)
            urls = self.pipeline.stack.outputs.plugin(name) if self.pipeline.stack else None
            queued, in_flight = self.pipeline.queue_counts(urls.queue_url) if urls else (0, 0)
            dlq = sum(self.pipeline.queue_counts(urls.dead_letter_queue_url)) if urls else 0
            table.add_row(name, str(done), str(started - done), str(queued), str(in_flight), str(dlq))
        return Group(head, table)

    def _safe_cursor(self) -> int:
        try:
            return self.cursor()
        except Exception:  # the table may not exist yet while the stack is being created
            return self.start_id

    def _summary(self, verdicts: list[PluginVerdict], drained: bool) -> int:
        committed = self.emulator.site.last_event_id - self.start_id
        table = Table(title=f"shotgun-events demo: {committed} events in, {self.options.duration:.0f} s")
        columns = ("plugin", "expected", "delivered", "failed attempts", "in DLQ", "duplicated", "lost",
                   "p50 ms", "p99 ms")  # fmt: skip
        for column in columns:
            table.add_column(column, justify="left" if column == "plugin" else "right")
        self.console.print()
        for v in verdicts:
            table.add_row(
                v.name,
                str(v.expected),
                str(v.delivered),
                str(v.failed_attempts),
                ", ".join(map(str, v.dead_letters)) or "0",
                str(len(v.duplicated)),
                str(len(v.lost)),
                _fmt(v.p50_ms),
                _fmt(v.p99_ms),
            )
        self.console.print(table)
        broken = problems(verdicts, self.poisoned)
        if not drained:
            broken.append("the pipeline did not drain within 90 s after the activity stopped")
        if self.pipeline.poller_errors:
            broken.append(f"poller errors: {'; '.join(self.pipeline.poller_errors[:3])}")
        self.console.print(f"logs: {self.workdir / 'logs.jsonl'}")
        if self.options.summary_json:
            summary = {
                "events": committed,
                "poisoned": self.poisoned,
                "problems": broken,
                "plugins": [asdict(v) for v in verdicts],
                "writes": {name: self.effects.get(name, 0) for name in self.pipeline.plugins},
            }
            self.options.summary_json.write_text(json.dumps(summary, indent=1))
        if broken:
            for line in broken:
                self.console.print(f"[red]FAIL[/red] {line}")
            return 1
        poisoned = ", ".join(f"event {e} in {p}'s DLQ" for p, e in self.poisoned.items())
        self.console.print(
            f"[green]OK[/green] nothing lost, nothing doubled; the poisoned {poisoned}, as designed"
        )
        return 0


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.0f}"


def run_demo(options: DemoOptions, console: Console | None = None) -> int:
    # The terminal itself: stdout is redirected to the log file while the pipeline runs.
    terminal = sys.__stdout__ or sys.stdout
    console = console or Console(file=terminal, width=None if terminal.isatty() else 120)
    return Demo(options, console).run()
