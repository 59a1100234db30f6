"""The operator commands on the local runtime's store (`--local PATH`): the same commands, their
effect checked in the store itself; a store held by a running `run` is refused for changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fpt_emulator import FptEmulator
from shotgun_events.events import encode_event
from shotgun_events.poller.cursor import PollState
from shotgun_events_tools.cli import main
from shotgun_events_tools.local.store import LocalStore
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


def test_changes_wait_for_a_running_run_and_pause_is_not_offered(
    store_path: Path, site: FptEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalStore(store_path, site.url):  # `run` holds the store
        held = cli(capsys, "redrive", "create_shot_directories", "--local", str(store_path))
        assert held.code == 2
        assert "in use by another shotgun-events run" in held.err and "stop it first" in held.err
        assert cli(capsys, "status", "--local", str(store_path), "--json").code == 0  # reads still work
    with LocalStore(store_path, site.url, readonly=True) as store:
        assert len(store.dead_letters("create_shot_directories")) == 2
    paused = cli(capsys, "pause", "init_entity", "--local", str(store_path))
    assert paused.code == 2 and "cannot pause one plugin yet" in paused.err


def test_no_store_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, "status", "--local", str(tmp_path / "none.sqlite"))
    assert result.code == 2
    missing = tmp_path / "none.sqlite"
    assert result.err.strip() == (
        f"shotgun-events status: no local store at {missing} (`shotgun-events run --store` names it)"
    )
