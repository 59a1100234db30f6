"""`shotgun-events status`: what is stuck, where, since when.

The poller (cursor, the newest event on the site and how far behind, backlog, last run), the alarms
firing now and what to do about them, and per plugin its queue, in flight, DLQ, paused or not and
recent failures. The site is read as the poller's script user; when it cannot be read the rest is
shown anyway, with the reason.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from shotgun_events_tools.operate.options import (
    add_credentials_argument,
    add_deployment_arguments,
    command_parser,
    open_deployment,
)

EXAMPLE = """  shotgun-events status --stack studio
  shotgun-events status --stack studio --watch          # refresh every 5 s (Ctrl-C to stop)
  shotgun-events status --stack studio --json | jq '.plugins[] | select(.parked > 0)'
  shotgun-events status --local shotgun-events.sqlite --plugins plugins   # the local runtime's store
"""


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def gather(deployment: Any, credentials: str | None) -> dict[str, Any]:
    """The status as one JSON-able document."""
    from shotgun_events_tools.cli import describe_error
    from shotgun_events_tools.operate.runbook import next_step

    now = time.time()
    poller = deployment.poller_status()
    document: dict[str, Any] = {"deployment": deployment.label, "time": _iso(now), "site": poller.site}
    site: dict[str, Any] = {}
    try:
        fpt = deployment.site(credentials)
        newest = fpt.newest()
        site["newest_id"] = int(newest["id"]) if newest else 0
        site["newest_created_at"] = _iso(_epoch(newest.get("created_at"))) if newest else None
        if poller.cursor is not None:
            site["behind"] = max(0, site["newest_id"] - poller.cursor)
            waiting = fpt.first_after(poller.cursor) if site["behind"] else None
            created = _epoch(waiting.get("created_at")) if waiting else None
            site["lag_seconds"] = round(max(0.0, now - created), 1) if created is not None else 0.0
    except Exception as exc:  # the rest of the status is what matters while FPT is down
        site["error"] = describe_error(exc) or f"{type(exc).__name__}: {exc}"
    document["fpt"] = site
    document["poller"] = {
        "cursor": poller.cursor,
        "backlog": poller.backlog,
        "oldest_gap": poller.oldest_gap,
        "oldest_gap_given_up_at": _iso(poller.oldest_gap_deadline),
        "state_updated_at": poller.state_updated_at,
        "last_run": _iso(poller.last_run),
        "last_run_failed": poller.last_run_failed,
        "runs_recorded": poller.runs_recorded,
    }
    plugins = deployment.plugins()
    stack = deployment.label.removeprefix("stack ")
    document["alarms"] = [
        {"name": name, "next_step": next_step(name, stack, plugins)} for name in deployment.firing_alarms()
    ]
    document["plugins"] = [
        {
            "name": p.name,
            "paused": p.paused,
            "state": p.state,
            "queued": p.queued,
            "in_flight": p.in_flight,
            "parked": p.parked,
            "oldest_parked_age_seconds": p.oldest_parked_age,
            "failures_last_hour": p.recent_failures,
            "retrying": p.retrying,
            "retry_attempts": p.retry_attempts,
            "parked_last_hour": p.parked_last_hour,
            "load_error": p.load_error,
        }
        for p in deployment.plugin_statuses()
    ]
    return document


def _ago(iso: str | None, now: float) -> str:
    if iso is None:
        return "-"
    seconds = now - datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    return f"{_duration(seconds)} ago"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def render(document: dict[str, Any]) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    now = datetime.fromisoformat(document["time"].replace("Z", "+00:00")).timestamp()
    poller, fpt = document["poller"], document["fpt"]
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("deployment", f"{document['deployment']} ({document['site']})")
    if poller["cursor"] is None:
        summary.add_row("cursor", "no state yet: the poller's first run starts after the newest event")
    else:
        summary.add_row("cursor", str(poller["cursor"]))
    if "error" in fpt:
        summary.add_row("site", Text(f"unavailable: {fpt['error']}", style="red"))
    else:
        behind = fpt.get("behind")
        lag = f", {behind} ids behind, oldest waiting {_duration(fpt.get('lag_seconds'))}" if behind else ""
        summary.add_row("newest event", f"{fpt['newest_id']} ({fpt['newest_created_at'] or '-'}){lag}")
    gap = poller["oldest_gap"]
    summary.add_row(
        "backlog",
        f"{poller['backlog']} ids"
        + (f", oldest {gap} (given up at {poller['oldest_gap_given_up_at']})" if gap else ""),
    )
    run = poller["last_run"]
    outcome = "" if run is None else (" [red]failed[/]" if poller["last_run_failed"] else " ok")
    if not poller["runs_recorded"]:
        summary.add_row("last poller run", "not recorded here")
    else:
        summary.add_row(
            "last poller run", f"{_ago(run, now)}{outcome}" if run else "not in the last 30 minutes"
        )
    summary.add_row("state committed", _ago(poller["state_updated_at"], now))
    parts: list[Any] = [summary]
    if document["alarms"]:
        alarms = Table(title="alarms firing", title_style="bold red", show_lines=False)
        alarms.add_column("alarm")
        alarms.add_column("next step")
        for alarm in document["alarms"]:
            alarms.add_row(alarm["name"], alarm["next_step"])
        parts.append(alarms)
    plugins = Table(title="plugins")
    for column in ("plugin", "state", "queued", "in flight", "DLQ", "oldest in DLQ", "failures"):
        plugins.add_column(column, justify="left" if column in {"plugin", "state"} else "right")
    unloaded = []
    for p in document["plugins"]:
        if p["load_error"]:
            unloaded.append(f"{p['name']}: {p['load_error']}")
        plugins.add_row(
            p["name"],
            _state(p),
            str(p["queued"]),
            str(p["in_flight"]),
            Text(str(p["parked"]), style="red" if p["parked"] else ""),
            _duration(p["oldest_parked_age_seconds"]),
            _failures(p),
        )
    parts.append(plugins)
    parts.extend(Text(f"does not load, disabled: {line}", style="red") for line in unloaded)
    return Group(*parts)


def _state(plugin: dict[str, Any]) -> Any:
    from rich.text import Text

    if plugin["paused"]:
        return Text("paused", style="yellow")
    if plugin["load_error"]:
        return Text("disabled: does not load", style="red")
    return str(plugin["state"]).lower()


def _failures(plugin: dict[str, Any]) -> str:
    """Records failed in the last hour (a stack); on the local store, what it records instead."""
    if plugin["retrying"] is not None:
        retrying = f"{plugin['retrying']} retrying"
        if plugin["retrying"]:
            retrying += f" (up to {plugin['retry_attempts']} attempts)"
        return f"{retrying}, {plugin['parked_last_hour']} parked in 1h"
    return "-" if plugin["failures_last_hour"] is None else f"{plugin['failures_last_hour']} in 1h"


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.live import Live

    if args.credentials:  # a bad file is a bad argument, not the site being unavailable
        from shotgun_events_tools.commands.run import read_credentials

        read_credentials(args.credentials)
    deployment = open_deployment(args)
    console = Console()
    if not console.is_terminal:  # piped or logged: no terminal width to fit, keep lines whole
        console = Console(width=200)
    if args.watch is None:
        document = gather(deployment, args.credentials)
        if args.json:
            print(json.dumps(document, indent=2))
        else:
            console.print(render(document))
        return 0
    try:
        if args.json:
            while True:
                print(json.dumps(gather(deployment, args.credentials)), flush=True)
                time.sleep(args.watch)
        with Live(console=console, auto_refresh=False) as live:
            while True:
                live.update(render(gather(deployment, args.credentials)), refresh=True)
                time.sleep(args.watch)
    except KeyboardInterrupt:  # the way to stop watching
        return 0


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.5 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: refresh every 0.5 to 3600 seconds")
    return value


def add_to(commands: Any) -> None:
    parser = command_parser(commands, "status", "show what is stuck, where, and since when", EXAMPLE)
    parser.add_argument("--json", action="store_true", help="one JSON document (with --watch: one a line)")
    parser.add_argument(
        "--watch",
        type=_interval,
        nargs="?",
        const=5.0,
        metavar="SECONDS",
        help="refresh every SECONDS (default 5) until Ctrl-C",
    )
    add_credentials_argument(parser)
    add_deployment_arguments(parser)
    parser.set_defaults(run=run)
