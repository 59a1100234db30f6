"""Benchmark: `shotgun-events run` catching up on N status changes (default 2,000) across S shots.

Two plugins run on every change: one writes a Note to FPT per event (a real write through
`shotgun_api3`), one does nothing (the runtime's own cost: store, ledger, dispatch core). Prints the
time from start to caught up and the deliveries per second, and the same after a SIGKILL and
restart mid-way. The emulator runs in this process; `run` in its own. Not a test: it prints numbers.

    .venv/bin/python bench/local_run.py [--events 2000] [--shots 50] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fpt_emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator
from shotgun_events_tools.local.store import LocalStore, StoreMissing

PLUGINS = {
    "writer": """
import os

def registerCallbacks(reg):
    reg.registerCallback(os.environ["WRITER_NAME"], os.environ["WRITER_KEY"], note,
                         matchEvents={"Shotgun_Shot_Change": ["sg_status_list"]})

def note(sg, logger, event, args):
    sg.create("Note", {"subject": "event %d" % event["id"], "project": event["project"]})
""",
    "noop": """
import os

def registerCallbacks(reg):
    reg.registerCallback(os.environ["NOOP_NAME"], os.environ["NOOP_KEY"], nothing,
                         matchEvents={"Shotgun_Shot_Change": ["sg_status_list"]})

def nothing(sg, logger, event, args):
    pass
""",
}
STATUSES = ("wtg", "rdy", "ip", "rev", "fin", "hld", "apr")


def start_run(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "shotgun_events_tools", "run", *args],
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def progress(store: Path, site: str) -> tuple[int, int]:
    """(poller cursor, deliveries waiting)."""
    try:
        with LocalStore(store, site, readonly=True) as view:
            loaded = view.load()
            return (loaded.state.cursor if loaded else 0), view.pending_total()
    except StoreMissing:
        return 0, -1


def wait_caught_up(store: Path, site: str, last: int) -> None:
    while True:
        cursor, waiting = progress(store, site)
        if cursor >= last and waiting == 0:
            return
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--shots", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    options = parser.parse_args()

    with FptEmulator(seed=1) as emu, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "plugins"
        folder.mkdir()
        env = {"SHOTGUN_SCRIPT_NAME": DEFAULT_SCRIPT_NAME, "SHOTGUN_SCRIPT_KEY": DEFAULT_SCRIPT_KEY}
        for name, source in PLUGINS.items():
            (folder / f"{name}.py").write_text(source)
            emu.add_script(name, f"{name}-key")
            env |= {f"{name.upper()}_NAME": name, f"{name.upper()}_KEY": f"{name}-key"}
        project = emu.site.find_one("Project", [], ["id"])
        assert project is not None
        link = {"type": "Project", "id": project["id"]}
        shots = [
            emu.site.create("Shot", {"code": f"B{i:04d}", "project": link}, events=False)["id"]
            for i in range(options.shots)
        ]
        first = emu.site.last_event_id + 1
        for n in range(options.events):
            emu.site.update(
                "Shot", shots[n % len(shots)], {"sg_status_list": STATUSES[(n // len(shots)) % 7]}
            )
        last = emu.site.last_event_id
        deliveries = options.events * len(PLUGINS)

        for label, kill_at in (("straight through", None), ("SIGKILL at half, restart", 0.5)):
            store = Path(tmp) / f"store-{kill_at}.sqlite"
            args = [
                "--site",
                emu.url,
                "--plugins",
                str(folder),
                "--store",
                str(store),
                "--poll-interval",
                "0.2",
            ]
            args += ["--concurrency", str(options.concurrency)]
            started = time.monotonic()
            proc = start_run([*args, "--from-id", str(first)], env)
            if kill_at is not None:
                while len(emu.writes_by("writer")) < options.events * kill_at:
                    time.sleep(0.01)
                proc.kill()
                proc.wait()
                proc = start_run(args, env)
            wait_caught_up(store, emu.url, last)
            seconds = time.monotonic() - started
            proc.terminate()
            proc.wait()
            print(
                f"{label}: {options.events} events x {len(PLUGINS)} plugins in {seconds:.1f} s "
                f"= {deliveries / seconds:.0f} deliveries/s (concurrency {options.concurrency}, "
                f"{options.shots} shots; start-up included)"
            )
            emu.clear_writes()


if __name__ == "__main__":
    main()
