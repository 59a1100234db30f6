"""`shotgun-events`: operator commands (state initialisation, the local FPT emulator)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import boto3

from shotgun_events.config import ConfigError, site_url
from shotgun_events.poller import initialise
from shotgun_events.poller.cursor import PollState
from shotgun_events.poller.state_store import DynamoDBStateStore, StateConflict
from shotgun_events_tools.daemon_state import DaemonStateError, read_daemon_state


def _init_state(args: argparse.Namespace) -> int:
    site = site_url({"SHOTGUN_URL": args.site})
    store = DynamoDBStateStore(args.table, site, boto3.client("dynamodb", endpoint_url=args.endpoint_url))
    if args.daemon_state:
        state = read_daemon_state(Path(args.daemon_state), time.time())
    else:
        state = PollState(cursor=args.from_id - 1)
    initialise(store, state, force=args.force)
    print(f"poller for {site} starts after event {state.cursor} (backlog {len(state.backlog)} ids)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shotgun-events", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init-state", help="set where the poller starts (instead of the newest event)")
    init.add_argument("--table", required=True, help="the state table (STATE_TABLE)")
    init.add_argument("--site", required=True, help="the FPT site URL (SHOTGUN_URL)")
    start = init.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-id", type=int, help="the first event id to publish")
    start.add_argument("--daemon-state", help="a shotgunEvents daemon state (pickle) file to continue from")
    init.add_argument("--force", action="store_true", help="overwrite an existing state")
    init.add_argument("--endpoint-url", help="DynamoDB endpoint (local testing)")
    init.set_defaults(run=_init_state)

    emulator = commands.add_parser("emulator", help="run a local FPT site", add_help=False)
    emulator.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        from fpt_emulator.cli import main as emulator_main

        return emulator_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ConfigError, DaemonStateError, StateConflict) as exc:
        print(f"shotgun-events: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
