"""`shotgun-events replay`: re-read a range of events from FPT and deliver the ones a plugin matches
to that plugin's queue only; its callbacks run again, even where they completed before."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.operate.options import (
    add_credentials_argument,
    add_deployment_arguments,
    bounded_number,
    command_parser,
    open_deployment,
    plugin_folders,
    positive_id,
)
from shotgun_events_tools.operate.replay import DEFAULT_MAX_EVENTS

EXAMPLE = """  shotgun-events replay init_entity --stack studio --from-id 120000 --to-id 120500
  shotgun-events replay init_entity --stack studio --since 2026-11-30T10:00 --until 2026-11-30T12:00
  shotgun-events replay init_entity --stack studio --from-id 120000 --yes   # to the newest, no prompt
  shotgun-events replay init_entity --local shotgun-events.sqlite --plugins plugins --from-id 120000
"""


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time like 2026-11-30T10:00 (UTC unless it says)"
        ) from None


def _utc(moment: datetime) -> datetime:
    """A time as the site reads it: UTC unless it says."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise CommandError("a replay needs confirmation: run it in a terminal, or pass --yes")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in {"y", "yes"}:
        raise CommandError("replay cancelled: nothing was sent")


def run(args: argparse.Namespace) -> int:
    from shotgun_events_tools.operate.audit import audit
    from shotgun_events_tools.operate.progress import progress_bar
    from shotgun_events_tools.operate.replay import (
        check_ids,
        check_replay_id,
        dedup_prefix,
        load_matching_plugin,
        matched,
        new_replay_id,
        replay_messages,
        resolve_range,
    )

    check_ids(args.from_id, args.to_id)
    if args.until is not None and args.since is None:
        raise CommandError("--until goes with --since")
    if args.until is not None and _utc(args.until) <= _utc(args.since):
        raise CommandError(
            f"--until {args.until.isoformat()} is not after --since {args.since.isoformat()}: "
            "the range is reversed"
        )
    if args.to_id is not None and args.from_id is None:
        raise CommandError("--to-id goes with --from-id")
    replay_id = check_replay_id(args.replay_id) if args.replay_id else new_replay_id()
    plugin = load_matching_plugin(args.plugin, plugin_folders(args))
    deployment = open_deployment(args)
    deployment.require_plugin(args.plugin)
    deployment.check_changeable()
    site = deployment.site(args.credentials)
    ids = resolve_range(site, from_id=args.from_id, to_id=args.to_id, since=args.since, until=args.until)
    if ids.span > args.max_events and not args.yes:
        raise CommandError(
            f"events {ids.first}..{ids.last} are {ids.span} ids, more than --max-events {args.max_events}: "
            "pass --yes to replay them anyway, or a smaller range"
        )
    print(
        f"replay {replay_id}: events {ids.first}..{ids.last} ({ids.span} ids) on {site.url}, "
        f"re-read from FPT; those plugin {args.plugin} matches go to its queue only ({deployment.label}).\n"
        "Its callbacks run again, even where they completed before: this replay gets past FIFO "
        "deduplication and the effect-once records on purpose (once per replay)."
    )
    if not args.yes:
        _confirm("Replay?")
    read = found = sent = 0
    outcome = "interrupted"
    try:
        with progress_bar(f"replay {args.plugin}") as update:
            update(0, ids.span)
            for page in site.events(ids.first, ids.last):
                read += len(page)
                chosen = matched(plugin, page)
                found += len(chosen)
                if chosen:
                    sent += deployment.deliver(
                        args.plugin,
                        replay_messages(chosen, replay_id),
                        dedup_prefix(replay_id),
                        lambda done, total: None,
                    )
                update(page[-1]["id"] - ids.first + 1, ids.span)
            update(ids.span, ids.span)
        outcome = "done"
    except Exception:
        outcome = "failed"
        raise
    finally:
        audit(
            deployment.who(),
            deployment.label,
            "replay",
            plugin=args.plugin,
            replay_id=replay_id,
            from_id=ids.first,
            to_id=ids.last,
            read=read,
            matched=found,
            count=sent,
            outcome=outcome,
        )
        if outcome != "done" and sent:  # with nothing sent, a new replay is as good
            print(
                f"replay {replay_id} stopped after sending {sent} events: run it again with "
                f"--replay-id {replay_id} to finish it without running those twice",
                file=sys.stderr,
            )
    print(
        f"replay {replay_id}: {read} events read, {found} matched plugin {args.plugin}, "
        f"{sent} sent to its queue"
    )
    return 0


def add_to(commands: Any) -> None:
    parser = command_parser(
        commands,
        "replay",
        "re-read events from FPT and deliver those a plugin matches to that plugin only, running its "
        "callbacks again",
        EXAMPLE,
    )
    parser.add_argument("plugin", metavar="PLUGIN", help="the plugin's name")
    ids = parser.add_argument_group("which events (--from-id, or --since)")
    start = ids.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-id", type=positive_id, metavar="A", help="the first event id")
    start.add_argument(
        "--since", type=_time, metavar="TIME", help="events created at or after TIME (ISO 8601)"
    )
    ids.add_argument("--to-id", type=positive_id, metavar="B", help="the last event id (default: the newest)")
    ids.add_argument("--until", type=_time, metavar="TIME", help="with --since: events created before TIME")
    parser.add_argument("--yes", action="store_true", help="no confirmation, and no --max-events limit")
    parser.add_argument(
        "--max-events",
        type=bounded_number(int, 1),
        default=DEFAULT_MAX_EVENTS,
        metavar="N",
        help=f"refuse a range of more than N ids without --yes (default {DEFAULT_MAX_EVENTS})",
    )
    parser.add_argument(
        "--replay-id", metavar="ID", help="continue an interrupted replay under its id (default: a new one)"
    )
    add_credentials_argument(parser)
    add_deployment_arguments(parser)
    parser.set_defaults(run=run)
