"""CRUD, batch, schema, dates and write records, all through the real shotgun_api3 client."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import shotgun_api3

from fpt_emulator import Activity, FieldDef, FptEmulator

PROJECT = {"type": "Project", "id": 1}


def test_client_connects_and_reads_server_info(sg: Any) -> None:
    assert sg.server_caps.version == (8, 50, 0)
    assert sg.info()["api_max_entities_per_page"] == 500
    assert sg.server_caps.ensure_paging_info_without_counts_support()


def test_constructor_calls_info_without_auth(fpt_emulator: FptEmulator) -> None:
    sg = shotgun_api3.Shotgun(fpt_emulator.url, "shotgun_events", fpt_emulator.scripts["shotgun_events"])
    assert fpt_emulator.calls == ["info"]
    assert sg.server_info["version"] == [8, 50, 0]


def test_create_returns_given_fields_with_link_names(sg: Any) -> None:
    seq = sg.find_one("Sequence", [["code", "is", "SQ010"]])
    shot = sg.create("Shot", {"code": "SH010", "project": PROJECT, "sg_sequence": seq}, ["sg_status_list"])
    assert shot["type"] == "Shot" and isinstance(shot["id"], int)
    assert shot["code"] == "SH010"
    assert shot["project"] == {"type": "Project", "id": 1, "name": "Demo Project"}
    assert shot["sg_sequence"] == {"type": "Sequence", "id": seq["id"], "name": "SQ010"}
    assert shot["sg_status_list"] == "wtg"  # the field's default


def test_read_update_delete_revive_round_trip(sg: Any) -> None:
    shot = sg.create("Shot", {"code": "SH020", "project": PROJECT})
    found = sg.find_one(
        "Shot", [["id", "is", shot["id"]]], ["code", "sg_status_list", "created_at", "created_by"]
    )
    assert found["code"] == "SH020"
    assert isinstance(found["created_at"], dt.datetime)
    assert found["created_by"]["type"] == "ApiUser"
    assert found["created_by"]["name"] == "shotgun_events 1.0"

    updated = sg.update("Shot", shot["id"], {"sg_status_list": "ip", "description": "hero"})
    assert updated == {"type": "Shot", "id": shot["id"], "sg_status_list": "ip", "description": "hero"}

    assert sg.delete("Shot", shot["id"]) is True
    assert sg.delete("Shot", shot["id"]) is False  # already retired
    assert sg.find("Shot", [["id", "is", shot["id"]]]) == []
    retired = sg.find("Shot", [["id", "is", shot["id"]]], ["code"], retired_only=True)
    assert [r["code"] for r in retired] == ["SH020"]

    assert sg.revive("Shot", shot["id"]) is True
    assert sg.revive("Shot", shot["id"]) is False  # not retired
    assert sg.find_one("Shot", [["id", "is", shot["id"]]], ["sg_status_list"])["sg_status_list"] == "ip"


def test_delete_of_missing_entity_is_a_fault(sg: Any) -> None:
    with pytest.raises(shotgun_api3.Fault, match="does not exist"):
        sg.delete("Shot", 99999)
    with pytest.raises(shotgun_api3.Fault, match="does not exist"):
        sg.update("Shot", 99999, {"code": "x"})
    assert sg.revive("Shot", 99999) is False


def test_multi_entity_fields_and_update_modes(sg: Any) -> None:
    a1 = sg.create("Asset", {"code": "hero", "project": PROJECT, "sg_asset_type": "Character"})
    a2 = sg.create("Asset", {"code": "prop", "project": PROJECT, "sg_asset_type": "Prop"})
    shot = sg.create("Shot", {"code": "SH030", "project": PROJECT, "assets": [a1]})
    sg.update("Shot", shot["id"], {"assets": [a2]}, multi_entity_update_modes={"assets": "add"})
    names = [a["name"] for a in sg.find_one("Shot", [["id", "is", shot["id"]]], ["assets"])["assets"]]
    assert names == ["hero", "prop"]
    sg.update("Shot", shot["id"], {"assets": [a1]}, multi_entity_update_modes={"assets": "remove"})
    assert [a["id"] for a in sg.find_one("Shot", [["id", "is", shot["id"]]], ["assets"])["assets"]] == [
        a2["id"]
    ]
    # The other side of the connection is kept in step.
    assert sg.find_one("Asset", [["id", "is", a2["id"]]], ["shots"])["shots"][0]["id"] == shot["id"]
    assert sg.find_one("Asset", [["id", "is", a1["id"]]], ["shots"])["shots"] == []


def test_retired_links_read_as_absent(sg: Any) -> None:
    seq = sg.create("Sequence", {"code": "SQ900", "project": PROJECT})
    shot = sg.create("Shot", {"code": "SH900", "project": PROJECT, "sg_sequence": seq})
    sg.delete("Sequence", seq["id"])
    assert sg.find_one("Shot", [["id", "is", shot["id"]]], ["sg_sequence"])["sg_sequence"] is None
    sg.revive("Sequence", seq["id"])
    assert sg.find_one("Shot", [["id", "is", shot["id"]]], ["sg_sequence"])["sg_sequence"]["id"] == seq["id"]


def test_batch_is_one_transaction(sg: Any, fpt_emulator: FptEmulator) -> None:
    results = sg.batch(
        [
            {"request_type": "create", "entity_type": "Shot", "data": {"code": "B1", "project": PROJECT}},
            {"request_type": "create", "entity_type": "Shot", "data": {"code": "B2", "project": PROJECT}},
        ]
    )
    assert [r["code"] for r in results] == ["B1", "B2"]
    b1 = results[0]
    results = sg.batch(
        [
            {"request_type": "update", "entity_type": "Shot", "entity_id": b1["id"], "data": {"code": "B1x"}},
            {"request_type": "delete", "entity_type": "Shot", "entity_id": results[1]["id"]},
        ]
    )
    assert results == [{"type": "Shot", "id": b1["id"], "code": "B1x"}, True]
    before = fpt_emulator.site.last_event_id
    with pytest.raises(shotgun_api3.Fault, match=r"request with index 1 failed\.  All requests rolled back"):
        sg.batch(
            [
                {"request_type": "create", "entity_type": "Shot", "data": {"code": "B3", "project": PROJECT}},
                {"request_type": "update", "entity_type": "Shot", "entity_id": b1["id"], "data": {"bad": 1}},
            ]
        )
    assert sg.find("Shot", [["code", "is", "B3"]]) == []
    assert fpt_emulator.site.last_event_id == before


def test_dates_and_datetimes_round_trip(sg: Any, fpt_emulator: FptEmulator) -> None:
    fpt_emulator.site.schema.add_field("Shot", FieldDef("sg_delivery_at", "date_time", "Delivery"))
    when = dt.datetime(2024, 3, 1, 12, 30, 15, tzinfo=dt.UTC)
    shot = sg.create("Shot", {"code": "D1", "project": PROJECT, "sg_delivery_at": when})
    task = sg.create(
        "Task",
        {"content": "comp", "project": PROJECT, "entity": shot, "start_date": dt.date(2024, 3, 4)},
    )
    got = sg.find_one("Shot", [["id", "is", shot["id"]]], ["sg_delivery_at"])
    assert got["sg_delivery_at"] == when  # the client parses the 20-char UTC form back
    # Stored and answered exactly as the client sends and parses it.
    assert fpt_emulator.site.tables["Shot"].records[shot["id"]]["sg_delivery_at"] == "2024-03-01T12:30:15Z"
    t = sg.find_one("Task", [["id", "is", task["id"]]], ["start_date"])
    assert t["start_date"] == "2024-03-04"  # dates stay strings, as with FPT
    hits = sg.find("Shot", [["sg_delivery_at", "greater_than", when - dt.timedelta(seconds=1)]])
    assert [h["id"] for h in hits] == [shot["id"]]
    assert sg.find("Shot", [["sg_delivery_at", "greater_than", when]]) == []
    assert sg.find("Task", [["start_date", "between", ["2024-03-01", "2024-03-05"]]])[0]["id"] == task["id"]


def test_schema_methods(sg: Any) -> None:
    field = sg.schema_field_read("Task", "sg_status_list")["sg_status_list"]
    assert field["data_type"]["value"] == "status_list"
    assert "wtg" in field["properties"]["valid_values"]["value"]
    shots = sg.schema_field_read("Asset", "shots")["shots"]
    assert shots["properties"]["valid_types"]["value"] == ["Shot"]
    everything = sg.schema_read()
    assert {"Project", "Shot", "Task", "Version", "Note", "EventLogEntry"} <= set(everything)
    assert "addressings_to" in everything["Note"]
    entities = sg.schema_entity_read()
    assert entities["Step"]["name"]["value"] == "Step"
    with pytest.raises(shotgun_api3.Fault, match=r"Shot.nope doesn't exist"):
        sg.schema_field_read("Shot", "nope")


def test_writes_are_recorded_per_script(fpt_emulator: FptEmulator) -> None:
    fpt_emulator.add_script("plugin_a", "key-a")
    sg = fpt_emulator.connect("plugin_a")
    sg.set_session_uuid("5a1d49b0-0c69-11e0-a24c-003048d17544")
    shot = sg.create("Shot", {"code": "W1", "project": PROJECT})
    sg.update("Shot", shot["id"], {"sg_status_list": "ip"})
    sg.find("Shot", [])
    fpt_emulator.site.update("Shot", shot["id"], {"description": "in-process writes are not recorded"})
    writes = fpt_emulator.writes_by("plugin_a")
    assert [(w.method, w.entity_type, w.entity_id, w.fields) for w in writes] == [
        ("create", "Shot", shot["id"], {"code": "W1", "project": PROJECT}),
        ("update", "Shot", shot["id"], {"sg_status_list": "ip"}),
    ]
    assert {w.session_uuid for w in writes} == {"5a1d49b0-0c69-11e0-a24c-003048d17544"}
    assert fpt_emulator.writes_by(method="update") == writes[1:]


def test_session_uuid_and_user_reach_the_event_log(fpt_emulator: FptEmulator) -> None:
    fpt_emulator.add_script("plugin_b", "key-b")
    sg = fpt_emulator.connect("plugin_b")
    sg.set_session_uuid("11111111-2222-3333-4444-555555555555")
    shot = sg.create("Shot", {"code": "U1", "project": PROJECT})
    rows = sg.find("EventLogEntry", [["entity", "is", shot]], ["user", "session_uuid"])
    assert rows and all(r["session_uuid"] == "11111111-2222-3333-4444-555555555555" for r in rows)
    assert {r["user"]["id"] for r in rows} == {fpt_emulator.api_user("plugin_b")["id"]}
    assert rows[0]["user"]["name"] == "plugin_b 1.0"


def test_sudo_as_login_credits_the_human(fpt_emulator: FptEmulator) -> None:
    sg = shotgun_api3.Shotgun(
        fpt_emulator.url, "shotgun_events", fpt_emulator.scripts["shotgun_events"], sudo_as_login="ada.moreau"
    )
    sg.config.timeout_secs = 5
    shot = sg.create("Shot", {"code": "S1", "project": PROJECT})
    row = sg.find_one("EventLogEntry", [["entity", "is", shot]], ["user"])
    assert row["user"]["name"] == "Ada Moreau"
    bad = shotgun_api3.Shotgun(
        fpt_emulator.url, "shotgun_events", fpt_emulator.scripts["shotgun_events"], sudo_as_login="nobody"
    )
    with pytest.raises(shotgun_api3.AuthenticationFault, match="Cannot 'sudo'"):
        bad.find("Shot", [])


def test_in_process_site_api(fpt_emulator: FptEmulator, sg: Any) -> None:
    site = fpt_emulator.site
    shot = site.create("Shot", {"code": "IP1", "project": PROJECT}, events=False)
    assert site.last_event_id == 0  # arranged silently
    assert sg.find_one("Shot", [["code", "is", "IP1"]])["id"] == shot["id"]
    site.update("Shot", shot["id"], {"sg_status_list": "ip"})
    got = site.find_one("Shot", [["id", "is", shot["id"]]], ["sg_status_list", "updated_at", "updated_by"])
    assert got["sg_status_list"] == "ip"
    assert got["updated_at"].tzinfo is not None
    assert got["updated_by"]["name"] == "Emulator Admin"
    assert site.get("Shot", shot["id"])["code"] == "IP1"
    assert [e["event_type"] for e in site.events()] == ["Shotgun_Shot_Change"]


def test_writes_record_fields_as_the_site_understood_them(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.site.schema.add_field("Shot", FieldDef("sg_delivery_at", "date_time", "Delivery"))
    fpt_emulator.site.schema.add_field("Task", FieldDef("sg_sort_order", "float", "Sort Order"))
    paris = dt.timezone(dt.timedelta(hours=2))
    shot = sg.create(
        "Shot",
        {
            "code": "N1",
            "project": {"type": "Project", "id": 1, "name": "Demo Project", "extra": "ignored"},
            "sg_delivery_at": dt.datetime(2024, 3, 1, 14, 30, tzinfo=paris),
        },
    )
    shot_link = {"type": "Shot", "id": shot["id"]}
    task = sg.create("Task", {"content": "comp", "project": PROJECT, "entity": shot})  # link with name
    sg.update("Task", task["id"], {"entity": shot_link, "sg_sort_order": 3, "start_date": "2024-03-04"})
    sg.update(
        "Shot", shot["id"], {"tasks": [{**task, "name": "comp"}]}, multi_entity_update_modes={"tasks": "add"}
    )
    assert [(w.method, w.fields) for w in fpt_emulator.writes] == [
        (
            "create",
            {
                "code": "N1",
                "project": PROJECT,
                "sg_delivery_at": dt.datetime(2024, 3, 1, 12, 30, tzinfo=dt.UTC),
            },
        ),
        ("create", {"content": "comp", "project": PROJECT, "entity": shot_link}),
        ("update", {"entity": shot_link, "sg_sort_order": 3.0, "start_date": "2024-03-04"}),
        ("update", {"tasks": [{"type": "Task", "id": task["id"]}]}),
    ]
    delivery = fpt_emulator.writes[0].fields["sg_delivery_at"]
    assert delivery.tzinfo is not None and delivery.utcoffset() == dt.timedelta(0)


def test_recorded_calls_writes_and_rollbacks_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from fpt_emulator import activity, emulator, store

    monkeypatch.setattr(emulator, "MAX_RECORDED", 3)
    monkeypatch.setattr(store, "MAX_ROLLED_BACK_IDS", 4)
    monkeypatch.setattr(activity, "MAX_ERRORS", 2)
    with FptEmulator(seed=1) as emu:
        sg = emu.connect()
        for i in range(5):
            sg.create("Shot", {"code": f"B{i}", "project": PROJECT})
        mark = emu.write_count
        assert [w.fields["code"] for w in emu.writes] == ["B2", "B3", "B4"]  # the latest only
        sg.create("Shot", {"code": "B5", "project": PROJECT})
        assert emu.write_count == mark + 1 == 6
        assert [w.fields["code"] for w in emu.writes_since(mark)] == ["B5"]  # a mark stays right
        assert emu.writes_since(emu.write_count) == []
        assert emu.calls == ["create", "create", "create"]
        for _ in range(3):
            tx = emu.begin()
            tx.create("Shot", {"code": "gone", "project": PROJECT})
            tx.rollback()
        assert len(emu.site.rolled_back_event_ids) == 4
        assert emu.site.rolled_back_event_ids[-1] == emu.site.next_event_id - 1
        studio = Activity(emu.site)
        attempts: list[int] = []

        def failing_step(n: int = 1) -> list[int]:
            attempts.append(n)
            raise RuntimeError(f"action {len(attempts)} failed")

        monkeypatch.setattr(studio, "step", failing_step)
        studio.start(200)
        deadline = time.monotonic() + 10
        while len(attempts) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        studio.stop()
        assert len(attempts) >= 5
        assert [str(e) for e in studio.errors] == [
            f"action {n} failed" for n in (len(attempts) - 1, len(attempts))
        ]
