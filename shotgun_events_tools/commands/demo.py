"""`shotgun-events demo`: the whole pipeline on one machine, about a minute, then a checked summary."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shotgun_events_tools.cli import CommandError

EPILOG = """examples:
  shotgun-events demo                       # about a minute, live table, then the summary
  shotgun-events demo --duration 20 --rate 5 --concurrency 4
exit status: 0 when nothing was lost or doubled and the DLQ holds exactly the poisoned event
"""


def run(args: argparse.Namespace) -> int:
    from shotgun_events_tools.demo.run import DemoOptions, run_demo
    from shotgun_events_tools.ports import PortInUse

    template = Path(args.project).resolve() / "template.yaml"
    if not template.is_file():
        raise CommandError(f"no template.yaml in {template.parent}")
    if args.duration <= 0 or args.rate < 0 or args.concurrency < 1:
        raise CommandError("--duration must be > 0, --rate >= 0 and --concurrency >= 1")
    options = DemoOptions(
        template=template,
        duration=args.duration,
        rate=args.rate,
        concurrency=args.concurrency,
        poll_interval=args.poll_interval,
        fpt_port=args.fpt_port,
        aws_port=args.aws_port,
        seed=args.seed,
        workdir=Path(args.workdir).resolve() if args.workdir else None,
        live=not args.no_live,
        doorbell=not args.no_doorbell,
        summary_json=Path(args.summary_json) if args.summary_json else None,
    )
    try:
        return run_demo(options)
    except PortInUse as exc:
        raise CommandError(str(exc)) from None


def add_to(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the whole pipeline locally (FPT emulator + moto) and check nothing is lost or doubled",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of studio activity (default 60)"
    )
    parser.add_argument("--rate", type=float, default=2.0, help="artist actions per second (default 2)")
    parser.add_argument("--concurrency", type=int, default=10, help="batches at once per plugin (default 10)")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="POLL_INTERVAL_SECONDS (default 1)")
    parser.add_argument("--fpt-port", type=int, default=0, help="the emulator's port (default: a free one)")
    parser.add_argument("--aws-port", type=int, default=0, help="moto's port (default: a free one)")
    parser.add_argument("--seed", type=int, default=1, help="the studio's seed")
    parser.add_argument("--workdir", help="where logs and the Shot directories go (default: a temp dir)")
    parser.add_argument(
        "--no-doorbell", action="store_true", help="no webhook doorbell: the poller only polls"
    )
    parser.add_argument("--no-live", action="store_true", help="no live table, only the summary")
    parser.add_argument("--summary-json", metavar="FILE", help="also write the summary as JSON (for scripts)")
    parser.add_argument("--project", default=".", help="the project root holding template.yaml and plugins/")
    parser.set_defaults(run=run)
