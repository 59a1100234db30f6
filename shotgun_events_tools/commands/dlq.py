"""`shotgun-events dlq`: the events a plugin parked in its DLQ, and why one of them failed.

Listing reads the DLQ's messages (each read counts as a receive; a DLQ has no redrive policy, so
nothing moves) and makes them visible again right after. SQS FIFO hands out an entity's later
messages only after its first ones: a long run of one entity's events may list in part.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.operate.options import (
    add_deployment_arguments,
    bounded_number,
    command_parser,
    open_deployment,
    positive_id,
)

EXAMPLE = """  shotgun-events dlq create_shot_directories --stack studio --show
  shotgun-events dlq create_shot_directories --stack studio --event 123456   # its body and last error
  shotgun-events dlq create_shot_directories --local shotgun-events.sqlite --show
"""


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    deployment = open_deployment(args)
    deployment.require_plugin(args.plugin)
    limit = max(args.limit, 1000) if args.event is not None else args.limit
    parked, total = deployment.parked(args.plugin, limit)
    console = Console(soft_wrap=True)
    if args.event is not None:
        chosen = [p for p in parked if p.event_id == args.event]
        if not chosen:
            if len(parked) < total:  # SQS FIFO hands out an entity's later messages only after its first
                raise CommandError(
                    f"event {args.event} is not among the {len(parked)} of plugin {args.plugin}'s {total} "
                    "parked events that could be listed now"
                )
            if total == 0:
                raise CommandError(
                    f"plugin {args.plugin} has no parked events (event {args.event} is not one)"
                )
            raise CommandError(
                f"plugin {args.plugin} has not parked event {args.event} ({total} parked: "
                f"`shotgun-events dlq {args.plugin} --show` lists them)"
            )
        error = deployment.last_error(args.plugin, args.event)
        if args.json:
            document = {
                **_row(chosen[0]),
                "body": json.loads(chosen[0].body) if chosen[0].body.startswith("{") else chosen[0].body,
                "last_error": None
                if error is None
                else {"time": _when(error.time), "message": error.message, **error.details},
            }
            print(json.dumps(document, indent=2, default=str))
            return 0
        event = chosen[0]
        console.print(
            f"[bold]event {event.event_id}[/] ({event.event_type}, {event.entity}) parked by {args.plugin}"
        )
        console.print(f"first delivery {_when(event.first_delivery)}, received {event.receive_count} times")
        if event.replay:
            console.print(f"sent by replay {event.replay}")
        console.print_json(event.body) if event.body.startswith("{") else console.print(event.body)
        if error is None:
            console.print("no error line about it in the plugin's logs (they may have expired)")
        else:
            console.print(f"[bold]last error[/] {_when(error.time)}: {escape(error.message)}")
            exception = error.details.get("exception")
            if exception:
                console.print(str(exception), markup=False, highlight=False)
        return 0
    if args.json:
        print(
            json.dumps(
                {"plugin": args.plugin, "parked": total, "listed": [_row(p) for p in parked]}, indent=2
            )
        )
        return 0
    table = Table(
        title=f"{args.plugin}: {total} parked events"
        + (f" ({len(parked)} listed)" if len(parked) < total else "")
    )
    for column in ("event", "type", "entity", "first delivery", "receives", "replay"):
        table.add_column(column)
    for p in parked:
        table.add_row(
            str(p.event_id or "?"),
            p.event_type or "-",
            p.entity or "-",
            _when(p.first_delivery),
            str(p.receive_count or "-"),
            p.replay or "",
        )
    console.print(table)
    return 0


def _row(p: Any) -> dict[str, Any]:
    return {
        "event_id": p.event_id,
        "event_type": p.event_type,
        "entity": p.entity,
        "first_delivery": _when(p.first_delivery),
        "receive_count": p.receive_count,
        "replay": p.replay,
        "message_id": p.message_id,
    }


def add_to(commands: Any) -> None:
    parser = command_parser(commands, "dlq", "list a plugin's parked events, or show why one failed", EXAMPLE)
    parser.add_argument("plugin", metavar="PLUGIN", help="the plugin's name")
    parser.add_argument("--show", action="store_true", help="list the parked events (the default)")
    parser.add_argument("--event", type=positive_id, metavar="ID", help="one event's body and last error")
    parser.add_argument(
        "--limit", type=bounded_number(int, 1), default=100, metavar="N", help="list at most N (default 100)"
    )
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_deployment_arguments(parser)
    parser.set_defaults(run=run)
