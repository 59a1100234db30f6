"""Soak with faults: the deployed pipeline on one machine under load and faults, then a verdict.

50,000 changes (some held open up to the backlog timeout, some rolled back); FPT 503s, dropped
connections and hangs at 5 % each; SNS/SQS calls failing at 5 %; the poller killed at 20 random points
of its pass; a plugin failing 5 % of its calls and always failing one event until its fix is deployed
and its DLQ redriven. Then, per plugin: expected / delivered / duplicated / lost / out of order per
entity / in DLQ, from each plugin's real effects against the emulator's own record of what committed.
Exit status 0 only when every broken-promise column is 0 and the poisoned event ran once after the
redrive. `shotgun_events_tools.soak` has the details; a reduced run is part of `make test`.

    .venv/bin/python bench/soak.py                       # the full soak (about 10 minutes)
    .venv/bin/python bench/soak.py --events 2000 --kills 3 --backlog-timeout 4 --rate 200
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path

from rich.console import Console
from rich.table import Table

from shotgun_events_tools.soak import SoakOptions, SoakResult, run_soak

ROOT = Path(__file__).resolve().parents[1]
HELP = {
    "events": "changes the studio makes (one event id each)",
    "rate": "changes per second",
    "shots": "Shots the changes are spread over (one message group each)",
    "backlog_timeout": "BACKLOG_TIMEOUT_SECONDS; held transactions commit within it",
    "delay_rate": "share of transactions held open (up to the backlog timeout)",
    "rollback_rate": "share of transactions rolled back",
    "oversize_rate": "share of changes too large for SNS (sent as references, re-read by dispatch)",
    "fpt_fault_rate": "FPT calls answered with a 503, and as many dropped, and as many hanging",
    "aws_fault_rate": "SNS/SQS calls failing (Throttling, InternalError, PublishBatch entries failed)",
    "plugin_failure_rate": "calls of the flaky plugin that fail transiently",
    "kills": "times the poller is killed at a random point of its pass",
    "concurrency": "batches at once per plugin (the event source mapping's concurrency)",
    "schedule_seconds": "the poller's schedule (each invocation runs just under it)",
    "fpt_timeout": "the poller's FPT client timeout (SHOTGUN_TIMEOUT_SECONDS)",
    "visibility_timeout": "the plugin queues' visibility timeout on receive",
    "max_receive_count": "deliveries before an event is parked in the DLQ",
    "max_queued": "the studio waits while a plugin queue holds more messages (moto slows with length)",
    "drain_timeout": "longest wait for the pipeline to drain",
    "seed": "seed of the workload and the faults",
}


def parse(argv: list[str]) -> tuple[SoakOptions, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = SoakOptions(template=ROOT / "template.yaml")
    for option in fields(SoakOptions):
        if option.name in HELP:
            default = getattr(defaults, option.name)
            parser.add_argument(
                f"--{option.name.replace('_', '-')}",
                type=type(default),
                default=default,
                help=f"{HELP[option.name]} (default {default})",
            )
    parser.add_argument("--workdir", type=Path, help="keep the project, effects and logs here")
    parser.add_argument("--summary-json", type=Path, help="write the result as JSON here")
    args = vars(parser.parse_args(argv))
    summary = args.pop("summary_json")
    return SoakOptions(template=ROOT / "template.yaml", **args), summary


def show(result: SoakResult, console: Console) -> None:
    console.print(
        f"{result.events} events committed ({result.rolled_back} transactions rolled back, "
        f"{result.delayed} held open, {result.oversize} oversize); poller killed {len(result.kills)} times; "
        f"poller invocations that failed: {result.poller_errors or 'none'}; "
        f"FPT calls {result.fpt_calls}, faulted {sum(result.fpt_faults.values())}; "
        f"AWS faults injected {sum(result.aws_faults.values())}"
    )
    table = Table(title="soak: per plugin, from its effects against the site's committed events")
    for column in ("plugin", "expected", "delivered", "failed attempts", "duplicated", "lost",
                   "unexpected", "out of order", "in DLQ"):  # fmt: skip
        table.add_column(column, justify="left" if column == "plugin" else "right")
    for v in result.plugins:
        table.add_row(
            v.plugin,
            str(v.expected),
            str(v.delivered),
            str(v.failed_attempts),
            str(len(v.duplicated)),
            str(len(v.lost)),
            str(len(v.unexpected)),
            str(len(v.out_of_order)),
            str(len(v.in_dlq)),
        )
    console.print(table)
    console.print(
        f"poisoned event {result.poisoned_event}: parked {result.parked_before_fix} before the fix, "
        f"{result.redriven} redriven, ran {result.poison_effects_after_redrive} time(s) after the redrive"
    )
    console.print(
        f"seconds: {result.seconds}; the studio waited {result.studio_paused:.0f} s for the plugins"
    )


def main(argv: list[str] | None = None) -> int:
    options, summary = parse(sys.argv[1:] if argv is None else argv)
    console = Console(file=sys.__stdout__ or sys.stdout, width=140)
    started = time.monotonic()
    result = run_soak(options, progress=lambda line: console.print(f"[dim]{line}[/dim]"))
    show(result, console)
    if summary is not None:
        summary.write_text(result.to_json())
    for line in result.problems:
        console.print(f"[red]FAIL[/red] {line}")
    if not result.problems:
        console.print(
            f"[green]OK[/green] nothing lost, doubled or reordered ({time.monotonic() - started:.0f} s)"
        )
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
