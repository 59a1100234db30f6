"""``shotgun-events emulator`` / ``python -m fpt_emulator``: run a local FPT site."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from .emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator
from .site_schema import SchemaFileError


def _script(value: str) -> tuple[str, str]:
    name, sep, key = value.partition(":")
    if not sep or not name or not key:
        raise argparse.ArgumentTypeError(f"expected NAME:KEY, got {value!r}")
    return name, key


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of at least 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shotgun-events emulator",
        description="Run a local Flow Production Tracking (ShotGrid) api3 emulator.",
        epilog="""examples:
  shotgun-events emulator --activity 2            # a studio at work on http://127.0.0.1:8765
  shotgun-events emulator --preload 100000 --latency 0.02 --snapshot site.json
  shotgun-events emulator --script layout_final:key-1234   # one more script user""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--seed", type=int, default=1, help="seed for activity and fault knobs")
    parser.add_argument(
        "--activity",
        type=_non_negative,
        default=0.0,
        metavar="RATE",
        help="studio actions per second (default off)",
    )
    parser.add_argument(
        "--script",
        type=_script,
        action="append",
        default=[],
        metavar="NAME:KEY",
        help="add a script user (repeatable)",
    )
    parser.add_argument(
        "--schema",
        metavar="PATH",
        help="the site's schema: a directory or file of `mockgun.generate_schema` pickles or "
        "schema_read() JSON (default: the stock site's); see `shotgun-events schema-dump`",
    )
    parser.add_argument(
        "--snapshot",
        metavar="FILE",
        help="load this JSON snapshot (data and schema) if present; save on exit",
    )
    parser.add_argument("--preload", type=int, default=0, metavar="N", help="write N historical events first")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    parser.add_argument("--first-event-id", type=int, default=1, help="id of the first event (default 1)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run until Ctrl-C (or SIGTERM); returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        emu = FptEmulator(
            seed=args.seed,
            scripts=dict(args.script),
            host=args.host,
            port=args.port,
            snapshot=args.snapshot,
            schema=args.schema,
            first_event_id=args.first_event_id,
        )
    except (SchemaFileError, ValueError, OSError) as exc:  # a bad --schema or --snapshot: say so, now
        print(f"shotgun-events emulator: {exc}", file=sys.stderr)
        return 2
    if args.preload:
        first, last = emu.preload_events(args.preload)
        print(f"preloaded events {first}..{last}")
    emu.faults.latency = args.latency
    # Ctrl-C and SIGTERM only ask the loop below to stop, from before the server starts: a signal
    # can then never cut into start-up or the stop, whenever it comes. SIGUSR1 prints every
    # thread's stack to stderr (to see a stop that hangs).
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        if hasattr(signal, "SIGUSR1") and sys.__stderr__ is not None:  # fd 2, whatever sys.stderr is
            faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    try:
        emu.start()
    except OSError as exc:
        _restore(previous)
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        if args.activity > 0:
            emu.activity.start(args.activity)
        print(f"FPT emulator listening on {emu.url}")
        print("script credentials (name key):")
        for name, key in emu.scripts.items():
            marker = "  (default)" if name == DEFAULT_SCRIPT_NAME and key == DEFAULT_SCRIPT_KEY else ""
            print(f"  {name} {key}{marker}")
        print(f'  e.g. shotgun_api3.Shotgun("{emu.url}", "{DEFAULT_SCRIPT_NAME}", "{DEFAULT_SCRIPT_KEY}")')
        print("Ctrl-C to stop.", flush=True)
        while not done.wait(0.5):
            pass
    finally:
        _restore(previous)  # a second Ctrl-C interrupts a stop that hangs
        emu.stop()
    print("emulator stopped", flush=True)
    return 0


def _restore(previous: dict[int, Any]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
