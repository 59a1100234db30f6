"""`shotgun-events pause` / `resume`: stop and restart a plugin's deliveries (its event source
mapping); while paused its events wait in its queue, in order, for up to the queue's 14 days. On the
local store, its pause flag, which a running `run` honours (`operate.local`)."""

from __future__ import annotations

import argparse
from typing import Any

from shotgun_events_tools.operate.options import add_deployment_arguments, command_parser, open_deployment

PAUSE_EXAMPLE = """  shotgun-events pause create_shot_directories --stack studio   # while its fix deploys
  shotgun-events status --stack studio                             # shows it paused
  shotgun-events pause create_shot_directories --local shotgun-events.sqlite   # while `run` runs
"""
RESUME_EXAMPLE = """  shotgun-events resume create_shot_directories --stack studio
  shotgun-events resume create_shot_directories --local shotgun-events.sqlite
"""


def run(args: argparse.Namespace) -> int:
    from shotgun_events_tools.operate.audit import audited

    paused = args.command == "pause"
    deployment = open_deployment(args)
    deployment.require_plugin(args.plugin)
    with audited(deployment.who(), deployment.label, args.command, plugin=args.plugin, count=0) as record:
        changed = deployment.set_paused(args.plugin, paused)
        record["count"] = int(changed)
    state = "paused" if paused else "resumed"
    if changed:
        print(f"plugin {args.plugin} {state}" + (": its events wait in its queue" if paused else ""))
    else:
        print(f"plugin {args.plugin} was already {'paused' if paused else 'running'}: nothing changed")
    return 0


def add_to(commands: Any) -> None:
    for name, help_text, example in (
        ("pause", "pause a plugin: its events wait in its queue", PAUSE_EXAMPLE),
        ("resume", "resume a paused plugin", RESUME_EXAMPLE),
    ):
        parser = command_parser(commands, name, help_text, example)
        parser.add_argument("plugin", metavar="PLUGIN", help="the plugin's name (its file name without .py)")
        add_deployment_arguments(parser)
        parser.set_defaults(run=run)
