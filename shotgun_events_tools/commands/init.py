"""`shotgun-events init` and `import-daemon-state`: set where the poller starts.

Without a state the poller starts after the newest event (as the daemon did); these set another
start on a new deployment or, with `--force`, replace the stored one (a running poller's next
commit then loses its version check and it stops; its next run continues from the new state).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.operate.options import (
    add_credentials_argument,
    add_deployment_arguments,
    command_parser,
    open_deployment,
    positive_id,
)

INIT_EXAMPLE = """  shotgun-events init --stack studio --from-id 123456    # the poller publishes 123456 next
  shotgun-events init --stack studio --latest            # skip to the newest event
  shotgun-events init --stack studio --from-id 120000 --force   # rewind an existing state
  shotgun-events init --local shotgun-events.sqlite --from-id 120000 --force   # `run` stopped first
"""
IMPORT_EXAMPLE = """  # the daemon's state file (its `eventIdFile`), after stopping the daemon:
  shotgun-events import-daemon-state --stack studio shotgunEventDaemon.id
  shotgun-events import-daemon-state --stack studio shotgunEventDaemon.id --force   # replace a state
"""


def _start(args: argparse.Namespace, state: Any | None) -> int:
    """Store `state` (None: after the newest event) once it is checked against the site."""
    from shotgun_events.poller import initialise
    from shotgun_events.poller.cursor import PollState
    from shotgun_events.poller.state_store import StateConflict
    from shotgun_events_tools.operate.audit import audited

    deployment = args.deployment
    deployment.check_changeable()
    site = deployment.site(args.credentials)
    newest = site.newest_id()
    state = PollState(cursor=newest) if state is None else state
    if state.cursor > newest:
        first = state.cursor + 1
        raise CommandError(f"event {first} is beyond the newest event ({newest}) on {site.url}")
    details = {"cursor": state.cursor, "backlog": len(state.backlog), "replaced_cursor": None, "count": 0}
    with (
        audited(deployment.who(), deployment.label, args.command, **details) as record,
        deployment.state_store() as store,
    ):
        existing = store.load()
        if existing is not None and not args.force:
            raise CommandError(
                f"the poller already has a state (cursor {existing.state.cursor}): pass --force to replace it"
            )
        try:
            initialise(store, state, force=args.force)
        except StateConflict:
            raise CommandError(
                "the poller wrote its state meanwhile: run again (with --force to replace it)"
            ) from None
        record.update(replaced_cursor=existing.state.cursor if existing else None, count=1)
    print(f"poller for {site.url} starts after event {state.cursor} (backlog {len(state.backlog)} ids)")
    return 0


def run_init(args: argparse.Namespace) -> int:
    from shotgun_events.poller.cursor import PollState

    args.deployment = open_deployment(args)
    return _start(args, None if args.latest else PollState(cursor=args.from_id - 1))


def run_import(args: argparse.Namespace) -> int:
    from shotgun_events_tools.daemon_state import read_daemon_state

    state = read_daemon_state(Path(args.file), time.time())  # a bad file fails before AWS is asked
    args.deployment = open_deployment(args)
    return _start(args, state)


def _common(parser: argparse.ArgumentParser) -> None:
    add_deployment_arguments(parser)
    add_credentials_argument(parser)
    parser.add_argument("--force", action="store_true", help="replace an existing poller state")


def add_to(commands: Any) -> None:
    init = command_parser(commands, "init", "set where the poller starts", INIT_EXAMPLE)
    start = init.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-id", type=positive_id, metavar="N", help="the first event id to publish")
    start.add_argument("--latest", action="store_true", help="start after the newest event on the site")
    _common(init)
    init.set_defaults(run=run_init)

    daemon = command_parser(
        commands,
        "import-daemon-state",
        "continue from a shotgunEvents daemon's state file (its lowest cursor and open backlog)",
        IMPORT_EXAMPLE,
    )
    daemon.add_argument("file", metavar="FILE", help="the daemon's state (pickle) file")
    _common(daemon)
    daemon.set_defaults(run=run_import)
