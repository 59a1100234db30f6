"""`shotgun-events run`: the plugins on one machine against an FPT site, no AWS (the daemon's drop-in).

The poller's script user comes from `--credentials FILE` (JSON `{"script_name", "api_key"}`, as the
poller's secret) or from `SHOTGUN_SCRIPT_NAME` / `SHOTGUN_SCRIPT_KEY`, never from the command line.
Plugins read their own script users from the environment, as under the daemon.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from shotgun_events.config import site_url
from shotgun_events.fpt import ScriptCredentials
from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.operate.options import (
    KEY_VARIABLE,
    NAME_VARIABLE,
    add_plugins_argument,
    bounded_number,
)

DEFAULT_STORE = "shotgun-events.sqlite"


def read_credentials(path: str | None, environ: dict[str, str] | None = None) -> ScriptCredentials:
    """From the JSON file when given, else from the environment; one clear error otherwise."""
    environ = dict(os.environ) if environ is None else environ
    if path:
        try:
            value = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"cannot read credentials file {path}: {exc.strerror}") from None
        except ValueError:
            raise CommandError(f"credentials file {path} is not JSON") from None
        if not isinstance(value, dict):
            raise CommandError(f"credentials file {path} is not a JSON object")
        missing = [k for k in ("script_name", "api_key") if not isinstance(value.get(k), str) or not value[k]]
        if missing:
            raise CommandError(f"credentials file {path} has no {' or '.join(missing)} string")
        return ScriptCredentials(value["script_name"], value["api_key"])
    name, key = environ.get(NAME_VARIABLE, "").strip(), environ.get(KEY_VARIABLE, "").strip()
    if not name or not key:
        missing_vars = [v for v, x in ((NAME_VARIABLE, name), (KEY_VARIABLE, key)) if not x]
        raise CommandError(
            f"no script credentials: set {' and '.join(missing_vars)}, or pass --credentials FILE "
            '(JSON {"script_name": ..., "api_key": ...})'
        )
    return ScriptCredentials(name, key)


def run(args: argparse.Namespace) -> int:
    # A plugin edited twice within a second must not be reloaded from a stale .pyc.
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        return _run(args)
    finally:
        sys.dont_write_bytecode = writes_bytecode


def _run(args: argparse.Namespace) -> int:
    from shotgun_events.poller.cursor import PollState
    from shotgun_events_tools.daemon_state import read_daemon_state
    from shotgun_events_tools.local.logs import use_text_logs
    from shotgun_events_tools.local.runner import LocalRuntime, RunOptions
    from shotgun_events_tools.local.workers import RetryRule

    if args.log_format == "text":
        use_text_logs()
    url = args.site or os.environ.get("SHOTGUN_URL", "")
    if not url.strip():
        raise CommandError("no site: pass --site URL (or set SHOTGUN_URL)")
    site = site_url({"SHOTGUN_URL": url})
    credentials = read_credentials(args.credentials)
    start: PollState | None = None
    if args.daemon_state:
        try:
            start = read_daemon_state(Path(args.daemon_state), time.time())
        except OSError as exc:
            raise CommandError(f"cannot read daemon state file {args.daemon_state}: {exc.strerror}") from None
    elif args.from_id is not None:
        start = PollState(cursor=args.from_id - 1)
    options = RunOptions(
        site=site,
        credentials=credentials,
        plugin_dirs=tuple(Path(p) for p in args.plugins),
        store_path=Path(args.store),
        start=start,
        force_start=args.force,
        concurrency=args.concurrency,
        retry=RetryRule(args.max_attempts, args.retry_delay, args.max_retry_delay),
        poll_interval=args.poll_interval,
        backlog_timeout=args.backlog_timeout,
        page_size=args.page_size,
        fpt_timeout=args.fpt_timeout,
        use_session_uuid=args.use_session_uuid,
        reload_interval=args.reload_interval,
        status_interval=args.status_interval,
    )
    stop = threading.Event()
    previous = {sig: signal.signal(sig, _stopper(stop)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return LocalRuntime(options, stop).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopper(stop: threading.Event) -> Any:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # a second Ctrl-C: the callbacks under way are cut off (they run again next start)
            os._exit(130)
        print(
            "shotgun-events run: stopping after the callbacks under way (again to stop now)", file=sys.stderr
        )
        stop.set()

    return on_signal


def add_to(commands: Any) -> None:
    run_parser = commands.add_parser(
        "run",
        help="run the plugins on this machine against an FPT site, no AWS (the daemon's drop-in)",
        description="Run the plugins on this machine against an FPT site, without AWS: the daemon's drop-in.",
        epilog="""examples:
  shotgun-events run --site https://studio.shotgrid.autodesk.com --plugins plugins
  shotgun-events run --plugins plugins --daemon-state /var/shotgunEvents/shotgunEventDaemon.id
  shotgun-events run --plugins plugins --store /tmp/studio.sqlite --from-id 120000 --concurrency 8""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_parser.add_argument("--site", metavar="URL", help="the FPT site URL (default: $SHOTGUN_URL)")
    add_plugins_argument(run_parser)
    run_parser.add_argument(
        "--credentials",
        metavar="FILE",
        help=f'JSON {{"script_name", "api_key"}} of the poller\'s script user (default: ${NAME_VARIABLE}, '
        f"${KEY_VARIABLE})",
    )
    run_parser.add_argument(
        "--store", default=DEFAULT_STORE, metavar="FILE", help=f"the local store (default: {DEFAULT_STORE})"
    )
    start = run_parser.add_mutually_exclusive_group()
    start.add_argument(
        "--from-id", type=bounded_number(int, 1), metavar="ID", help="first start: the first event id to run"
    )
    start.add_argument(
        "--daemon-state", metavar="FILE", help="first start: continue from a shotgunEvents id file"
    )
    run_parser.add_argument(
        "--force", action="store_true", help="with --from-id/--daemon-state: replace the stored start"
    )
    run_parser.add_argument(
        "--concurrency",
        type=bounded_number(int, 1),
        metavar="N",
        default=4,
        help="entities each plugin runs at once (default 4)",
    )
    run_parser.add_argument(
        "--max-attempts",
        type=bounded_number(int, 1),
        metavar="N",
        default=8,
        help="attempts before a dead letter (default 8)",
    )
    run_parser.add_argument(
        "--retry-delay",
        type=bounded_number(float),
        metavar="SECONDS",
        default=10.0,
        help="first retry after (s, doubling; default 10)",
    )
    run_parser.add_argument(
        "--max-retry-delay",
        type=bounded_number(float),
        metavar="SECONDS",
        default=600.0,
        help="longest retry delay (s, default 600)",
    )
    run_parser.add_argument(
        "--poll-interval",
        type=bounded_number(float),
        metavar="SECONDS",
        default=2.0,
        help="wait after a short page (s, default 2)",
    )
    run_parser.add_argument(
        "--backlog-timeout",
        type=bounded_number(float),
        metavar="SECONDS",
        default=300.0,
        help="how long a missing event id is waited for (s, default 300)",
    )
    run_parser.add_argument(
        "--page-size",
        type=bounded_number(int, 1, 500),
        default=500,
        metavar="N",
        help="events per read (max 500)",
    )
    run_parser.add_argument(
        "--fpt-timeout",
        type=bounded_number(float, 1),
        metavar="SECONDS",
        default=30.0,
        help="FPT client timeout (s, default 30)",
    )
    run_parser.add_argument(
        "--use-session-uuid", action="store_true", help="set each event's session_uuid on the plugin's client"
    )
    run_parser.add_argument(
        "--reload-interval",
        type=bounded_number(float),
        metavar="SECONDS",
        default=2.0,
        help="look for changed plugins every (s, default 2)",
    )
    run_parser.add_argument(
        "--status-interval",
        type=bounded_number(float),
        metavar="SECONDS",
        default=60.0,
        help="a status line per plugin every (s, default 60)",
    )
    run_parser.add_argument(
        "--log-format", choices=("json", "text"), default="json", help="log lines (default json)"
    )
    run_parser.set_defaults(run=run)
