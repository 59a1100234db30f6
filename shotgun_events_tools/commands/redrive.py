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
"""


def run(args: argparse.Namespace) -> int:
    from shotgun_events_tools.operate.audit import audit
    from shotgun_events_tools.operate.progress import progress_bar

    deployment = open_deployment(args)
    deployment.require_plugin(args.plugin)
    moved, method, outcome = 0, args.method, "interrupted"
    try:
        with progress_bar(f"redrive {args.plugin}") as update:

            def progress(count: int, total: int | None) -> None:
                nonlocal moved
                moved = count
                update(count, total)

            result = deployment.redrive(args.plugin, progress, args.method)
        method, outcome = result.method, "done"
    except Exception:
        outcome = "failed"
        raise
    finally:
        # What was moved by then, even when it stopped part-way (a rerun moves the rest).
        audit(
            deployment.who(),
            deployment.label,
            "redrive",
            plugin=args.plugin,
            method=method,
            count=moved,
            outcome=outcome,
        )
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
