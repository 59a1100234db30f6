"""`shotgun-events run` as a child process against the FPT emulator, and what tests read back."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpt_emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator
from shotgun_events_tools.local.store import LocalStore, StoreMissing

HANG_GUARD = 60.0  # only ever reached when something hangs: every wait is for a condition

# A plugin writing one Note per matching event, subject "<tag> <event id>", as its own script user.
NOTE_PLUGIN = """
import os

def registerCallbacks(reg):
    reg.registerCallback(os.environ["{env}_NAME"], os.environ["{env}_KEY"], write_note,
                         matchEvents={match!r}, args={{"tag": {tag!r}}})

def write_note(sg, logger, event, args):
    if event["meta"].get("new_value") in {poison!r}:
        raise RuntimeError("this status is poison for " + args["tag"])
    sg.create("Note", {{"subject": "%s %d" % (args["tag"], event["id"]), "project": event["project"],
                        "note_links": [event["entity"]]}})
"""
STATUS_CHANGES = {"Shotgun_Shot_Change": ["sg_status_list"]}


def note_plugin(
    directory: Path,
    name: str,
    tag: str | None = None,
    match: Any = STATUS_CHANGES,
    poison: tuple[str, ...] = (),
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    source = NOTE_PLUGIN.format(env=name.upper(), match=match, tag=tag or name, poison=poison)
    path.write_text(source, encoding="utf-8")
    return path


def script_env(emu: FptEmulator, *plugins: str) -> dict[str, str]:
    """The environment of a run: the poller's script user, and one per plugin (added to the site)."""
    env = {"SHOTGUN_SCRIPT_NAME": DEFAULT_SCRIPT_NAME, "SHOTGUN_SCRIPT_KEY": DEFAULT_SCRIPT_KEY}
    for name in plugins:
        emu.add_script(name, f"{name}-key")
        env |= {f"{name.upper()}_NAME": name, f"{name.upper()}_KEY": f"{name}-key"}
    return env


FAST = [
    "--poll-interval",
    "0.05",
    "--retry-delay",
    "0.02",
    "--max-retry-delay",
    "0.1",
    "--reload-interval",
    "0.1",
    "--backlog-timeout",
    "5",
    "--fpt-timeout",
    "10",
]


class RunProcess:
    """`shotgun-events run ...` in a child process; its output lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path):
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shotgun_events_tools", "run", *args],
            env={**os.environ, "POWERTOOLS_LOG_LEVEL": "INFO", **env},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for_line(self, pattern: str) -> str:
        found = re.compile(pattern)
        deadline = time.monotonic() + HANG_GUARD
        with self._changed:
            while True:
                for line in self.lines:
                    if found.search(line):
                        return line
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"run ended without {pattern!r}:\n{self.output[-4000:]}")
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"no {pattern!r} in the output:\n{self.output[-4000:]}")

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no clean-up of any kind
        self.proc.wait()
        self._reader.join()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(HANG_GUARD)
        self._reader.join()
        return code


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def read_store(path: Path, site: str) -> LocalStore:
    return LocalStore(path, site, readonly=True)


def caught_up(path: Path, site: str, event_id: int) -> bool:
    """The run read past `event_id` and every plugin finished or dead-lettered what it got."""
    try:
        store = read_store(path, site)
    except StoreMissing:
        return False  # not created yet
    with store:
        loaded = store.load()
        return loaded is not None and loaded.state.cursor >= event_id and store.pending_total() == 0


def notes_by(emu: FptEmulator, plugin: str) -> list[tuple[str, int]]:
    """(tag, event id) of every Note the plugin's script user created, in commit order."""
    notes = []
    for write in emu.writes_by(plugin, "create"):
        tag, event_id = str(write.fields["subject"]).rsplit(" ", 1)
        notes.append((tag, int(event_id)))
    return notes


def make_shots(emu: FptEmulator, count: int) -> list[int]:
    project = emu.site.find_one("Project", [], ["id"])
    assert project is not None
    link = {"type": "Project", "id": project["id"]}
    return [
        emu.site.create("Shot", {"code": f"SH{i:03d}", "project": link}, events=False)["id"]
        for i in range(count)
    ]


def change_statuses(emu: FptEmulator, shots: list[int], statuses: tuple[str, ...]) -> None:
    """Each status in turn on every shot, interleaved across shots (as a busy studio does)."""
    for status in statuses:
        for shot in shots:
            emu.site.update("Shot", shot, {"sg_status_list": status})


def status_events(emu: FptEmulator, after: int) -> list[dict[str, Any]]:
    return [
        e
        for e in emu.site.events(after)
        if e["event_type"] == "Shotgun_Shot_Change" and e["attribute_name"] == "sg_status_list"
    ]
