"""Benchmark: the load on FPT, in reads a minute, idle and busy, with 1 and with 10 plugins.

`shotgun-events run` (the local runtime: the poller and dispatch cores of the Lambdas) runs 1 or
10 plugins that take every event and make no FPT call of their own, so every read the emulator
counts is the framework's: the poller's pages and backlog reads, and dispatch's re-reads of
oversize events. Idle: nothing happens on the site for `--seconds`. Busy: the emulator's studio
works at `--rate` events a second, some commits held open (gaps the poller reads by id). The
number must not grow with the plugins: one poller reads for all of them, and each plugin's
queue is fed from what it read. Not a test: it prints numbers.

    .venv/bin/python bench/fpt_load.py [--seconds 60] [--rate 20] [--poll-interval 2] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import machine, print_table

from fpt_emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator
from shotgun_events_tools.local.store import LocalStore, StoreMissing

PLUGIN = '''"""Takes every event and does nothing with FPT: what the site sees is the framework's reads."""

import os


def registerCallbacks(reg):
    reg.registerCallback(os.environ["LOAD_NAME"], os.environ["LOAD_KEY"], take, matchEvents=None)


def take(sg, logger, event, args):
    pass
'''


def reads_in(emu: FptEmulator, seconds: float, rate: float = 0.0) -> float:
    """Reads a minute the emulator answers over the next `seconds`, while its studio makes about
    `rate` events a second (none: idle)."""
    before, first = emu.calls.count("read"), emu.site.last_event_id
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        while rate and emu.site.last_event_id - first < rate * elapsed:
            emu.activity.step(1)
        time.sleep(0.01)
    return (emu.calls.count("read") - before) / seconds * 60


def cursor(store: Path, site: str) -> int | None:
    """The poller's cursor in `run`'s store; None before it has one."""
    try:
        with LocalStore(store, site, readonly=True) as view:
            loaded = view.load()
            return loaded.state.cursor if loaded else None
    except StoreMissing:
        return None


def measure(emu: FptEmulator, plugins: int, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    folder = workdir / f"plugins-{plugins}"
    folder.mkdir()
    for n in range(1, plugins + 1):
        (folder / f"load_{n:02d}.py").write_text(PLUGIN)
    store = workdir / f"store-{plugins}.sqlite"
    env = {
        **os.environ,
        "SHOTGUN_SCRIPT_NAME": DEFAULT_SCRIPT_NAME,
        "SHOTGUN_SCRIPT_KEY": DEFAULT_SCRIPT_KEY,
        "LOAD_NAME": DEFAULT_SCRIPT_NAME,
        "LOAD_KEY": DEFAULT_SCRIPT_KEY,
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "shotgun_events_tools", "run", "--site", emu.url]
    command += ["--plugins", str(folder), "--store", str(store), "--poll-interval", str(args.poll_interval)]
    command += ["--from-id", str(emu.site.last_event_id + 1)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while cursor(store, emu.url) is None:  # started: its store has a cursor
            if process.poll() is not None:
                raise RuntimeError(f"shotgun-events run exited with {process.returncode}")
            time.sleep(0.1)
        time.sleep(args.poll_interval)  # past its first passes
        idle = reads_in(emu, args.seconds)
        first = emu.site.last_event_id
        busy = reads_in(emu, args.seconds, args.rate)
        events = emu.site.last_event_id - first
        deadline = time.monotonic() + 60
        while (cursor(store, emu.url) or 0) < emu.site.last_event_id and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {"idle": idle, "busy": busy, "events": events / args.seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="each idle and busy window")
    parser.add_argument("--rate", type=float, default=20.0, help="events a second while busy")
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true", help="15 s windows")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 15.0
    print(f"machine: {machine()}")
    results: dict[int, dict[str, float]] = {}
    with FptEmulator(seed=1) as emu, tempfile.TemporaryDirectory(prefix="fpt-load-") as tmp:
        emu.activity.held_commit_rate = 0.05  # some transactions stay open a while: gaps to read by id
        for plugins in (1, 10):
            progress(f"{plugins} plugin(s): {args.seconds:g} s idle, {args.seconds:g} s busy ...")
            results[plugins] = measure(emu, plugins, args, Path(tmp))
    one = results[1]
    table = []
    for state in ("idle", "busy"):
        for plugins, result in results.items():
            ratio = result[state] / one[state] if one[state] else float("nan")
            table.append(
                [
                    state,
                    plugins,
                    f"{result['events']:.1f}" if state == "busy" else "0",
                    f"{result[state]:.1f}",
                    f"{60 / args.poll_interval:g}",
                    f"{ratio:.2f}",
                ]
            )
    print_table(
        f"FPT load: reads a minute, counted by the emulator; POLL_INTERVAL {args.poll_interval:g} s, "
        f"{args.seconds:g} s windows",
        ["site", "plugins", "events/s", "reads/min", "one read per interval", "÷ 1 plugin"],
        table,
    )


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
