"""`shotgun-events init-state`: set where the poller starts (instead of the newest event)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import boto3

from shotgun_events.config import site_url
from shotgun_events.poller import initialise
from shotgun_events.poller.cursor import PollState
from shotgun_events.poller.state_store import DynamoDBStateStore
from shotgun_events_tools.commands.run import _number
from shotgun_events_tools.daemon_state import read_daemon_state


def run(args: argparse.Namespace) -> int:
    site = site_url({"SHOTGUN_URL": args.site})
    store = DynamoDBStateStore(args.table, site, boto3.client("dynamodb", endpoint_url=args.endpoint_url))
    if args.daemon_state:
        state = read_daemon_state(Path(args.daemon_state), time.time())
    else:
        state = PollState(cursor=args.from_id - 1)
    initialise(store, state, force=args.force)
    print(f"poller for {site} starts after event {state.cursor} (backlog {len(state.backlog)} ids)")
    return 0


def add_to(commands: Any) -> None:
    init = commands.add_parser("init-state", help="set where the poller starts (instead of the newest event)")
    init.add_argument("--table", required=True, help="the state table (STATE_TABLE)")
    init.add_argument("--site", required=True, help="the FPT site URL (SHOTGUN_URL)")
    start = init.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-id", type=_number(int, 1), metavar="ID", help="the first event id to publish")
    start.add_argument("--daemon-state", help="a shotgunEvents daemon state (pickle) file to continue from")
    init.add_argument("--force", action="store_true", help="overwrite an existing state")
    init.add_argument("--endpoint-url", help="DynamoDB endpoint (local testing)")
    init.set_defaults(run=run)
