"""Benchmark: plugin-bound fan-out, against the classic daemon's one-callback-at-a-time.

`--events` status changes (2,000) over `--entities` Shots (200) are run by one plugin whose
callback makes one FPT read (`find_one` of its Shot), on the emulator at `--latency` (20 ms) per
call. Ours is `shotgun-events run` (the local runtime: the same poller and dispatch cores as the
Lambdas, a local store) at dispatch concurrency 1 and 32. The rival, measured in the same run on
the same emulator, is the daemon's way: the same callback called for each event in turn, with its
own client, nothing else (no state file, no polling): the most the daemon could do, which flatters
it. Each row checks that every event ran once and each Shot's events ran in id order.

Rate: events / (last callback end - first callback start), so start-up is left out of both.
The emulator runs in this process, `run` in its own. Not a test: it prints numbers.

    .venv/bin/python bench/fanout.py [--events 2000] [--entities 200] [--latency 0.02] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import machine, print_table

from fpt_emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator
from shotgun_events.events import EVENT_FIELDS
from shotgun_events_tools.local.store import LocalStore, StoreMissing

TARGET = 20.0  # times the daemon's rate, at concurrency 32
SCRIPT = ("fanout_reader", "fanout-reader-key")
PLUGIN = '''"""One FPT read per event: the Shot the event is about. Notes each run in BENCH_RECORD."""

import os
import threading
import time

_lock = threading.Lock()


def registerCallbacks(reg):
    reg.registerCallback(os.environ["FANOUT_NAME"], os.environ["FANOUT_KEY"], read_shot,
                         matchEvents={"Shotgun_Shot_Change": ["sg_status_list"]})


def read_shot(sg, logger, event, args):
    started = time.time()
    shot = sg.find_one("Shot", [["id", "is", event["entity"]["id"]]], ["code", "sg_status_list"])
    assert shot is not None
    line = "%d %d %.6f %.6f\\n" % (event["id"], event["entity"]["id"], started, time.time())
    with _lock, open(os.environ["BENCH_RECORD"], "a") as record:
        record.write(line)
'''
STATUSES = ("wtg", "rdy", "ip", "hld", "fin", "omt", "cbb")  # the site's Shot statuses


def changes(emu: FptEmulator, events: int, entities: int) -> tuple[int, int]:
    """`events` status changes round-robin over `entities` new Shots; the first and last event ids."""
    project = emu.site.find_one("Project", [], ["id"])
    assert project is not None
    link = {"type": "Project", "id": project["id"]}
    shots = [
        emu.site.create("Shot", {"code": f"FAN{i:04d}", "project": link}, events=False)["id"]
        for i in range(entities)
    ]
    first = emu.site.last_event_id + 1
    for n in range(events):
        status = STATUSES[(n // entities) % len(STATUSES)]
        emu.site.update("Shot", shots[n % entities], {"sg_status_list": status})
    return first, emu.site.last_event_id


def check(record: Path, expected: list[int]) -> tuple[float, str]:
    """(events/s between the first start and the last end, what is wrong or "ok")."""
    runs = [line.split() for line in record.read_text().splitlines()]
    ids = [int(r[0]) for r in runs]
    by_entity: dict[int, list[int]] = {}
    for event_id, entity in ((int(r[0]), int(r[1])) for r in runs):
        by_entity.setdefault(entity, []).append(event_id)
    out_of_order = sum(1 for chain in by_entity.values() if chain != sorted(chain))
    problems = []
    if sorted(ids) != expected:
        problems.append(f"{len(set(expected) - set(ids))} missing, {len(ids) - len(set(ids))} run twice")
    if out_of_order:
        problems.append(f"{out_of_order} Shots out of order")
    seconds = max(float(r[3]) for r in runs) - min(float(r[2]) for r in runs)
    return len(ids) / seconds, "; ".join(problems) or "ok"


def daemon_loop(emu: FptEmulator, plugin: Path, first: int, last: int, record: Path) -> tuple[float, str]:
    """The daemon's way: each event's callback in turn, on one client of the plugin's script user."""
    spec = importlib.util.spec_from_file_location("fanout_serial", plugin)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reader = emu.connect(timeout=30)
    events = reader.find(
        "EventLogEntry",
        [["id", "between", [first, last]]],
        list(EVENT_FIELDS),
        order=[{"field_name": "id", "direction": "asc"}],
    )
    sg = emu.connect(*SCRIPT, timeout=30)
    log = logging.getLogger("plugin.fanout")
    for event in events:
        module.read_shot(sg, log, event, None)
    return check(record, list(range(first, last + 1)))


def run_local(
    emu: FptEmulator, folder: Path, first: int, last: int, concurrency: int, workdir: Path
) -> tuple[float, str, tuple[float, float]]:
    """`run` from `first` until it has finished `last`: (events/s, verdict, (its CPU seconds, the
    emulator's CPU seconds meanwhile))."""
    record = workdir / f"record-{concurrency}.txt"
    store = workdir / f"store-{concurrency}.sqlite"
    env = {
        **os.environ,
        "SHOTGUN_SCRIPT_NAME": DEFAULT_SCRIPT_NAME,
        "SHOTGUN_SCRIPT_KEY": DEFAULT_SCRIPT_KEY,
        "FANOUT_NAME": SCRIPT[0],
        "FANOUT_KEY": SCRIPT[1],
        "BENCH_RECORD": str(record),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "shotgun_events_tools",
        "run",
        "--site",
        emu.url,
        "--plugins",
        str(folder),
    ]
    command += ["--store", str(store), "--from-id", str(first), "--concurrency", str(concurrency)]
    command += ["--poll-interval", "0.5"]
    emulator_cpu = time.process_time()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not finished(store, emu.url, last):
            if process.poll() is not None:
                raise RuntimeError(f"shotgun-events run exited with {process.returncode}")
            time.sleep(0.1)
        cpu = (cpu_seconds(process.pid), time.process_time() - emulator_cpu)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return (*check(record, list(range(first, last + 1))), cpu)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def finished(store: Path, site: str, last: int) -> bool:
    try:
        with LocalStore(store, site, readonly=True) as view:
            loaded = view.load()
            return loaded is not None and loaded.state.cursor >= last and view.pending_total() == 0
    except StoreMissing:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the emulator adds to each call")
    parser.add_argument("--quick", action="store_true", help="500 events over 50 Shots")
    args = parser.parse_args()
    if args.quick:
        args.events, args.entities = 500, 50
    print(f"machine: {machine()}")
    with FptEmulator(seed=1) as emu, tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        workdir = Path(tmp)
        folder = workdir / "plugins"
        folder.mkdir()
        plugin = folder / "fanout.py"
        plugin.write_text(PLUGIN)
        emu.add_script(*SCRIPT)
        first, last = changes(emu, args.events, args.entities)
        emu.faults.set(latency=args.latency)
        os.environ["BENCH_RECORD"] = str(
            workdir / "record-daemon.txt"
        )  # the plugin's record, in this process
        progress("the daemon's way: one callback at a time ...")
        daemon = daemon_loop(emu, plugin, first, last, workdir / "record-daemon.txt")
        rival = "classic daemon: callbacks one at a time (the rival)"
        table = [[rival, 1, f"{daemon[0]:,.1f}", "1.0", "", daemon[1], ""]]
        for concurrency in (1, 32):
            progress(f"shotgun-events run, concurrency {concurrency} ...")
            rate, verdict, (run_cpu, emulator_cpu) = run_local(emu, folder, first, last, concurrency, workdir)
            label = f"`shotgun-events run`, dispatch concurrency {concurrency}"
            target = f">= {TARGET:g}" if concurrency == 32 else ""
            cpu = f"{run_cpu / args.events * 1000:.1f} / {emulator_cpu / args.events * 1000:.1f}"
            table.append(
                [label, concurrency, f"{rate:,.1f}", f"{rate / daemon[0]:.1f}", target, verdict, cpu]
            )
    print_table(
        f"Plugin-bound fan-out: {args.events:,} events over {args.entities} Shots, one FPT read a callback, "
        f"emulator at {args.latency * 1000:g} ms per call",
        [
            "path",
            "concurrency",
            "events/s",
            "x daemon",
            "target",
            "each once, in order per Shot",
            "CPU ms an event: run / emulator",
        ],
        table,
    )


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
