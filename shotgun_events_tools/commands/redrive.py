"""`shotgun-events redrive`: move a plugin's parked events from its DLQ back to its queue.

SQS's own move task where the endpoint offers it, else receive -> send -> delete, which loses and
doubles nothing if interrupted: run it again (see `shotgun_events_tools.operate.redrive`).
"""

from __future__ import annotations

import argparse
from typing import Any

from shotgun_events_tools.operate.options import add_deployment_arguments, command_parser, open_deployment

EXAMPLE = """  shotgun-events dlq create_shot_directories --stack studio --show   # what is parked, and why
  # fix the plugin, deploy it, then:
  shotgun-events redrive create_shot_directories --stack studio
  shotgun-events redrive create_shot_directories --local shotgun-events.sqlite   # `run` stopped first
"""


def run(args: argparse.Namespace) -> int:
    from shotgun_events_tools.operate.audit import audited
    from shotgun_events_tools.operate.progress import progress_bar

    deployment = open_deployment(args)
    deployment.require_plugin(args.plugin)
    # The audit line says what was moved by then, even when it stopped part-way (a rerun moves the rest).
    with (
        audited(
            deployment.who(), deployment.label, "redrive", plugin=args.plugin, method=args.method, count=0
        ) as record,
        progress_bar(f"redrive {args.plugin}") as update,
    ):

        def progress(count: int, total: int | None) -> None:
            record["count"] = count
            update(count, total)

        result = deployment.redrive(args.plugin, progress, args.method)
        record["method"] = result.method
    how = "SQS move task" if result.method == "move-task" else "copied back"
    print(f"plugin {args.plugin}: {result.moved} parked events moved back to its queue ({how})")
    return 0


def add_to(commands: Any) -> None:
    parser = command_parser(
        commands, "redrive", "move a plugin's parked events from its DLQ back to its queue", EXAMPLE
    )
    parser.add_argument("plugin", metavar="PLUGIN", help="the plugin's name")
    parser.add_argument(
        "--method",
        choices=("auto", "move-task", "copy"),
        default="auto",
        help="auto (default): SQS's move task where offered, else copy (receive, send, delete)",
    )
    add_deployment_arguments(parser)
    parser.set_defaults(run=run)
