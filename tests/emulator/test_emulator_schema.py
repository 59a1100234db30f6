"""The stock site: every entity type and field of a real site's schema, and a value of each data type
written, read, filtered and sorted over the real client with FPT's value shapes and errors."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import pytest
import shotgun_api3

from fpt_emulator import FptEmulator
from fpt_emulator.stock import DEMO_LISTS, NEWER_FIELDS, NEWER_STATUSES

PROJECT = {"type": "Project", "id": 1}
#: The minimum each entity type needs to be created in these tests.
BASE: dict[str, dict[str, Any]] = {
    "Shot": {"code": "SH", "project": PROJECT},
    "Task": {"content": "Comp", "project": PROJECT},
    "Version": {"code": "v001", "project": PROJECT},
    "Project": {"name": "P"},
    "Step": {"code": "Roto"},
}


def stock(name: str) -> Any:
    """The shared real-site schema, as the package ships it."""
    return json.loads(files("fpt_emulator").joinpath("data", name).read_text(encoding="utf-8"))


def test_every_entity_and_field_of_the_real_site_is_there_as_the_site_describes_it(sg: Any) -> None:
    site, entities = stock("schema_read.json"), stock("schema_entity_read.json")
    answer = sg.schema_read()
    assert set(site) <= set(answer) and len(site) == 77
    changed = {(t, "sg_status_list") for t in NEWER_STATUSES} | set(DEMO_LISTS)
    for entity_type, fields in site.items():
        assert set(fields) <= set(answer[entity_type]), entity_type
        for name, wire in fields.items():
            got = answer[entity_type][name]
            if (entity_type, name) in changed:  # newer sites' statuses, the demo studio's lists
                assert set(wire["properties"]["valid_values"]["value"]) < set(
                    got["properties"]["valid_values"]["value"]
                )
                got = {
                    **got,
                    "properties": {**got["properties"], "valid_values": wire["properties"]["valid_values"]},
                }
            assert got == wire, f"{entity_type}.{name}"
    assert sg.schema_entity_read() == entities
    for entity_type, added in NEWER_FIELDS.items():
        for fdef in added:
            assert answer[entity_type][fdef.name]["data_type"]["value"] == fdef.data_type


def test_newer_sites_statuses_and_fields(sg: Any, fpt_emulator: FptEmulator) -> None:
    version = sg.create("Version", {**BASE["Version"], "sg_status_list": "vwd"})
    sg.update("Version", version["id"], {"sg_status_list": "na"})
    task = sg.create("Task", {**BASE["Task"], "sg_status_list": "rej"})
    note = sg.create("Note", {"subject": "s", "project": PROJECT, "suppress_email_notif": True})
    assert sg.find_one("Note", [["id", "is", note["id"]]], ["suppress_email_notif"])["suppress_email_notif"]
    assert sg.find_one("Task", [["id", "is", task["id"]]], ["sg_status_list"])["sg_status_list"] == "rej"
    # Each code of each status list is a Status the site has, with its name.
    statuses = {s["code"]: s["name"] for s in sg.find("Status", [], ["code", "name"])}
    for entity_type in ("Task", "Version", "Shot", "Note", "HumanUser"):
        codes = sg.schema_field_read(entity_type, "sg_status_list")["sg_status_list"]["properties"]
        assert set(codes["valid_values"]["value"]) <= set(statuses), entity_type
    assert statuses["vwd"] == "Viewed" and statuses["rev"] == "Pending Review"
    with pytest.raises(shotgun_api3.Fault, match="read only"):
        sg.update("Status", sg.find_one("Status", [["code", "is", "ip"]])["id"], {"code": "xx"})
    made = sg.create("Status", {"code": "omw", "name": "On My Way", "bg_color": "10,20,30"})  # set at create
    assert sg.find_one("Status", [["id", "is", made["id"]]], ["code"])["code"] == "omw"


@dataclass
class Case:
    data_type: str
    entity_type: str
    field: str
    value: Any
    expected: Any
    filters: list[Any] | None = None
    smaller: Any = None  # a value that sorts before `value`


WEB = {"url": "https://review.studio.example/m/123.mov", "name": "SH010 v003"}
LOCAL = {"local_path": "/mnt/projects/demo/SH010/comp/v003.exr"}
WHEN = dt.datetime(2026, 11, 27, 12, 30, tzinfo=dt.UTC)

CASES = [
    Case("text", "Shot", "description", "hero shot", "hero shot", ["description", "contains", "HERO"], "a"),
    Case("number", "Shot", "sg_cut_in", 1001, 1001, ["sg_cut_in", "between", [1000, 1002]], 990),
    Case(
        "float",
        "Version",
        "sg_movie_aspect_ratio",
        1.85,
        1.85,
        ["sg_movie_aspect_ratio", "greater_than", 1.5],
        1.33,
    ),
    Case("checkbox", "Version", "client_approved", True, True, ["client_approved", "is", True], False),
    Case(
        "date",
        "Task",
        "due_date",
        "2026-12-24",
        "2026-12-24",
        ["due_date", "less_than", "2027-01-01"],
        "2026-01-01",
    ),
    Case(
        "date_time",
        "Version",
        "client_approved_at",
        WHEN,
        WHEN,
        ["client_approved_at", "greater_than", WHEN - dt.timedelta(1)],
        WHEN - dt.timedelta(2),
    ),
    Case("duration", "Task", "est_in_mins", 480, 480, ["est_in_mins", "is", 480], 60),
    Case("color", "Task", "color", "255,128,0", "255,128,0", ["color", "is", "255,128,0"], "0,0,0"),
    Case(
        "entity_type",
        "Step",
        "entity_type",
        "Asset",
        "Asset",
        ["entity_type", "in", ["Asset", "Shot"]],
        "Asset",
    ),
    Case("list", "Shot", "sg_shot_type", "Plate", "Plate", ["sg_shot_type", "is_not", "Insert"], "Full CG"),
    Case("status_list", "Version", "sg_status_list", "vwd", "vwd", ["sg_status_list", "in", ["vwd"]], "apr"),
    Case(
        "tag_list",
        "Shot",
        "tag_list",
        ["hero", "night"],
        ["hero", "night"],
        ["tag_list", "name_contains", "nig"],
        ["day"],
    ),
    Case("url", "Version", "sg_uploaded_movie", WEB, {**WEB, "content_type": None, "link_type": "web"}),
    Case(
        "url",
        "Version",
        "sg_path_to_frames_url",  # a local file link, in a url field made for the test
        LOCAL,
        {
            "content_type": None,
            "link_type": "local",
            "local_path": LOCAL["local_path"],
            "local_path_linux": LOCAL["local_path"],
            "local_path_mac": LOCAL["local_path"],
            "local_path_windows": None,
            "local_storage": None,
            "name": "v003.exr",
            "relative_path": None,
            "url": "file:///mnt/projects/demo/SH010/comp/v003.exr",
        },
    ),
    Case(
        "serializable",
        "Task",
        "splits",
        [{"start": "2026-01-05", "end": "2026-01-09"}],
        [{"start": "2026-01-05", "end": "2026-01-09"}],
    ),
    # Types no stock field of the real site has writable: made with schema_field_create first.
    Case(
        "timecode",
        "Shot",
        "sg_delivery_tc",
        3_723_040,
        3_723_040,
        ["sg_delivery_tc", "greater_than", 3_600_000],
        1000,
    ),
    Case(
        "currency", "Project", "sg_budget", 125_000.5, 125_000.5, ["sg_budget", "between", [1e5, 2e5]], 99.99
    ),
    Case("percent", "Shot", "sg_complete", 75, 75, ["sg_complete", "greater_than", 50], 10),
    Case("footage", "Shot", "sg_footage", "12-08", "12-08", ["sg_footage", "starts_with", "12"], "01-00"),
]
MADE = {  # field -> (entity type, data type, display name) created by the test
    "sg_delivery_tc": ("Shot", "timecode", "Delivery TC"),
    "sg_budget": ("Project", "currency", "Budget"),
    "sg_complete": ("Shot", "percent", "Complete"),
    "sg_footage": ("Shot", "footage", "Footage"),
    "sg_path_to_frames_url": ("Version", "url", "Path To Frames URL"),
}


def make_fields(sg: Any) -> None:
    for name, (entity_type, data_type, display) in MADE.items():
        assert sg.schema_field_create(entity_type, data_type, display) == name


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.data_type}:{c.entity_type}.{c.field}")
def test_a_value_of_each_data_type_round_trips(sg: Any, case: Case) -> None:
    make_fields(sg)
    entity = sg.create(case.entity_type, BASE[case.entity_type])
    answer = sg.update(case.entity_type, entity["id"], {case.field: case.value})
    assert answer[case.field] == case.expected
    row = sg.find_one(case.entity_type, [["id", "is", entity["id"]]], [case.field])
    assert row[case.field] == case.expected
    if case.filters is not None:
        assert [r["id"] for r in sg.find(case.entity_type, [case.filters, ["id", "is", entity["id"]]])] == [
            entity["id"]
        ]
    if case.smaller is not None:
        other = sg.create(case.entity_type, {**BASE[case.entity_type], case.field: case.smaller})
        ids = [entity["id"], other["id"]]
        ordered = sg.find(
            case.entity_type, [["id", "in", ids]], order=[{"field_name": case.field, "direction": "asc"}]
        )
        expected = [other["id"], entity["id"]] if case.smaller != case.value else sorted(ids)
        assert [r["id"] for r in ordered] == expected
        newest = sg.find(
            case.entity_type, [["id", "in", ids]], order=[{"field_name": case.field, "direction": "desc"}]
        )
        if case.smaller != case.value:
            assert [r["id"] for r in newest] == expected[::-1]


def test_every_data_type_of_the_real_site_is_covered() -> None:
    types = {
        f["data_type"]["value"] for fields in stock("schema_read.json").values() for f in fields.values()
    }
    tested = {c.data_type for c in CASES} | {
        "entity",
        "multi_entity",
        "image",
        "uuid",
        "password",
        "pivot_column",
    }
    assert types <= tested


def test_links_multi_links_of_several_types_images_and_uuids(sg: Any, fpt_emulator: FptEmulator) -> None:
    shot = sg.create("Shot", BASE["Shot"])
    artists = sg.find_one("Group", [["code", "is", "Artists"]], ["code"])
    ada = sg.find_one("HumanUser", [["login", "is", "ada.moreau"]])
    task = sg.create("Task", {**BASE["Task"], "entity": shot, "task_assignees": [ada, artists]})
    got = sg.find_one("Task", [["id", "is", task["id"]]], ["entity", "task_assignees"])
    assert got["entity"] == {"type": "Shot", "id": shot["id"], "name": "SH"}
    assert [(a["type"], a["name"]) for a in got["task_assignees"]] == [
        ("HumanUser", "Ada Moreau"),
        ("Group", "Artists"),
    ]
    assert [t["id"] for t in sg.find("Task", [["task_assignees", "is", artists]])] == [task["id"]]
    assert [t["id"] for t in sg.find("Task", [["task_assignees", "type_is", "Group"]])] == [task["id"]]
    with pytest.raises(shotgun_api3.Fault, match="not valid for this field"):
        sg.update("Task", task["id"], {"task_assignees": [shot]})
    # A thumbnail is uploaded (sg.upload_thumbnail, not emulated); set here as the site already had it.
    fpt_emulator.site.update("Shot", shot["id"], {"image": "https://cdn.studio.example/thumbs/sh.jpg"})
    assert sg.find_one("Shot", [["id", "is", shot["id"]]], ["image"])["image"].endswith("sh.jpg")
    assert [s["id"] for s in sg.find("Shot", [["image", "is_not", None]])] == [shot["id"]]
    session = "8c6d0b1e-57a7-4b39-9c3a-2d1c9e1b7f00"
    entry = sg.create(
        "EventLogEntry", {"event_type": "Studio_Publish", "description": "d", "session_uuid": session}
    )
    assert [e["id"] for e in sg.find("EventLogEntry", [["session_uuid", "is", session]])] == [entry["id"]]


def test_passwords_are_never_returned_and_computed_fields_never_written(
    sg: Any, fpt_emulator: FptEmulator
) -> None:
    user = sg.find_one("HumanUser", [["login", "is", "ada.moreau"]])
    fpt_emulator.site.update("HumanUser", user["id"], {"password_proxy": "hunter2"}, events=False)
    assert (
        sg.find_one("HumanUser", [["id", "is", user["id"]]], ["password_proxy"])["password_proxy"]
        == "*******"
    )
    with pytest.raises(shotgun_api3.Fault, match="password_proxy is read only"):
        sg.update("HumanUser", user["id"], {"password_proxy": "x"})
    with pytest.raises(shotgun_api3.Fault, match="cannot be used in a filter"):
        sg.find("HumanUser", [["password_proxy", "is", "hunter2"]])
    shot = sg.create("Shot", BASE["Shot"])
    assert sg.find_one("Shot", [["id", "is", shot["id"]]], ["step_0"])["step_0"] is None  # pivot column
    with pytest.raises(shotgun_api3.Fault, match="step_0 is read only"):
        sg.update("Shot", shot["id"], {"step_0": "x"})
    with pytest.raises(shotgun_api3.Fault, match="cannot be used in a filter"):
        sg.find("Shot", [["step_0", "is", None]])
    assert "hunter2" not in json.dumps(fpt_emulator.site.events(), default=str)


@pytest.mark.parametrize(
    ("entity_type", "field", "value", "message"),
    [
        ("Task", "color", "red", "expected 'R,G,B'"),
        ("Task", "color", "300,0,0", "expected 'R,G,B'"),
        ("Shot", "sg_delivery_tc", 1.5, r"Invalid value 1.5 \(Float\)"),
        ("Project", "sg_budget", "12", "Invalid value '12'"),
        ("Project", "sg_budget", 1e14, "out of range"),
        ("Shot", "sg_complete", True, "Invalid value True"),
        ("Shot", "sg_footage", "12", "feet-frames"),
        ("Version", "sg_uploaded_movie", "https://x/y.mov", "expected {'url'"),
        ("Version", "sg_uploaded_movie", {"url": "https://x", "size": 1}, "expected {'url'"),
        ("Version", "sg_uploaded_movie", {"link_type": "upload", "name": "y.mov"}, "Shotgun.upload"),
        ("Shot", "tag_list", "hero", "list of tag names"),
        ("Step", "entity_type", "Spaceship", "no such entity type"),
        ("Shot", "sg_shot_type", "Bogus", "not in the list of valid values"),
        ("Version", "client_approved_at", "yesterday", "Invalid value 'yesterday'"),
        ("Version", "client_approved", "yes", "Invalid value 'yes'"),
    ],
)
def test_wrong_values_get_fpts_error(sg: Any, entity_type: str, field: str, value: Any, message: str) -> None:
    make_fields(sg)
    entity = sg.create(entity_type, BASE[entity_type])
    with pytest.raises(shotgun_api3.Fault, match=message):
        sg.update(entity_type, entity["id"], {field: value})


def test_a_uuid_must_be_a_uuid(sg: Any) -> None:
    with pytest.raises(shotgun_api3.Fault, match="expected a UUID"):
        sg.create("EventLogEntry", {"event_type": "Studio_X", "description": "d", "session_uuid": "nope"})


# --- connection entities ------------------------------------------------------------------------------


def events_after(sg: Any, mark: int) -> list[tuple[str, str | None]]:
    rows = sg.find("EventLogEntry", [["id", "greater_than", mark]], ["event_type", "attribute_name"])
    return [(r["event_type"], r["attribute_name"]) for r in rows]


def last_event(fpt_emulator: FptEmulator) -> int:
    return fpt_emulator.site.last_event_id


def test_a_multi_entity_change_writes_its_connection_rows(sg: Any, fpt_emulator: FptEmulator) -> None:
    shot = sg.create("Shot", BASE["Shot"])
    hero = sg.create("Asset", {"code": "hero", "project": PROJECT})
    mark = last_event(fpt_emulator)
    sg.update("Shot", shot["id"], {"assets": [hero]})
    assert events_after(sg, mark) == [
        ("Shotgun_Shot_Change", "assets"),
        ("Shotgun_AssetShotConnection_New", None),
        ("Shotgun_Asset_Change", "shots"),
    ]
    (row,) = sg.find("AssetShotConnection", [["shot", "is", shot]], ["asset", "shot"])
    assert row["asset"] == {"type": "Asset", "id": hero["id"], "name": "hero"}
    assert sg.find_one("Asset", [["id", "is", hero["id"]]], ["shots"])["shots"][0]["id"] == shot["id"]

    mark = last_event(fpt_emulator)
    sg.update("Asset", hero["id"], {"shots": []})  # removed from the other side
    assert ("Shotgun_AssetShotConnection_Retirement", None) in events_after(sg, mark)
    assert sg.find("AssetShotConnection", [["shot", "is", shot]]) == []
    assert [r["id"] for r in sg.find("AssetShotConnection", [], retired_only=True)] == [row["id"]]
    assert sg.find_one("Shot", [["id", "is", shot["id"]]], ["assets"])["assets"] == []


def test_a_connection_created_or_deleted_directly_links_both_sides(sg: Any) -> None:
    playlist = sg.create("Playlist", {"code": "Dailies", "project": PROJECT})
    version = sg.create("Version", BASE["Version"])
    conn = sg.create(
        "PlaylistVersionConnection", {"playlist": playlist, "version": version, "sg_sort_order": 3}
    )
    assert (
        sg.find_one("Playlist", [["id", "is", playlist["id"]]], ["versions"])["versions"][0]["id"]
        == version["id"]
    )
    assert (
        sg.find_one("Version", [["id", "is", version["id"]]], ["playlists"])["playlists"][0]["id"]
        == playlist["id"]
    )
    assert (
        sg.find_one("PlaylistVersionConnection", [["id", "is", conn["id"]]], ["sg_sort_order"])[
            "sg_sort_order"
        ]
        == 3
    )
    with pytest.raises(shotgun_api3.Fault, match="version is read only"):
        sg.update("PlaylistVersionConnection", conn["id"], {"version": version})
    assert sg.delete("PlaylistVersionConnection", conn["id"]) is True
    assert sg.find_one("Playlist", [["id", "is", playlist["id"]]], ["versions"])["versions"] == []
    with pytest.raises(shotgun_api3.Fault, match="'playlist' and 'version' are required"):
        sg.create("PlaylistVersionConnection", {"version": version})


def test_task_dependencies_are_rows_with_both_ids(sg: Any) -> None:
    layout = sg.create("Task", {**BASE["Task"], "content": "Layout"})
    anim = sg.create("Task", {**BASE["Task"], "content": "Anim", "upstream_tasks": [layout]})
    (dep,) = sg.find("TaskDependency", [], ["task", "dependent_task", "task_id", "dependent_task_id"])
    assert (dep["task"]["id"], dep["dependent_task"]["id"]) == (anim["id"], layout["id"])
    assert (dep["task_id"], dep["dependent_task_id"]) == (anim["id"], layout["id"])


def test_groups_and_their_people_stay_in_step(sg: Any) -> None:
    group = sg.create("Group", {"code": "Lighters"})
    bram = sg.find_one("HumanUser", [["login", "is", "bram.okafor"]])
    sg.update("HumanUser", bram["id"], {"groups": [group]}, multi_entity_update_modes={"groups": "add"})
    assert [u["id"] for u in sg.find_one("Group", [["id", "is", group["id"]]], ["users"])["users"]] == [
        bram["id"]
    ]
    assert len(sg.find("GroupUserConnection", [["group", "is", group]])) == 1


def test_custom_entities_log_their_own_event_types(sg: Any, fpt_emulator: FptEmulator) -> None:
    mark = last_event(fpt_emulator)
    item = sg.create("CustomEntity02", {"code": "Turntable", "project": PROJECT})
    sg.update("CustomEntity02", item["id"], {"sg_status_list": "ip"})
    sg.delete("CustomEntity02", item["id"])
    sg.revive("CustomEntity02", item["id"])
    assert events_after(sg, mark) == [
        ("Shotgun_CustomEntity02_New", None),
        ("Shotgun_CustomEntity02_Change", "code"),
        ("Shotgun_CustomEntity02_Change", "sg_status_list"),
        ("Shotgun_CustomEntity02_Change", "sg_status_list"),
        ("Shotgun_CustomEntity02_Change", "retirement_date"),
        ("Shotgun_CustomEntity02_Retirement", None),
        ("Shotgun_CustomEntity02_Revival", None),
    ]
