"""The event log, row by row, as FPT writes it for each kind of change."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import shotgun_api3

from fpt_emulator import FptEmulator
from shotgun_events.events import EVENT_FIELDS

PROJECT = {"type": "Project", "id": 1}
FIELDS = [*EVENT_FIELDS[1:], "description"]


def events_after(sg: Any, after: int) -> list[dict[str, Any]]:
    return sg.find(
        "EventLogEntry",
        [["id", "greater_than", after]],
        FIELDS,
        order=[{"field_name": "id", "direction": "asc"}],
    )


def test_create_writes_new_then_in_create_rows(sg: Any, fpt_emulator: FptEmulator) -> None:
    seq = sg.find_one("Sequence", [["code", "is", "SQ010"]])
    sg.set_session_uuid("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
    shot = sg.create("Shot", {"code": "SH010", "project": PROJECT, "sg_sequence": seq})
    rows = events_after(sg, 0)
    assert [(r["event_type"], r["attribute_name"]) for r in rows] == [
        ("Shotgun_Shot_New", None),
        ("Shotgun_Shot_Change", "code"),  # the fields in the schema's (alphabetical) order
        ("Shotgun_Shot_Change", "sg_sequence"),
        ("Shotgun_Sequence_Change", "shots"),  # the other side of the link
        ("Shotgun_Shot_Change", "sg_status_list"),  # the server's default is logged too
    ]
    new = rows[0]
    assert new["meta"] == {"type": "new_entity", "entity_type": "Shot", "entity_id": shot["id"]}
    assert new["entity"] == {"type": "Shot", "id": shot["id"], "name": "SH010"}
    assert new["project"] == {"type": "Project", "id": 1, "name": "Demo Project"}
    assert new["user"] == {
        "type": "ApiUser",
        "id": fpt_emulator.api_user()["id"],
        "name": "shotgun_events 1.0",
    }
    assert new["session_uuid"] == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert isinstance(new["created_at"], dt.datetime)  # the 20-char UTC form the client parses
    assert rows[1]["meta"] == {
        "type": "attribute_change",
        "attribute_name": "code",
        "entity_type": "Shot",
        "entity_id": shot["id"],
        "field_data_type": "text",
        "old_value": None,
        "new_value": "SH010",
        "in_create": True,
    }
    assert rows[2]["meta"]["new_value"] == {
        "type": "Sequence",
        "id": seq["id"],
        "name": "SQ010",
        "valid": "valid",
        "status": "ip",  # the stock Sequence status default
    }
    back = rows[3]
    assert back["entity"]["id"] == seq["id"]
    assert back["meta"]["actual_attribute_changed"] == "Shot.sg_sequence"
    assert back["meta"]["original_event_log_entry_id"] == rows[2]["id"]
    assert back["meta"]["in_create"] is True
    assert [a["id"] for a in back["meta"]["added"]] == [shot["id"]]
    assert back["meta"]["removed"] == []
    raw = fpt_emulator.site.tables["EventLogEntry"].records[rows[0]["id"]]["created_at"]
    assert len(raw) == 20 and raw.endswith("Z")


def test_update_logs_changed_fields_only(sg: Any) -> None:
    shot = sg.create("Shot", {"code": "SH020", "project": PROJECT})
    mark = sg.find("EventLogEntry", [], [], order=[{"field_name": "id", "direction": "desc"}], limit=1)[0][
        "id"
    ]
    sg.update("Shot", shot["id"], {"sg_status_list": "ip", "code": "SH020"})  # code unchanged
    rows = events_after(sg, mark)
    assert [(r["event_type"], r["attribute_name"]) for r in rows] == [
        ("Shotgun_Shot_Change", "sg_status_list")
    ]
    meta = rows[0]["meta"]
    assert (meta["old_value"], meta["new_value"]) == ("wtg", "ip")
    assert "in_create" not in meta
    assert rows[0]["description"] == 'shotgun_events 1.0 changed "Status" from "wtg" to "ip" on Shot SH020'


def test_multi_entity_changes_log_added_and_removed(sg: Any) -> None:
    people = sg.find("HumanUser", [["department.Department.name", "is", "Animation"]])
    note = sg.create(
        "Note", {"subject": "hi", "content": "body", "project": PROJECT, "addressings_to": people}
    )
    rows = events_after(sg, 0)
    to_row = next(r for r in rows if r["attribute_name"] == "addressings_to")
    assert to_row["meta"]["field_data_type"] == "multi_entity"
    assert [a["id"] for a in to_row["meta"]["added"]] == [p["id"] for p in people]
    assert to_row["meta"]["in_create"] is True
    mark = rows[-1]["id"]
    other = sg.find_one("HumanUser", [["department.Department.name", "is", "Comp"]])
    sg.update("Note", note["id"], {"addressings_to": [other]})
    change = events_after(sg, mark)[0]
    assert [a["id"] for a in change["meta"]["added"]] == [other["id"]]
    assert [r["id"] for r in change["meta"]["removed"]] == [p["id"] for p in people]
    assert "old_value" not in change["meta"]


def test_retirement_and_revival(sg: Any) -> None:
    shot = sg.create("Shot", {"code": "SH030", "project": PROJECT})
    mark = events_after(sg, 0)[-1]["id"]
    sg.delete("Shot", shot["id"])
    change, retirement = events_after(sg, mark)
    assert (change["event_type"], change["attribute_name"]) == ("Shotgun_Shot_Change", "retirement_date")
    assert change["meta"]["new_value"].endswith(" UTC")
    assert retirement["event_type"] == "Shotgun_Shot_Retirement"
    assert retirement["attribute_name"] is None
    assert retirement["entity"] is None  # a retired entity's link reads as null
    assert retirement["meta"]["entity_id"] == shot["id"]
    assert retirement["meta"]["type"] == "entity_retirement"
    assert retirement["meta"]["display_name"] == "SH030"
    assert retirement["project"]["id"] == 1
    sg.revive("Shot", shot["id"])
    revival = events_after(sg, retirement["id"])[0]
    assert revival["event_type"] == "Shotgun_Shot_Revival"
    assert revival["entity"]["id"] == shot["id"]
    assert revival["meta"]["class_name"] == "Shot"


def test_task_dependencies_log_both_ends(sg: Any) -> None:
    shot = sg.create("Shot", {"code": "SH040", "project": PROJECT})
    lay = sg.create("Task", {"content": "Layout", "project": PROJECT, "entity": shot})
    mark = events_after(sg, 0)[-1]["id"]
    anim = sg.create("Task", {"content": "Anim", "project": PROJECT, "entity": shot, "upstream_tasks": [lay]})
    rows = events_after(sg, mark)
    pairs = [(r["entity"]["id"], r["attribute_name"]) for r in rows if r["event_type"].endswith("_Change")]
    assert (anim["id"], "upstream_tasks") in pairs
    assert (lay["id"], "downstream_tasks") in pairs
    assert (shot["id"], "tasks") in pairs
    assert (anim["id"], "color") in pairs  # server-set default, as FPT logs it
    assert all(r["attribute_name"] != "project" for r in rows)  # FPT does not log project at create
    assert (
        sg.find_one("Task", [["id", "is", lay["id"]]], ["downstream_tasks"])["downstream_tasks"][0]["id"]
        == anim["id"]
    )


def test_custom_event_entries(sg: Any) -> None:
    entry = sg.create(
        "EventLogEntry",
        {
            "event_type": "Toolkit_App_Startup",
            "description": "tk-nuke started",
            "project": PROJECT,
            "meta": {"engine": "tk-nuke"},
        },
        ["event_type", "user"],
    )
    rows = events_after(sg, 0)
    assert [r["id"] for r in rows] == [entry["id"]]
    assert rows[0]["meta"] == {"engine": "tk-nuke"}
    assert rows[0]["user"]["type"] == "ApiUser"
    with pytest.raises(shotgun_api3.Fault):
        sg.update("EventLogEntry", entry["id"], {"description": "x"})
    with pytest.raises(shotgun_api3.Fault, match="can't be blank"):
        sg.create("EventLogEntry", {"description": "no type"})


def test_event_log_filters_used_by_pollers(sg: Any, fpt_emulator: FptEmulator) -> None:
    fpt_emulator.activity.step(40)
    rows = sg.find(
        "EventLogEntry",
        [["id", "greater_than", 10], ["event_type", "in", ["Shotgun_Task_Change", "Shotgun_Version_New"]]],
        ["event_type", "entity.Task.content"],
        order=[{"field_name": "id", "direction": "asc"}],
    )
    assert rows and all(r["id"] > 10 for r in rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert any(r["entity.Task.content"] for r in rows)
    by_id = sg.find("EventLogEntry", [["id", "in", [rows[0]["id"], 999999]]], ["event_type"])
    assert [r["id"] for r in by_id] == [rows[0]["id"]]
