"""`shotgun-events run` end to end against the FPT emulator, as a child process killed and restarted.

Every matching event's effect (a Note the plugin writes) happens once per plugin; the only events
allowed a second effect are those a SIGKILL cut off mid-run (the store shows them as under way
after the kill), which is the documented at-least-once case of a callback interrupted mid-write.
"""

from __future__ import annotations

import json
import pickle
import random
import re
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from fpt_emulator import FptEmulator
from shotgun_events_tools.cli import main
from tests.local.support import (
    FAST,
    RunProcess,
    caught_up,
    change_statuses,
    make_shots,
    note_plugin,
    notes_by,
    read_store,
    script_env,
    status_events,
    wait_until,
)

# Codes of the stock Shot status list (cbb, fin, ip, omt, hld, rdy, wtg); "omt" is the poison.
STATUSES = ("rdy", "ip", "hld", "fin", "cbb", "ip", "fin")


def test_killed_at_random_points_and_restarted_every_effect_happens_once(
    fpt_emulator: FptEmulator, tmp_path: Path
) -> None:
    # GIVEN two plugins on shot status changes; plugin b cannot handle one status ("omt")
    emu, rng = fpt_emulator, random.Random(20261127)
    plugins = tmp_path / "plugins"
    note_plugin(plugins, "notes_a")
    note_plugin(plugins, "notes_b", poison=("omt",))
    env = script_env(emu, "notes_a", "notes_b")
    store = tmp_path / "store.sqlite"
    shots = make_shots(emu, 8)
    first_id = emu.site.last_event_id + 1
    args = ["--site", emu.url, "--plugins", str(plugins), "--store", str(store), *FAST, "--max-attempts", "6"]
    run = RunProcess([*args, "--from-id", str(first_id)], env, tmp_path)

    # WHEN the studio works while the run is SIGKILLed four times at random points and restarted
    interrupted: Counter[tuple[str, int]] = Counter()
    rounds = [STATUSES[:3], ("omt",), STATUSES[3:5], STATUSES[5:]]
    for statuses in rounds:
        written = emu.write_count
        change_statuses(emu, shots, statuses)
        wait_until(lambda: emu.write_count > written, "the run made progress")  # noqa: B023
        time.sleep(rng.uniform(0.0, 0.25))  # then a random moment: mid-callback, between, or idle
        run.kill()
        with read_store(store, emu.url) as view:
            interrupted.update((d.plugin, d.event_id) for d in view.in_flight())
        run = RunProcess(args, env, tmp_path)
    run.wait_for_line("connected to FPT")  # started (and listening for SIGTERM)
    wait_until(lambda: caught_up(store, emu.url, emu.site.last_event_id), "the run caught up")
    assert run.stop() == 0, run.output[-3000:]
    # (the output is the Lambdas' JSON lines: logs, ours and the plugins', and EMF metrics)
    lines = [line for line in run.output.splitlines() if not line.startswith("shotgun-events run: stopping")]
    assert all(isinstance(json.loads(line), dict) for line in lines)

    # THEN every status change got one note from each plugin (two only where a kill cut its run off)
    events = status_events(emu, first_id - 1)
    assert len(events) == len(shots) * 8
    poisoned = {e["id"] for e in events if e["meta"]["new_value"] == "omt"}
    doubled = []
    for plugin in ("notes_a", "notes_b"):
        counts = {e["id"]: 0 for e in events}
        for _, event_id in notes_by(emu, plugin):
            counts[event_id] += 1
        for event_id, count in counts.items():
            if plugin == "notes_b" and event_id in poisoned:
                assert count == 0
            elif (plugin, event_id) in interrupted:
                assert 1 <= count <= 1 + interrupted[(plugin, event_id)], (plugin, event_id, count)
                doubled += [(plugin, event_id)] * (count - 1)
            else:
                assert count == 1, (plugin, event_id, count)
        # and one shot's notes were written in the order of its events
        order = {e["id"]: e["entity"]["id"] for e in events}
        for shot in shots:
            ids = [i for _, i in notes_by(emu, plugin) if order[i] == shot]
            assert ids == sorted(ids), (plugin, shot, ids)
    assert len(doubled) <= interrupted.total()
    # the poisoned events, and only those, are plugin b's dead letters; nothing waits
    with read_store(store, emu.url) as view:
        assert {(d.plugin, d.event_id) for d in view.dead_letters()} == {("notes_b", i) for i in poisoned}
        assert all("is poison for notes_b" in d.reason for d in view.dead_letters())
        assert view.pending() == []


def test_plugins_reload_when_their_file_changes_and_a_broken_one_loses_nothing(
    fpt_emulator: FptEmulator, tmp_path: Path
) -> None:
    # GIVEN a working plugin, and one that raises in registerCallbacks
    emu = fpt_emulator
    plugins = tmp_path / "plugins"
    stamp = note_plugin(plugins, "stamp", tag="v1")
    broken = plugins / "late.py"
    broken.write_text("def registerCallbacks(reg):\n    raise RuntimeError('not configured yet')\n")
    env = script_env(emu, "stamp", "late", "newcomer")
    store = tmp_path / "store.sqlite"
    shots = make_shots(emu, 3)
    first_id = emu.site.last_event_id + 1
    args = ["--site", emu.url, "--plugins", str(plugins), "--store", str(store), *FAST]
    args += ["--log-format", "text", "--status-interval", "0.1"]
    run = RunProcess([*args, "--from-id", str(first_id)], env, tmp_path)
    line = run.wait_for_line(
        r"plugin late disabled: raised in registerCallbacks: RuntimeError: not configured yet"
    )
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR   plugin late disabled", line)  # text logs

    # WHEN events arrive, then both files change, then more events arrive
    change_statuses(emu, shots, ("ip", "hld"))
    wait_until(lambda: len(notes_by(emu, "stamp")) == 6, "the working plugin ran")
    with read_store(store, emu.url) as view:
        assert view.pending_counts().get("late", 0) > 0  # the broken plugin's events wait for it
    note_plugin(plugins, "stamp", tag="v2")
    note_plugin(plugins, "late", tag="late")
    note_plugin(plugins, "newcomer")
    run.wait_for_line(r"plugin stamp changed on disk: reloaded")
    run.wait_for_line(r"plugin late changed on disk: reloaded")
    run.wait_for_line(r"plugin newcomer added")
    change_statuses(emu, shots, ("fin",))
    wait_until(lambda: caught_up(store, emu.url, emu.site.last_event_id), "the run caught up")
    assert run.stop() == 0

    # THEN the events before the change ran the old code, the later ones the new code
    events = [e["id"] for e in status_events(emu, first_id - 1)]
    assert sorted(notes_by(emu, "stamp")) == sorted(
        [("v1", i) for i in events[:6]] + [("v2", i) for i in events[6:]]
    )
    # and the plugin that could not load ran every event it missed once it loaded
    assert sorted(notes_by(emu, "late")) == [("late", i) for i in events]
    # and the one added while running got the events from then on
    assert sorted(notes_by(emu, "newcomer")) == [("newcomer", i) for i in events[6:]]
    assert re.search(r"INFO    plugin stamp: \d+ events finished, 0 waiting", run.output)  # status lines
    assert stamp.exists()


def test_a_callback_without_a_script_user_is_named_once_at_start(
    fpt_emulator: FptEmulator, tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    note_plugin(plugins, "stamp", tag="v1")
    (plugins / "unkeyed.py").write_text(
        "import os\n\n"
        "def registerCallbacks(reg):\n"
        "    reg.registerCallback(os.environ.get('UNSET_NAME'), os.environ.get('UNSET_KEY'), cb)\n\n"
        "def cb(sg, logger, event, args):\n"
        "    pass\n"
    )
    args = ["--site", fpt_emulator.url, "--plugins", str(plugins), "--store", str(tmp_path / "s.sqlite")]
    run = RunProcess([*args, *FAST, "--log-format", "text"], script_env(fpt_emulator, "stamp"), tmp_path)
    run.wait_for_line(r"callback cb of plugin unkeyed has no script name and key in this environment")
    run.wait_for_line(r"connected to FPT")
    assert run.stop() == 0
    assert run.output.count("has no script name and key") == 1  # the unkeyed callback; stamp has its user


def test_a_daemon_id_file_continues_where_the_daemon_stopped(
    fpt_emulator: FptEmulator, tmp_path: Path
) -> None:
    # GIVEN events the classic daemon had handled up to event `last`, and later ones it had not
    emu = fpt_emulator
    plugins = tmp_path / "plugins"
    note_plugin(plugins, "stamp")
    env = script_env(emu, "stamp")
    shots = make_shots(emu, 2)
    change_statuses(emu, shots, ("ip", "hld", "fin"))
    events = [e["id"] for e in status_events(emu, 0)]
    last = events[2]
    daemon_file = tmp_path / "shotgunEventDaemon.id"
    daemon_file.write_bytes(pickle.dumps({str(plugins): {"stamp": (last, {})}}, protocol=2))
    store = tmp_path / "store.sqlite"
    args = ["--site", emu.url, "--plugins", str(plugins), "--store", str(store), *FAST]

    # WHEN run starts from the daemon's id file
    run = RunProcess([*args, "--daemon-state", str(daemon_file)], env, tmp_path)
    run.wait_for_line("connected to FPT")
    wait_until(lambda: caught_up(store, emu.url, emu.site.last_event_id), "the run caught up")
    assert run.stop(signal.SIGINT) == 0  # Ctrl-C

    # THEN exactly the events after the daemon's last one ran
    assert sorted(notes_by(emu, "stamp")) == [("stamp", i) for i in events if i > last]
    # and giving the id file again does not rewind the store
    again = RunProcess([*args, "--daemon-state", str(daemon_file)], env, tmp_path)
    assert again.proc.wait(60) == 2, again.output[-3000:]
    assert "already goes on after event" in again.output


# -- bad input: one clear line, exit 2, nothing lost ------------------------------------------------------


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    note_plugin(tmp_path / "plugins", "stamp")
    return tmp_path / "plugins"


def run_main(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> int:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(["run", *args, *FAST])


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("wrong_key", "refused script 'shotgun_events' (wrong script name or key?)"),
        ("unreachable", "cannot read FPT at http://127.0.0.1:9"),
        ("no_credentials", "no script credentials: set SHOTGUN_SCRIPT_NAME and SHOTGUN_SCRIPT_KEY"),
        ("empty_folder", "no plugins in"),
        ("missing_folder", "does not exist"),
        ("all_broken", "no plugin could be loaded (broken: failed to import: SyntaxError"),
        ("foreign_store", "is not a shotgun-events store (not an SQLite database)"),
        ("store_in_use", "is in use by another shotgun-events run"),
        ("store_folder_missing", "No such file or directory"),
        ("bad_credentials_file", "has no api_key string"),
    ],
)
def test_bad_input_is_one_clear_line(
    setup: str,
    message: str,
    fpt_emulator: FptEmulator,
    plugins_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = script_env(fpt_emulator, "stamp")
    site, folder, store = fpt_emulator.url, plugins_dir, tmp_path / "store.sqlite"
    extra: list[str] = []
    holder = None
    if setup == "wrong_key":
        env["SHOTGUN_SCRIPT_KEY"] = "not-the-key-1234"
    elif setup == "unreachable":
        site = "http://127.0.0.1:9"
    elif setup == "no_credentials":
        monkeypatch.delenv("SHOTGUN_SCRIPT_NAME", raising=False)
        monkeypatch.delenv("SHOTGUN_SCRIPT_KEY", raising=False)
        env = {}
    elif setup == "empty_folder":
        folder = tmp_path / "empty"
        folder.mkdir()
    elif setup == "missing_folder":
        folder = tmp_path / "nowhere"
    elif setup == "all_broken":
        folder = tmp_path / "broken_plugins"
        folder.mkdir()
        (folder / "broken.py").write_text("def registerCallbacks(reg)\n")
    elif setup == "foreign_store":
        store.write_text("studio notes, not a store\n")
    elif setup == "store_in_use":
        from shotgun_events_tools.local.store import LocalStore

        holder = LocalStore(store, site)
    elif setup == "store_folder_missing":
        store = tmp_path / "nowhere" / "store.sqlite"
    elif setup == "bad_credentials_file":
        credentials = tmp_path / "poller.json"
        credentials.write_text('{"script_name": "shotgun_events"}')
        extra = ["--credentials", str(credentials)]
    before = store.read_bytes() if store.exists() else None
    try:
        code = run_main(
            monkeypatch, env, "--site", site, "--plugins", str(folder), "--store", str(store), *extra
        )
    finally:
        if holder is not None:
            holder.close()
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("shotgun-events run: ") and message in line, line
    assert "not-the-key-1234" not in line
    if setup in ("wrong_key", "unreachable"):
        assert not store.exists()  # not bound to a site that did not answer: the right --site just works
    elif setup == "foreign_store":
        assert store.read_bytes() == before
    elif store.exists():  # nothing moved
        with read_store(store, site) as view:
            assert view.load() is None and view.pending() == []
