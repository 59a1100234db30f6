"""Scripted studio activity, bulk history, and snapshots."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fpt_emulator import FptEmulator


def stable(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Event rows without their wall-clock timestamps."""
    return [
        (
            r["id"],
            r["event_type"],
            r["attribute_name"],
            repr(r["meta"]),
            repr(r["entity"]),
            repr(r["user"]),
            r["session_uuid"],
        )
        for r in rows
    ]


def test_activity_is_deterministic_under_a_seed() -> None:
    runs = []
    for seed in (3, 3, 4):
        emu = FptEmulator(seed=seed)
        emu.activity.step(80)
        runs.append(stable(emu.site.events()))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_activity_covers_the_studio_workflow() -> None:
    emu = FptEmulator(seed=1)
    emu.activity.step(400)
    rows = emu.site.events()
    types = Counter(r["event_type"] for r in rows)
    for wanted in (
        "Shotgun_Shot_New",
        "Shotgun_Task_New",
        "Shotgun_Version_New",
        "Shotgun_Note_New",
        "Shotgun_Task_Change",
        "Shotgun_Version_Change",
        "Toolkit_App_Startup",
    ):
        assert types[wanted] > 0, wanted
    moves = {
        (r["meta"]["old_value"], r["meta"]["new_value"])
        for r in rows
        if r["event_type"] == "Shotgun_Task_Change"
        and r["attribute_name"] == "sg_status_list"
        and not r["meta"].get("in_create")
    }
    assert {("wtg", "rdy"), ("rdy", "ip"), ("ip", "rev"), ("rev", "fin")} <= moves
    assert all(r["user"]["type"] == "HumanUser" and r["session_uuid"] for r in rows)
    note = emu.site.find_one("Note", [], ["addressings_to", "note_links", "tasks", "user"])
    assert note is not None and note["note_links"] and note["user"]
    version = emu.site.find_one("Version", [], ["entity", "sg_task", "user", "sg_status_list"])
    assert version is not None and version["sg_task"] and version["entity"] and version["user"]


def test_background_activity_at_a_rate(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.activity.start(100)
    deadline = time.monotonic() + 5
    while fpt_emulator.activity.actions < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    fpt_emulator.activity.stop()
    assert not fpt_emulator.activity.running
    assert fpt_emulator.activity.errors == []
    count = len(sg.find("EventLogEntry", []))
    assert count > 10
    time.sleep(0.1)
    assert len(sg.find("EventLogEntry", [])) == count


def test_preload_writes_exactly_n_realistic_committed_events(fpt_emulator: FptEmulator, sg: Any) -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    first, last = fpt_emulator.preload_events(5000, start_at=start, end_at=end, projects=4)
    assert (first, last) == (1, 5000)
    rows = sg.find("EventLogEntry", [], ["event_type", "created_at", "project", "entity"])
    assert [r["id"] for r in rows] == list(range(1, 5001))
    stamps = [r["created_at"] for r in rows]
    assert stamps == sorted(stamps)
    assert start <= stamps[0] and stamps[-1] <= end
    assert len({r["project"]["id"] for r in rows if r["project"]}) >= 4
    assert len({(r["entity"]["type"], r["entity"]["id"]) for r in rows if r["entity"]}) > 300
    assert len({r["event_type"] for r in rows}) >= 8
    # Entities named by the history exist, with the state the history leaves them in.
    task = sg.find_one("Task", [["project.Project.name", "starts_with", "History"]], ["sg_status_list"])
    assert task is not None
    last_status = [
        r
        for r in sg.find(
            "EventLogEntry",
            [["entity", "is", task], ["attribute_name", "is", "sg_status_list"]],
            ["meta"],
            order=[{"field_name": "id", "direction": "asc"}],
        )
    ][-1]["meta"]["new_value"]
    assert task["sg_status_list"] == last_status
    # Live events continue after the history.
    shot = sg.create("Shot", {"code": "LIVE", "project": {"type": "Project", "id": 1}})
    assert sg.find("EventLogEntry", [["entity", "is", shot]])[0]["id"] == 5001


def test_preload_is_exact_for_small_counts_and_deterministic() -> None:
    a, b = FptEmulator(seed=9), FptEmulator(seed=9)
    end = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    assert a.preload_events(7, end_at=end) == (1, 7)
    assert b.preload_events(7, end_at=end) == (1, 7)
    assert a.site.next_event_id == 8
    assert stable(a.site.events()) == stable(b.site.events())
    assert [r["created_at"] for r in a.site.events()] == [r["created_at"] for r in b.site.events()]


def test_preload_writes_exactly_n_events() -> None:
    # Its speed is measured by bench/emulator_bench.py, not asserted here.
    emu = FptEmulator(seed=1)
    emu.preload_events(20000)
    assert emu.site.last_event_id == 20000


def test_snapshot_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    with FptEmulator(seed=2, scripts={"tool": "tool-key"}, snapshot=path) as emu:
        sg = emu.connect("tool")
        shot = sg.create("Shot", {"code": "SNAP", "project": {"type": "Project", "id": 1}})
        sg.delete("Shot", shot["id"])
        emu.activity.step(5)
        before = stable(emu.site.events())
    assert path.exists()  # saved on stop
    with FptEmulator(seed=2, scripts={"tool": "tool-key"}, snapshot=path) as again:
        sg = again.connect("tool")
        assert stable(again.site.events()) == before
        assert sg.find("Shot", [["code", "is", "SNAP"]], retired_only=True)[0]["id"] == shot["id"]
        assert sg.create("Shot", {"code": "NEXT", "project": {"type": "Project", "id": 1}})["id"] > shot["id"]
        assert again.site.last_event_id > before[-1][0]
    copy = tmp_path / "copy.json"
    fresh = FptEmulator(seed=5, populate=False)
    FptEmulator(seed=2, snapshot=path).save_snapshot(copy)
    fresh.load_snapshot(copy)
    assert fresh.site.find_one("Shot", [["code", "is", "NEXT"]]) is not None


def entity_keys(emu: FptEmulator) -> set[tuple[str, int]]:
    site = emu.site
    return {
        (name, rid) for name, table in site.tables.items() if name != "EventLogEntry" for rid in table.records
    }


@pytest.mark.parametrize("n", [1, 7, 60, 200, 333, 1000])
@pytest.mark.parametrize("populate", [True, False])
def test_small_preloads_leave_a_consistent_site(n: int, populate: bool) -> None:
    emu = FptEmulator(seed=9, populate=populate)
    before = entity_keys(emu)
    assert emu.preload_events(n) == (1, n)
    events = emu.site.events()
    assert [e["id"] for e in events] == list(range(1, n + 1))
    created = entity_keys(emu) - before
    setup = {key for key in created if key[0] in ("HumanUser", "Department", "Step")}
    # A bare site first gets people (in their departments) and pipeline steps, silently, as
    # site setup (as the emulator's own bootstrap does); a populated one already has them.
    assert {t for t, _ in setup} == (set() if populate else {"HumanUser", "Department", "Step"})
    created -= setup
    news = {
        (e["meta"]["entity_type"], e["meta"]["entity_id"]) for e in events if e["event_type"].endswith("_New")
    }
    assert created == news  # every entity the history made has its _New event, and no more
    # Whole changes only: every in_create row belongs to an entity whose _New row is logged,
    # and created shots and tasks have the in_create rows of their fields.
    in_create: dict[tuple[str, int], set[str]] = {}
    for e in events:
        if e["meta"].get("in_create"):
            in_create.setdefault((e["meta"]["entity_type"], e["meta"]["entity_id"]), set()).add(
                e["attribute_name"]
            )
    assert set(in_create) <= news
    for entity_type, entity_id in news:
        if entity_type in ("Shot", "Task"):
            assert {"code" if entity_type == "Shot" else "content", "sg_status_list"} <= in_create[
                (entity_type, entity_id)
            ]


def test_background_activity_roughly_honours_its_rate(fpt_emulator: FptEmulator) -> None:
    fpt_emulator.activity.start(40)
    start = time.monotonic()
    time.sleep(1.0)
    fpt_emulator.activity.stop()
    elapsed = time.monotonic() - start
    actions = fpt_emulator.activity.actions
    assert fpt_emulator.activity.errors == []
    assert 0.25 * 40 * elapsed <= actions <= 40 * elapsed + 2  # generous: a slow CI machine is fine
