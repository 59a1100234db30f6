"""The schema API over the wire, through the real client: what a plugin's or a test's setup does to
make its custom fields, with FPT's answers and errors."""

from __future__ import annotations

from typing import Any

import pytest
import shotgun_api3

from fpt_emulator import FptEmulator

PROJECT = {"type": "Project", "id": 1}


def test_schema_field_create_names_the_field_and_it_can_be_used_at_once(
    sg: Any, fpt_emulator: FptEmulator
) -> None:
    name = sg.schema_field_create("Shot", "timecode", "Delivery TC", {"description": "editorial's in point"})
    assert name == "sg_delivery_tc"
    field = sg.schema_field_read("Shot", name)[name]
    assert field["data_type"]["value"] == "timecode"
    assert field["name"]["value"] == "Delivery TC"
    assert field["description"]["value"] == "editorial's in point"
    assert field["entity_type"]["value"] == "Shot" and field["editable"]["value"] is True
    assert sg.schema_field_create("Shot", "text", "Delivery TC") == "sg_delivery_tc_1"  # FPT's _1 suffix
    shot = sg.create("Shot", {"code": "SH010", "project": PROJECT, name: 86_400_000})
    assert sg.find_one("Shot", [[name, "greater_than", 0]], [name]) == {
        "type": "Shot",
        "id": shot["id"],
        name: 86_400_000,
    }
    (change,) = [e for e in fpt_emulator.site.events() if e["attribute_name"] == name]  # its in_create row
    assert (change["meta"]["field_data_type"], change["meta"]["new_value"]) == ("timecode", 86_400_000)


def test_link_and_list_fields_are_created_with_their_properties(sg: Any) -> None:
    hero = sg.schema_field_create("Shot", "entity", "Hero Asset", {"valid_types": ["Asset"]})
    kind = sg.schema_field_create(
        "Shot", "list", "Delivery Kind", {"valid_values": ["DI", "Web"], "default_value": "DI"}
    )
    asset = sg.create("Asset", {"code": "hero", "project": PROJECT})
    shot = sg.create("Shot", {"code": "SH010", "project": PROJECT, hero: asset})
    got = sg.find_one("Shot", [["id", "is", shot["id"]]], [hero, kind])
    assert got[hero]["id"] == asset["id"] and got[kind] == "DI"
    with pytest.raises(shotgun_api3.Fault, match="not valid for this field"):
        sg.update("Shot", shot["id"], {hero: {"type": "Shot", "id": shot["id"]}})
    with pytest.raises(shotgun_api3.Fault, match="not in the list of valid values"):
        sg.update("Shot", shot["id"], {kind: "Film"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Nope", "text", "X"), "Entity type 'Nope' does not exist"),
        (("Shot", "summary", "X"), "'summary' is not a data type a field can be created with"),
        (("Shot", "entity", "Buddy"), "needs 'valid_types'"),
        (("Shot", "text", "!!!"), "cannot make a field name"),
        (("Shot", "entity", "Buddy", {"valid_types": ["Spaceship"]}), "unknown entity types"),
        (("Shot", "list", "L", {"valid_values": "a,b"}), "valid_values must be an Array"),
        (("Shot", "text", "T", {"colour": "red"}), "'colour' is not a property"),
    ],
)
def test_schema_field_create_errors(sg: Any, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(shotgun_api3.Fault, match=message):
        sg.schema_field_create(*args)


def test_schema_field_update_adds_a_status_and_renames(sg: Any) -> None:
    values = sg.schema_field_read("Task", "sg_status_list")["sg_status_list"]["properties"]["valid_values"][
        "value"
    ]
    assert "pndng" not in values
    assert sg.schema_field_update("Task", "sg_status_list", {"valid_values": [*values, "pndng"]}) is True
    task = sg.create("Task", {"content": "Comp", "project": PROJECT, "sg_status_list": "pndng"})
    assert sg.find_one("Task", [["sg_status_list", "is", "pndng"]])["id"] == task["id"]
    assert sg.schema_field_update("Task", "sg_status_list", {"name": "State", "description": "where it is"})
    field = sg.schema_field_read("Task", "sg_status_list")["sg_status_list"]
    assert (field["name"]["value"], field["description"]["value"]) == ("State", "where it is")
    with pytest.raises(shotgun_api3.Fault, match="default_value 'zzz' is not one of its valid_values"):
        sg.schema_field_update("Task", "sg_status_list", {"default_value": "zzz"})
    with pytest.raises(shotgun_api3.Fault, match=r"Task\.nope doesn't exist"):
        sg.schema_field_update("Task", "nope", {"name": "x"})


def test_visibility_is_per_project(sg: Any) -> None:
    name = sg.schema_field_create("Shot", "text", "Vendor")
    with pytest.raises(shotgun_api3.Fault, match="'visible' can only be set for a project"):
        sg.schema_field_update("Shot", name, {"visible": False})
    assert sg.schema_field_update("Shot", name, {"visible": False}, project_entity=PROJECT)
    assert sg.schema_field_read("Shot", name, project_entity=PROJECT)[name]["visible"]["value"] is False
    assert sg.schema_read(project_entity=PROJECT)["Shot"][name]["visible"]["value"] is False
    assert sg.schema_read(project_entity=PROJECT)["Shot"]["code"]["visible"]["value"] is True
    assert "visible" not in sg.schema_field_read("Shot", name)[name]  # site-wide: as the site reports it
    assert sg.schema_entity_read(project_entity=PROJECT)["Shot"]["visible"]["value"] is True
    with pytest.raises(shotgun_api3.Fault, match="project must be an existing Project"):
        sg.schema_field_read("Shot", name, project_entity={"type": "Project", "id": 999})


def test_schema_field_delete_and_revive_keep_the_values(sg: Any) -> None:
    name = sg.schema_field_create("Shot", "number", "Handles")
    shot = sg.create("Shot", {"code": "SH010", "project": PROJECT, name: 8})
    assert sg.schema_field_delete("Shot", name) is True
    assert name not in sg.schema_read()["Shot"]
    with pytest.raises(shotgun_api3.Fault, match=f"Shot.{name} doesn't exist"):
        sg.schema_field_read("Shot", name)
    with pytest.raises(shotgun_api3.Fault, match=f"Shot.{name} doesn't exist"):
        sg.find("Shot", [[name, "is", 8]])
    with pytest.raises(shotgun_api3.Fault, match=f"Shot.{name} doesn't exist"):
        sg.update("Shot", shot["id"], {name: 4})
    assert name not in sg.find_one("Shot", [["id", "is", shot["id"]]], [name])
    assert sg.schema_field_create("Shot", "number", "Handles") == f"{name}_1"  # the name stays taken
    # shotgun_api3 has no method for it: the call FPT answers is made directly.
    assert sg._call_rpc("schema_field_revive", {"type": "Shot", "field_name": name}) is True
    assert sg.find_one("Shot", [["id", "is", shot["id"]]], [name])[name] == 8
    with pytest.raises(shotgun_api3.Fault, match="is not a deleted field"):
        sg._call_rpc("schema_field_revive", {"type": "Shot", "field_name": name})
    with pytest.raises(shotgun_api3.Fault, match="only sg_\\* fields can be deleted"):
        sg.schema_field_delete("Shot", "code")


def test_a_schema_change_is_seen_by_reads_already_cached(sg: Any) -> None:
    sg.create("Shot", {"code": "SH010", "project": PROJECT})
    assert sg.find("Shot", [], ["code"])  # a read the site may keep for the next page
    name = sg.schema_field_create("Shot", "checkbox", "Approved For DI")
    assert sg.find("Shot", [], ["code", name])[0][name] is False  # a new checkbox reads unticked
    assert sg.find("Shot", [[name, "is", False]], ["code"])[0]["code"] == "SH010"


def test_schema_calls_with_bad_arguments(sg: Any) -> None:
    with pytest.raises(shotgun_api3.Fault, match="Entity type 'Nope' does not exist"):
        sg.schema_field_read("Nope")
    with pytest.raises(shotgun_api3.Fault, match="properties must be an Array"):
        sg._call_rpc(
            "schema_field_update", {"type": "Shot", "field_name": "code", "properties": {"name": "x"}}
        )
    with pytest.raises(shotgun_api3.Fault, match="expected a Hash"):
        sg._call_rpc("schema_field_delete", ["Shot", "code"])
