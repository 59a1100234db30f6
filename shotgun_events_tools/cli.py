"""`shotgun-events`: the operator's and the plugin author's command line.

Each command lives in its own module under `shotgun_events_tools.commands` and adds its parser with
`add_to(commands)`; heavy imports stay inside the command's run function, so `--help` is fast.
An expected failure (bad input, missing resource, no or expired AWS credentials) is raised as
`CommandError` or one of the known errors below and printed as one line, exit status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from shotgun_events.config import ConfigError
from shotgun_events.poller.state_store import StateConflict, StateCorrupt
from shotgun_events_tools.daemon_state import DaemonStateError

COMMANDS = (
    "status",
    "init",
    "replay",
    "redrive",
    "pause",
    "dlq",
    "validate_plugins",
    "emulator",
    "generate_template",
    "run",
    "demo",
    "schema_dump",
    "new_plugin",
)


class CommandError(RuntimeError):
    """A command cannot do what was asked; the message says what is wrong."""


EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    CommandError,
    ConfigError,
    DaemonStateError,
    StateConflict,
    StateCorrupt,
)


def describe_error(exc: Exception) -> str | None:
    """The one line for an expected failure; None for a bug (which keeps its traceback)."""
    if isinstance(exc, EXPECTED_ERRORS):
        return str(exc)
    if "botocore.exceptions" in sys.modules:  # only an AWS command can have failed in AWS
        from shotgun_events_tools.operate.aws import describe_aws_error

        described = describe_aws_error(exc)
        if described is not None:
            return described
    from shotgun_events.plugins.loader import PluginNotFound
    from shotgun_events_tools.stack.outputs import StackNotFound

    if isinstance(exc, StackNotFound | PluginNotFound):
        return str(exc)
    if "shotgun_events_tools.local.store" in sys.modules:
        from shotgun_events_tools.local.store import StoreError

        if isinstance(exc, StoreError):
            return str(exc)
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shotgun-events", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"shotgun_events_tools.commands.{name}").add_to(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:  # its own parser takes every option, --help included
        from fpt_emulator.cli import main as emulator_main

        return emulator_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = describe_error(exc)
        if message is None:
            raise
        print(f"shotgun-events {args.command}: {message}", file=sys.stderr)
        return 2
