"""Id gaps that fill when a transaction commits, ids that never fill, and per-entity ordering."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shotgun_api3

from fpt_emulator import ApiError, FaultKind, FptEmulator

PROJECT = {"type": "Project", "id": 1}


def visible_ids(sg: Any) -> list[int]:
    rows = sg.find("EventLogEntry", [], [], order=[{"field_name": "id", "direction": "asc"}])
    return [r["id"] for r in rows]


def test_gap_appears_then_fills(fpt_emulator: FptEmulator, sg: Any) -> None:
    with fpt_emulator.transaction(commit_after=0.4) as tx:
        held = tx.create("Shot", {"code": "HELD", "project": PROJECT})
    later = sg.create("Shot", {"code": "LATER", "project": PROJECT})
    held_ids = fpt_emulator.site.pending_event_ids()
    assert held_ids == tx.event_ids and held_ids[0] == 1
    seen = visible_ids(sg)
    assert seen and min(seen) > max(held_ids)  # the reader sees a gap below the later change
    assert sg.find("Shot", [["id", "is", held["id"]]]) == []  # and not the held data either
    assert sg.find_one("Shot", [["id", "is", later["id"]]])
    assert fpt_emulator.wait_for_commits(timeout=5)
    assert visible_ids(sg) == list(range(1, max(seen) + 1))  # filled
    assert sg.find_one("Shot", [["id", "is", held["id"]]], ["code"])["code"] == "HELD"


def test_rolled_back_ids_never_fill(fpt_emulator: FptEmulator, sg: Any) -> None:
    tx = fpt_emulator.begin()
    tx.create("Shot", {"code": "NEVER", "project": PROJECT})
    doomed = list(tx.event_ids)
    sg.create("Shot", {"code": "KEPT", "project": PROJECT})
    tx.rollback()
    seen = visible_ids(sg)
    assert not set(doomed) & set(seen)
    assert min(seen) == max(doomed) + 1
    assert fpt_emulator.site.rolled_back_event_ids == doomed
    assert sg.find("Shot", [["code", "is", "NEVER"]]) == []
    with fpt_emulator.transaction(rollback=True) as tx2:
        tx2.create("Shot", {"code": "ALSO_NEVER", "project": PROJECT})
    assert sg.find("Shot", [["code", "is", "ALSO_NEVER"]]) == []
    assert fpt_emulator.site.pending_event_ids() == []


def test_exception_in_transaction_block_rolls_back(fpt_emulator: FptEmulator) -> None:
    with pytest.raises(RuntimeError), fpt_emulator.transaction() as tx:
        tx.create("Shot", {"code": "X", "project": PROJECT})
        raise RuntimeError("boom")
    assert tx.state == "rolled_back"
    assert fpt_emulator.site.find("Shot", [["code", "is", "X"]]) == []


def test_later_change_to_same_entity_waits_for_the_open_one(fpt_emulator: FptEmulator, sg: Any) -> None:
    shot = sg.create("Shot", {"code": "LOCKED", "project": PROJECT})
    tx = fpt_emulator.begin()
    tx.update("Shot", shot["id"], {"sg_status_list": "rdy"})
    first_id = tx.event_ids[0]
    done: list[dict[str, Any]] = []
    writer = threading.Thread(
        target=lambda: done.append(sg.update("Shot", shot["id"], {"sg_status_list": "ip"}))
    )
    writer.start()
    time.sleep(0.2)
    assert not done  # blocked on the row lock, as on a real site
    other = fpt_emulator.site.create("Shot", {"code": "FREE", "project": PROJECT})  # other rows don't wait
    assert other["id"]
    tx.commit()
    writer.join(timeout=5)
    assert done
    rows = sg.find(
        "EventLogEntry",
        [
            ["entity", "is", shot],
            ["attribute_name", "is", "sg_status_list"],
            ["id", "greater_than", first_id - 1],
        ],
        ["meta"],
        order=[{"field_name": "id", "direction": "asc"}],
    )
    assert [(r["meta"]["old_value"], r["meta"]["new_value"]) for r in rows] == [("wtg", "rdy"), ("rdy", "ip")]
    assert rows[0]["id"] == first_id < rows[1]["id"]


def test_lock_wait_times_out_with_a_fault() -> None:
    with FptEmulator(lock_timeout=0.2) as emu:
        sg = emu.connect()
        shot = sg.create("Shot", {"code": "T", "project": PROJECT})
        tx = emu.begin()
        tx.update("Shot", shot["id"], {"code": "T2"})
        with pytest.raises(shotgun_api3.Fault, match="lock timeout"):
            sg.update("Shot", shot["id"], {"code": "T3"})
        tx.rollback()
        assert sg.update("Shot", shot["id"], {"code": "T3"})["code"] == "T3"


def test_http_write_held_open_by_knob(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.faults.hold_next_writes(1, 0.5)
    other = fpt_emulator.connect()
    result: list[dict[str, Any]] = []
    writer = threading.Thread(
        target=lambda: result.append(other.create("Shot", {"code": "SLOW", "project": PROJECT}))
    )
    writer.start()
    deadline = time.monotonic() + 2
    while not fpt_emulator.site.pending_event_ids() and time.monotonic() < deadline:
        time.sleep(0.01)
    pending = fpt_emulator.site.pending_event_ids()
    assert pending
    sg.create("Shot", {"code": "FAST", "project": PROJECT})
    assert min(visible_ids(sg)) > max(pending)
    writer.join(timeout=5)
    assert result and result[0]["code"] == "SLOW"  # the client got its answer after the commit
    assert set(pending) <= set(visible_ids(sg))


def test_commit_delay_knob_applies_to_every_write(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.faults.commit_delay = 0.2
    start = time.monotonic()
    sg.create("Shot", {"code": "D", "project": PROJECT})
    assert time.monotonic() - start >= 0.2
    fpt_emulator.faults.commit_delay = 2.0
    fpt_emulator.faults.commit_delay = 0
    start = time.monotonic()
    sg.create("Shot", {"code": "E", "project": PROJECT})
    assert time.monotonic() - start < 2.0  # back to 0: no hold


def test_rollback_knob_allocates_ids_that_never_fill(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.faults.fail_next(1, FaultKind.ROLLBACK)
    with pytest.raises(shotgun_api3.Fault, match="deadlock"):
        sg.create("Shot", {"code": "R", "project": PROJECT})
    lost = fpt_emulator.site.rolled_back_event_ids
    assert lost
    sg.create("Shot", {"code": "R", "project": PROJECT})
    assert min(visible_ids(sg)) == max(lost) + 1
    assert [w.fields["code"] for w in fpt_emulator.writes] == ["R"]  # only the committed one


def test_activity_can_hold_commits_to_make_gaps(fpt_emulator: FptEmulator) -> None:
    activity = fpt_emulator.activity
    activity.held_commit_rate = 1.0
    activity.held_commit_seconds = 0.3
    ids = activity.step(3)
    assert fpt_emulator.site.pending_event_ids()
    assert fpt_emulator.wait_for_commits(5)
    committed = [e["id"] for e in fpt_emulator.site.events()]
    assert set(ids) <= set(committed)


def test_stop_commits_pending_delayed_transactions() -> None:
    emu = FptEmulator().start()
    with emu.transaction(commit_after=60) as tx:
        tx.create("Shot", {"code": "PENDING", "project": PROJECT})
    emu.stop()
    assert tx.state == "committed"
    assert emu.site.find_one("Shot", [["code", "is", "PENDING"]]) is not None


def test_concurrent_writers_keep_each_entitys_events_in_order(fpt_emulator: FptEmulator) -> None:
    """Writers, held commits and studio activity at once: every entity's history stays a chain."""
    site = fpt_emulator.site
    shots = [site.create("Shot", {"code": f"C{i}", "project": PROJECT}, events=False) for i in range(3)]
    activity = fpt_emulator.activity
    activity.held_commit_rate = 0.3
    activity.held_commit_seconds = 0.05
    activity.start(200)
    statuses = ["wtg", "rdy", "ip", "hld", "fin"]
    errors: list[BaseException] = []
    snapshots: list[list[dict[str, Any]]] = []

    def writer(n: int) -> None:
        try:
            sg = fpt_emulator.connect()
            for i in range(25):
                shot = shots[(n + i) % len(shots)]
                if i % 5 == 0:
                    with fpt_emulator.transaction(commit_after=0.03) as tx:
                        tx.update("Shot", shot["id"], {"description": f"w{n}-{i}"})
                else:
                    sg.update(
                        "Shot",
                        shot["id"],
                        {"sg_status_list": statuses[(n + i) % 5], "sg_cut_in": n * 100 + i},
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        sg = fpt_emulator.connect()
        for _ in range(15):
            snapshots.append(sg.find("EventLogEntry", [["entity", "type_is", "Shot"]], ["entity"]))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)] + [
        threading.Thread(target=reader)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    activity.stop()
    assert fpt_emulator.wait_for_commits(10)
    assert not errors and activity.errors == []
    final = site.events()
    ids = [e["id"] for e in final]
    assert ids == sorted(set(ids))
    assert not site.pending_event_ids()
    # Per entity and field, each change starts where the previous one (by id) ended.
    last: dict[tuple[Any, ...], Any] = {}
    per_entity: dict[tuple[str, int], list[int]] = {}
    for e in final:
        key = (e["meta"].get("entity_type"), e["meta"].get("entity_id"), e["attribute_name"])
        if e["entity"]:
            per_entity.setdefault((e["entity"]["type"], e["entity"]["id"]), []).append(e["id"])
        meta = e["meta"]
        if (
            meta.get("type") != "attribute_change"
            or "old_value" not in meta
            or "actual_attribute_changed" in meta
        ):
            continue
        if key in last:
            assert meta["old_value"] == last[key], e
        last[key] = meta["new_value"]
    # A reader never saw a later event of an entity while an earlier one of it was still pending.
    for rows in snapshots:
        seen: dict[tuple[str, int], set[int]] = {}
        for r in rows:
            if r["entity"]:
                seen.setdefault((r["entity"]["type"], r["entity"]["id"]), set()).add(r["id"])
        for entity, visible in seen.items():
            history = per_entity[entity]
            assert set(history[: len(visible)]) == visible, entity


def test_a_failed_operation_aborts_the_transaction(fpt_emulator: FptEmulator) -> None:
    tx = fpt_emulator.begin()
    tx.create("Shot", {"code": "FIRST", "project": PROJECT})
    allocated = list(tx.event_ids)
    with pytest.raises(ApiError, match="doesn't exist"):
        tx.create("Shot", {"code": "SECOND", "nope": 1})
    assert tx.state == "rolled_back"  # as PostgreSQL aborts the transaction
    assert fpt_emulator.site.rolled_back_event_ids == allocated
    with pytest.raises(RuntimeError):
        tx.commit()
    assert fpt_emulator.site.find("Shot", [["code", "is", "FIRST"]]) == []


def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``fn`` in a thread; the list gets its result or the exception it raised."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_commit_delay_gap_is_visible_while_held(fpt_emulator: FptEmulator, sg: Any) -> None:
    before = fpt_emulator.site.last_event_id
    fpt_emulator.faults.commit_delay = 1.0
    writer, outcome = in_thread(
        lambda: fpt_emulator.connect().create("Shot", {"code": "DELAYED", "project": PROJECT})
    )
    wait_until(fpt_emulator.site.pending_event_ids)
    pending = fpt_emulator.site.pending_event_ids()
    fpt_emulator.faults.commit_delay = 0
    assert sg.find("Shot", [["code", "is", "DELAYED"]]) == []  # held: neither the row...
    assert not set(pending) & set(visible_ids(sg))  # ...nor its events are readable
    assert max(visible_ids(sg) or [0]) == before
    writer.join(timeout=10)
    assert outcome and outcome[0]["code"] == "DELAYED"
    (shot,) = sg.find("Shot", [["code", "is", "DELAYED"]])
    assert shot["id"] == outcome[0]["id"]  # the id appears once the commit is done
    assert set(pending) <= set(visible_ids(sg))


def test_stop_rolls_back_a_held_http_write_before_saving(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    emu = FptEmulator(snapshot=path).start()
    sg = emu.connect(timeout=10)
    emu.faults.hold_next_writes(1, 30)
    writer, outcome = in_thread(lambda: sg.create("Shot", {"code": "HELD", "project": PROJECT}))
    wait_until(emu.site.pending_event_ids)
    emu.stop()
    writer.join(timeout=10)
    assert not writer.is_alive() and isinstance(outcome[0], Exception)  # the caller never got a "done"
    assert emu.site.find("Shot", [["code", "is", "HELD"]]) == []
    assert emu.site.pending_event_ids() == [] and emu.writes == []
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["tables"]["Shot"]["records"] == [] and saved["tables"]["EventLogEntry"]["records"] == []


def test_stop_fails_an_http_write_waiting_for_a_row_lock(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    emu = FptEmulator(snapshot=path).start()
    sg = emu.connect(timeout=10)
    shot = sg.create("Shot", {"code": "L", "project": PROJECT})
    tx = emu.begin()
    tx.update("Shot", shot["id"], {"description": "in-process"})
    writer, outcome = in_thread(lambda: sg.update("Shot", shot["id"], {"sg_status_list": "fin"}))
    wait_until(lambda: emu.calls[-1:] == ["update"])
    time.sleep(0.1)  # let it reach the lock (if it does not, stop refuses it: the same outcome)
    emu.stop()
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert [r["sg_status_list"] for r in saved["tables"]["Shot"]["records"]] == ["wtg"]
    tx.commit()  # the lock is free now: the stopped HTTP write must not go on and commit
    writer.join(timeout=10)
    time.sleep(0.2)  # (the client may give up before the server side would have committed)
    assert not writer.is_alive() and isinstance(outcome[0], Exception)
    got = emu.site.find_one("Shot", [["id", "is", shot["id"]]], ["sg_status_list", "description"])
    assert got == {"type": "Shot", "id": shot["id"], "sg_status_list": "wtg", "description": "in-process"}
    assert [w.method for w in emu.writes] == ["create"]
    # A restarted emulator takes writes again.
    with emu:
        assert emu.connect().update("Shot", shot["id"], {"sg_status_list": "fin"})["sg_status_list"] == "fin"
