"""The operator commands on the local runtime's store (`--local PATH`): the same commands, their
effect checked in the store itself; a store held by a running `run` is refused for changes, except
pause and resume, which that run honours (checked against a real `run`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fpt_emulator import FptEmulator
from shotgun_events.events import encode_event
from shotgun_events.poller.cursor import PollState
from shotgun_events_tools.cli import main
from shotgun_events_tools.local.store import LocalStore
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
from tests.operate.conftest import Cli

SCRIPT = ("local_poller", "local-key-0001")


@pytest.fixture
def site(fpt_emulator: FptEmulator, monkeypatch: pytest.MonkeyPatch) -> FptEmulator:
    fpt_emulator.add_script(*SCRIPT)
    fpt_emulator.preload_events(20)
    monkeypatch.setenv("SHOTGUN_SCRIPT_NAME", SCRIPT[0])  # as `run` reads its script user
    monkeypatch.setenv("SHOTGUN_SCRIPT_KEY", SCRIPT[1])
    return fpt_emulator


@pytest.fixture
def store_path(site: FptEmulator, tmp_path: Path) -> Path:
    """A store as `run` leaves it: a cursor, init_entity's pending events, two parked by
    create_shot_directories (what its worker does after the last attempt)."""
    path = tmp_path / "shotgun-events.sqlite"
    events = site.site.events(0)
    with LocalStore(path, site.url) as store:
        store.save(PollState(cursor=events[-1]["id"]), None)
        store.enqueue([("init_entity", encode_event(e)) for e in events[:3]])
        store.enqueue([("create_shot_directories", encode_event(e)) for e in events[3:5]])
        while taken := store.take_ready("create_shot_directories", 10):  # one entity's come one by one
            for delivery in taken:
                reason = f"RuntimeError: SHOT_DIRECTORIES_ROOT is not set (event {delivery.event_id})"
                store.dead_letter(delivery, reason)
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Cli:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return Cli(code, out, err)


def test_status_reads_the_store(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(capsys, "status", "--local", str(store_path), "--json")
    assert result.code == 0, result.err
    document: dict[str, Any] = json.loads(result.out)
    assert document["deployment"] == f"local store {store_path}" and document["site"] == site.url
    assert document["poller"]["cursor"] == document["fpt"]["newest_id"]
    plugins = {p["name"]: p for p in document["plugins"]}
    assert (plugins["init_entity"]["queued"], plugins["init_entity"]["parked"]) == (3, 0)
    assert plugins["create_shot_directories"]["parked"] == 2
    assert "logArgs" in plugins  # in plugins/: a plugin `run` runs
    assert document["alarms"] == []
    assert document["poller"]["runs_recorded"] is False


def test_dlq_and_redrive_on_the_store(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = cli(capsys, "dlq", "create_shot_directories", "--local", str(store_path), "--json")
    assert listed.code == 0, listed.err
    parked = json.loads(listed.out)["listed"]
    ids = [p["event_id"] for p in parked]
    assert len(ids) == 2 and {p["receive_count"] for p in parked} == {1}
    shown = cli(
        capsys, "dlq", "create_shot_directories", "--local", str(store_path), "--event", str(ids[0]), "--json"
    )
    assert (
        f"SHOT_DIRECTORIES_ROOT is not set (event {ids[0]})" in json.loads(shown.out)["last_error"]["message"]
    )

    moved = cli(capsys, "redrive", "create_shot_directories", "--local", str(store_path))
    assert moved.code == 0, moved.err
    (audit,) = moved.audit()
    assert (audit["count"], audit["outcome"], audit["target"]) == (2, "done", f"local store {store_path}")
    assert "@" in audit["who"]
    with LocalStore(store_path, site.url, readonly=True) as store:
        assert store.dead_letters("create_shot_directories") == []
        pending = store.pending("create_shot_directories")
        assert [d.event_id for d in pending] == ids and {d.attempts for d in pending} == {0}


def test_replay_queues_the_matching_events_with_the_replay_id(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    artist = site.connect(timeout=5)
    shot = artist.create("Shot", {"code": "SH_LOCAL_010", "project": {"type": "Project", "id": 1}})
    new = next(
        e["id"]
        for e in site.site.events(0)
        if e["event_type"] == "Shotgun_Shot_New" and e["entity"]["id"] == shot["id"]
    )
    result = cli(capsys, "replay", "init_entity", "--local", str(store_path), "--from-id", str(new), "--yes")
    assert result.code == 0, result.err
    with LocalStore(store_path, site.url, readonly=True) as store:
        (delivery,) = [d for d in store.pending("init_entity") if d.event_id == new]
        assert delivery.attributes["replay_id"] == result.audit()[0]["replay_id"]
        assert store.pending("create_shot_directories") == []  # it matches Shot_New too: not its replay


def test_init_and_import_on_the_store(
    store_path: Path, site: FptEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = cli(capsys, "init", "--local", str(store_path), "--from-id", "5")
    assert refused.code == 2 and "already has a state" in refused.err
    assert cli(capsys, "init", "--local", str(store_path), "--from-id", "5", "--force").code == 0
    with LocalStore(store_path, site.url, readonly=True) as store:
        loaded = store.load()
        assert loaded is not None and loaded.state.cursor == 4
    missing = cli(capsys, "import-daemon-state", "--local", str(store_path), str(tmp_path / "none.id"))
    assert missing.code == 2 and "cannot read daemon state file" in missing.err


def test_changes_wait_for_a_running_run(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalStore(store_path, site.url):  # `run` holds the store
        held = cli(capsys, "redrive", "create_shot_directories", "--local", str(store_path))
        assert held.code == 2
        assert "in use by another shotgun-events run" in held.err and "stop it first" in held.err
        assert cli(capsys, "status", "--local", str(store_path), "--json").code == 0  # reads still work
    with LocalStore(store_path, site.url, readonly=True) as store:
        assert len(store.dead_letters("create_shot_directories")) == 2


def read_pending(store: Path, site: str, plugin: str) -> list[Any]:
    with read_store(store, site) as view:
        return view.pending(plugin)


def plugin_status(capsys: pytest.CaptureFixture[str], store: Path, *args: str) -> dict[str, dict[str, Any]]:
    """`status --local STORE --json`'s plugins, by name."""
    result = cli(capsys, "status", "--local", str(store), *args, "--json")
    assert result.code == 0, result.err
    return {p["name"]: p for p in json.loads(result.out)["plugins"]}


def test_pause_is_written_beside_a_running_run_and_without_one(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalStore(store_path, site.url) as held:  # `run` holds the store
        paused = cli(capsys, "pause", "init_entity", "--local", str(store_path))
        assert paused.code == 0, paused.err
        assert paused.out == "plugin init_entity paused: its events wait in its queue\n"
        (audit,) = paused.audit()
        assert (audit["command"], audit["plugin"], audit["count"]) == ("pause", "init_entity", 1)
        assert audit["target"] == f"local store {store_path}"
        assert held.take_ready("init_entity", 10) == []  # what `run`'s worker would take
        plugins = plugin_status(capsys, store_path)
        assert (plugins["init_entity"]["paused"], plugins["init_entity"]["state"]) == (True, "Disabled")
        assert plugins["init_entity"]["queued"] == 3
        assert plugins["create_shot_directories"]["paused"] is False
    again = cli(capsys, "pause", "init_entity", "--local", str(store_path))  # no run: with the lock
    assert again.code == 0 and "already paused" in again.out and again.audit()[0]["count"] == 0
    resumed = cli(capsys, "resume", "init_entity", "--local", str(store_path))
    assert resumed.code == 0 and resumed.out == "plugin init_entity resumed\n"
    assert resumed.audit()[0]["command"] == "resume"
    assert "already running" in cli(capsys, "resume", "init_entity", "--local", str(store_path)).out
    assert plugin_status(capsys, store_path)["init_entity"]["paused"] is False


def test_pausing_an_unknown_plugin_is_one_line_and_changes_nothing(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(capsys, "pause", "no_such_plugin", "--local", str(store_path))
    assert result.code == 2 and result.audit() == []
    (line,) = result.err.strip().splitlines()
    assert f"local store {store_path} has no plugin 'no_such_plugin'" in line and "init_entity" in line
    with LocalStore(store_path, site.url, readonly=True) as store:
        assert store.paused_plugins() == set()


def test_a_paused_plugin_of_a_running_run_waits_and_resumed_gets_every_event_once_in_order(
    site: FptEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN `shotgun-events run` with two plugins on Shot status changes, both running
    plugins = tmp_path / "plugins"
    note_plugin(plugins, "notes_a")
    note_plugin(plugins, "notes_b")
    env = script_env(site, "notes_a", "notes_b")
    store = tmp_path / "store.sqlite"
    shots = make_shots(site, 4)
    first_id = site.site.last_event_id + 1
    args = ["--site", site.url, "--plugins", str(plugins), "--store", str(store), *FAST]
    run = RunProcess([*args, "--from-id", str(first_id)], env, tmp_path)
    run.wait_for_line("connected to FPT")
    local = ["--local", str(store), "--plugins", str(plugins)]
    change_statuses(site, shots, ("ip",))
    before = [e["id"] for e in status_events(site, first_id - 1)]
    wait_until(lambda: caught_up(store, site.url, before[-1]), "both plugins ran the first events")

    # WHEN notes_b is paused from this process, and the studio goes on
    paused = cli(capsys, "pause", "notes_b", *local)
    assert paused.code == 0, paused.err
    change_statuses(site, shots, ("hld", "fin", "ip"))
    during = [e["id"] for e in status_events(site, before[-1])]

    # THEN notes_a runs them all, notes_b none: they wait in the store, in order
    wait_until(lambda: sorted(i for _, i in notes_by(site, "notes_a")) == before + during, "notes_a ran them")
    # Its last note is written just before the store settles that event: wait for the store too.
    wait_until(lambda: not read_pending(store, site.url, "notes_a"), "notes_a's deliveries settled")
    assert sorted(i for _, i in notes_by(site, "notes_b")) == before
    with read_store(store, site.url) as view:
        assert [d.event_id for d in view.pending("notes_b")] == during
        assert view.in_flight() == [] and view.pending("notes_a") == []
    status = plugin_status(capsys, store, "--plugins", str(plugins))
    assert (status["notes_b"]["paused"], status["notes_b"]["queued"]) == (True, len(during))
    assert status["notes_a"]["paused"] is False

    # WHEN it is resumed
    resumed = cli(capsys, "resume", "notes_b", *local)
    assert resumed.code == 0, resumed.err
    wait_until(lambda: caught_up(store, site.url, during[-1]), "notes_b caught up")
    assert run.stop() == 0, run.output[-3000:]

    # THEN it ran every event it missed, once, each Shot's in the order of its events
    notes = [i for _, i in notes_by(site, "notes_b")]
    assert sorted(notes) == before + during
    shot_of = {e["id"]: e["entity"]["id"] for e in status_events(site, first_id - 1)}
    for shot in shots:
        ids = [i for i in notes if shot_of[i] == shot]
        assert ids == sorted(ids), (shot, ids)
    assert sorted(i for _, i in notes_by(site, "notes_a")) == before + during  # and notes_a each once

    # and a pause set while no run holds the store is kept, and named when the next run starts
    assert cli(capsys, "pause", "notes_b", *local).code == 0
    again = RunProcess(args, env, tmp_path)
    again.wait_for_line(
        r"plugin notes_b is paused: its events wait in the store until .shotgun-events resume notes_b"
    )
    assert again.stop() == 0, again.output[-3000:]


def test_no_store_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "status", "--local", str(tmp_path / "none.sqlite"))
    assert result.code == 2
    missing = tmp_path / "none.sqlite"
    assert result.err.strip() == (
        f"shotgun-events status: no local store at {missing} (`shotgun-events run --store {missing} "
        "--from-id N` creates one that starts at event N)"
    )


def test_plugins_takes_one_folder_each_time_and_leaves_the_plugin_argument_alone(
    store_path: Path, site: FptEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    more = tmp_path / "more_plugins"
    note_plugin(more, "notes_a")
    folders = ["--plugins", "plugins", "--plugins", str(more)]
    paused = cli(capsys, "pause", "--local", str(store_path), *folders, "init_entity")
    assert paused.code == 0, paused.err
    status = plugin_status(capsys, store_path, *folders)
    assert status["init_entity"]["paused"] is True and {"logArgs", "notes_a"} <= set(status)
    missing = cli(capsys, "import-daemon-state", "--local", str(store_path), *folders, str(tmp_path / "x.id"))
    assert missing.code == 2 and "cannot read daemon state file" in missing.err


def test_dlq_shows_when_each_parked_event_was_first_delivered_and_its_error_without_markup(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalStore(store_path, site.url, readonly=True) as store:
        queued = {r["event_id"]: r["enqueued_at"] for r in store.query("SELECT * FROM dead_letters")}
    listed = cli(capsys, "dlq", "create_shot_directories", "--local", str(store_path), "--json")
    for row in json.loads(listed.out)["listed"]:
        expected = datetime.fromtimestamp(queued[row["event_id"]], UTC).replace(microsecond=0)
        assert row["first_delivery"] == expected.isoformat().replace("+00:00", "Z")
    event = min(queued)
    shown = cli(capsys, "dlq", "create_shot_directories", "--local", str(store_path), "--event", str(event))
    assert shown.code == 0, shown.err
    assert f"first delivery {expected.year}" in shown.out and "[bold]" not in shown.out
    assert f"last error {expected.year}" in shown.out and "SHOT_DIRECTORIES_ROOT is not set" in shown.out


def test_status_shows_what_the_store_records_of_failures_and_the_plugins_that_do_not_load(
    store_path: Path, site: FptEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN one of init_entity's events failed once and waits for its retry, and a plugin that does not import
    with LocalStore(store_path, site.url) as store:
        (taken, *_) = store.take_ready("init_entity", 1)
        store.retry_later(taken, taken.enqueued_at + 60, "RuntimeError: FPT said no")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "syntax_error.py").write_text("def registerCallbacks(reg)\n", encoding="utf-8")
    folders = ["--plugins", "plugins", "--plugins", str(broken)]

    plugins = plugin_status(capsys, store_path, *folders)
    init, parking = plugins["init_entity"], plugins["create_shot_directories"]
    assert (init["retrying"], init["retry_attempts"], init["parked_last_hour"]) == (1, 1, 0)
    assert (parking["retrying"], parking["parked_last_hour"]) == (0, 2)
    assert init["failures_last_hour"] is None  # the store does not record failed attempts by time
    assert plugins["syntax_error"]["state"] == "Disabled" and plugins["init_entity"]["state"] == "Enabled"
    assert "SyntaxError" in plugins["syntax_error"]["load_error"]

    table = cli(capsys, "status", "--local", str(store_path), *folders)
    row = next(line for line in table.out.splitlines() if "syntax_error" in line)
    assert "disabled: does not load" in row
    assert "1 retrying (up to 1 attempts), 0 parked in 1h" in table.out


def test_every_change_writes_one_audit_line_with_its_outcome_and_nothing_else_on_stderr(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    local = ["--local", str(store_path)]
    newest = str(site.site.last_event_id)
    runs = {
        "pause": cli(capsys, "pause", "init_entity", *local),
        "resume": cli(capsys, "resume", "init_entity", *local),
        "init": cli(capsys, "init", *local, "--from-id", "5", "--force"),
        "redrive": cli(capsys, "redrive", "create_shot_directories", *local),
        "replay": cli(capsys, "replay", "init_entity", *local, "--from-id", newest, "--yes"),
    }
    for command, result in runs.items():
        assert result.code == 0, result.err
        (line,) = result.err.splitlines()  # the audit line, no empty line before it
        assert (json.loads(line)["command"], json.loads(line)["outcome"]) == (command, "done")

    refused = cli(capsys, "init", *local, "--from-id", "5")  # a state exists: refused, and audited so
    assert refused.code == 2
    (audit,) = refused.audit()
    assert (audit["command"], audit["outcome"], audit["count"]) == ("init", "failed", 0)
    assert refused.err.splitlines()[-1].startswith("shotgun-events init: the poller already has a state")


def test_dlq_event_not_parked_says_so_plainly(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(capsys, "dlq", "create_shot_directories", "--local", str(store_path), "--event", "999999")
    assert result.code == 2
    assert result.err.strip() == (
        "shotgun-events dlq: plugin create_shot_directories has not parked event 999999 (2 parked: "
        "`shotgun-events dlq create_shot_directories --show` lists them)"
    )


def test_status_with_an_unreadable_credentials_file_is_a_bad_argument(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli(capsys, "status", "--local", str(store_path), "--credentials", str(tmp_path / "nope.json"))
    assert (result.code, result.out) == (2, "")
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"shotgun-events status: cannot read credentials file {tmp_path / 'nope.json'}")


def test_replay_on_a_store_held_by_run_says_so_first_and_sends_nothing(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalStore(store_path, site.url):  # `run` holds the store
        result = cli(capsys, "replay", "init_entity", "--local", str(store_path), "--from-id", "1", "--yes")
    assert (result.code, result.out) == (2, "")  # no banner: FPT was not read
    (line,) = result.err.strip().splitlines()
    assert "in use by another shotgun-events run" in line and "stop it first" in line
    assert "--replay-id" not in result.err
