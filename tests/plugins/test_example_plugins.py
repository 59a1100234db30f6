"""The example plugins in plugins/, end to end with the authors' kit: real shotgun_api3 over HTTP to
the FPT emulator, through the real dispatch core."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from fpt_emulator import FieldDef
from shotgun_events.events import EVENT_FIELDS
from shotgun_events_tools.testing import PluginHarness
from tests.dispatch.support import LogLines

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
Harness = Callable[..., PluginHarness]


def shot_with_tasks(
    h: PluginHarness, code: str = "SH010", tasks: dict[str, tuple[str, str | None]] | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A Shot and its tasks ({step: (status, assignee login)}), arranged without events."""
    sequence = h.site.find_one("Sequence", [["code", "is", "SQ010"]], ["id"])
    assert sequence is not None
    shot = h.given(
        "Shot",
        {"code": code, "project": h.project, "sg_sequence": {"type": "Sequence", "id": sequence["id"]}},
    )
    made = {}
    for step, (status, login) in (tasks or {}).items():
        made[step] = h.given(
            "Task",
            {
                "content": step,
                "entity": shot,
                "step": h.step(step),
                "project": h.project,
                "sg_status_list": status,
                "task_assignees": [h.person(login)] if login else [],
            },
        )
    return shot, made


# --- layout_final_animation_ready ---------------------------------------------------------------------


def test_layout_final_readies_animation_exactly_once(plugin_harness: Harness) -> None:
    h = plugin_harness(PLUGINS / "layout_final_animation_ready.py")
    _, tasks = shot_with_tasks(
        h, tasks={"Layout": ("ip", None), "Animation": ("wtg", None), "Lighting": ("wtg", None)}
    )

    h.update("Task", tasks["Layout"]["id"], {"sg_status_list": "fin"}, user="dana.kowalski")
    h.deliver()

    assert [(w.method, w.entity_type, w.entity_id, w.fields) for w in h.writes] == [
        ("update", "Task", tasks["Animation"]["id"], {"sg_status_list": "rdy"})
    ]
    assert h.get("Task", tasks["Lighting"]["id"], ["sg_status_list"])["sg_status_list"] == "wtg"  # type: ignore[index]
    # The same event delivered again (SQS redelivery, re-publish): nothing runs twice.
    fin_event = h.site.find_one(
        "EventLogEntry",
        [["entity", "is", tasks["Layout"]], ["attribute_name", "is", "sg_status_list"]],
        ["id"],
    )
    assert fin_event is not None
    (event,) = [e for e in h.site.events(fin_event["id"] - 1) if e["id"] == fin_event["id"]]
    assert h.dispatch(event).already_done == ["0:layoutFinalAnimationReady"]
    assert len(h.writes) == 1
    assert h.failures == []


@pytest.mark.parametrize(
    ("tasks", "change"),
    [
        ({"Layout": ("ip", None), "Animation": ("ip", None)}, ("Layout", "fin")),  # already under way
        ({"Layout": ("ip", None), "Animation": ("wtg", None)}, ("Layout", "rev")),  # not final
        ({"Lighting": ("ip", None), "Animation": ("wtg", None)}, ("Lighting", "fin")),  # not Layout
    ],
)
def test_layout_final_leaves_other_cases_alone(
    plugin_harness: Harness, tasks: dict[str, tuple[str, str | None]], change: tuple[str, str]
) -> None:
    h = plugin_harness(PLUGINS / "layout_final_animation_ready.py")
    _, made = shot_with_tasks(h, tasks=tasks)
    h.update("Task", made[change[0]]["id"], {"sg_status_list": change[1]})
    h.deliver()
    assert h.writes == [] and h.failures == []


def test_layout_created_final_is_not_a_transition(plugin_harness: Harness) -> None:
    h = plugin_harness(PLUGINS / "layout_final_animation_ready.py")
    shot, made = shot_with_tasks(h, tasks={"Animation": ("wtg", None)})
    h.create(
        "Task",
        {
            "content": "Layout",
            "entity": shot,
            "step": h.step("Layout"),
            "project": h.project,
            "sg_status_list": "fin",
        },
    )
    h.deliver()
    assert h.writes == []
    assert h.get("Task", made["Animation"]["id"], ["sg_status_list"])["sg_status_list"] == "wtg"  # type: ignore[index]


@pytest.mark.parametrize("meta", [None, "a string", ["a", "list"], {"new_value": None}, {}])
def test_layout_final_survives_an_unexpected_meta(plugin_harness: Harness, meta: Any) -> None:
    h = plugin_harness(PLUGINS / "layout_final_animation_ready.py")
    event = {
        "id": 999_001,
        "event_type": "Shotgun_Task_Change",
        "attribute_name": "sg_status_list",
        "meta": meta,
        "entity": {"type": "Task", "id": 1, "name": "Layout"},
        "user": None,
        "project": h.project,
        "session_uuid": None,
        "created_at": datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    }
    outcome = h.dispatch(event)
    assert outcome.completed == ["0:layoutFinalAnimationReady"] and h.writes == []


# --- create_shot_directories -------------------------------------------------------------------------


def test_shot_directories_are_created_locally(
    plugin_harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOT_DIRECTORIES_ROOT", str(tmp_path / "projects"))
    h = plugin_harness(PLUGINS / "create_shot_directories.py")
    sequence = h.site.find_one("Sequence", [["code", "is", "SQ020"]], ["id"])
    assert sequence is not None
    h.create(
        "Shot",
        {"code": "SH020", "project": h.project, "sg_sequence": {"type": "Sequence", "id": sequence["id"]}},
    )
    h.deliver()

    shot_dir = tmp_path / "projects" / "demo" / "SQ020" / "SH020"
    assert (shot_dir / "work" / "animation").is_dir() and (shot_dir / "plates").is_dir()
    assert sum(1 for p in shot_dir.rglob("*") if p.is_dir()) == 9  # 8 + work/
    assert h.writes == [] and h.failures == []


def test_shot_directories_stay_under_the_root(
    plugin_harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOT_DIRECTORIES_ROOT", str(tmp_path / "root"))
    h = plugin_harness(PLUGINS / "create_shot_directories.py")
    h.create("Shot", {"code": "../../etc/evil shot", "project": h.project})
    h.deliver()
    created = [p for p in tmp_path.rglob("*") if p.is_dir()]
    assert created and all(p.is_relative_to(tmp_path / "root") for p in created)
    assert (tmp_path / "root" / "demo" / "no_sequence" / "etc_evil_shot" / "publish").is_dir()


def test_shot_directories_in_s3(aws: None, plugin_harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="studio-projects")
    monkeypatch.setenv("SHOT_DIRECTORIES_ROOT", "s3://studio-projects/vfx/")
    h = plugin_harness(PLUGINS / "create_shot_directories.py")
    h.create("Shot", {"code": "SH030", "project": h.project})
    h.deliver()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="studio-projects")["Contents"]}
    assert "vfx/demo/no_sequence/SH030/work/comp/" in keys and len(keys) == 8


def test_shot_directories_without_a_root_fail_the_event(
    plugin_harness: Harness, monkeypatch: pytest.MonkeyPatch, json_logs: LogLines
) -> None:
    monkeypatch.delenv("SHOT_DIRECTORIES_ROOT", raising=False)
    h = plugin_harness(PLUGINS / "create_shot_directories.py")
    h.create("Shot", {"code": "SH040", "project": h.project})
    h.deliver()
    assert len(h.failures) == 1  # stopOnError: the record retries, then goes to the DLQ
    assert any("SHOT_DIRECTORIES_ROOT is not set" in r["message"] for r in json_logs.at("ERROR"))


# --- notify_on_hold ------------------------------------------------------------------------------------


def test_on_hold_notes_the_assigned_artists_once(plugin_harness: Harness) -> None:
    h = plugin_harness(PLUGINS / "notify_on_hold.py")
    shot, _ = shot_with_tasks(
        h,
        tasks={
            "Layout": ("fin", "dana.kowalski"),
            "Animation": ("ip", "ada.moreau"),
            "Lighting": ("wtg", "ada.moreau"),
            "Comp": ("wtg", None),
        },
    )
    h.update("Shot", shot["id"], {"sg_status_list": "hld"}, user="jonah.price")
    h.deliver()

    (write,) = h.writes
    assert (write.method, write.entity_type) == ("create", "Note")
    note = h.get("Note", write.entity_id, ["subject", "content", "addressings_to", "note_links", "project"])  # type: ignore[arg-type]
    assert note is not None
    assert {p["id"] for p in note["addressings_to"]} == {
        h.person("dana.kowalski")["id"],
        h.person("ada.moreau")["id"],
    }
    assert [(link["type"], link["id"]) for link in note["note_links"]] == [("Shot", shot["id"])]
    assert note["subject"] == "Shot SH010 is on hold" and "Jonah Price" in note["content"]
    assert note["project"]["id"] == h.project["id"]

    # Redelivered: no second Note.
    for event in h.site.events(0):
        if event["entity"] == {**shot, "name": "SH010"} and event["attribute_name"] == "sg_status_list":
            h.dispatch(event)
    assert len(h.writes) == 1


def test_on_hold_without_assignees_writes_nothing(plugin_harness: Harness) -> None:
    h = plugin_harness(PLUGINS / "notify_on_hold.py")
    shot, _ = shot_with_tasks(h, tasks={"Layout": ("ip", None)})
    h.update("Shot", shot["id"], {"sg_status_list": "hld"})
    h.update("Shot", shot["id"], {"sg_status_list": "ip"})
    h.deliver()
    assert h.writes == [] and h.failures == []


# --- logArgs --------------------------------------------------------------------------------------------


def test_log_args_logs_every_event(plugin_harness: Harness, json_logs: LogLines) -> None:
    h = plugin_harness(PLUGINS / "logArgs.py")
    shot, _ = shot_with_tasks(h)
    h.update("Shot", shot["id"], {"description": "first pass"})
    h.create("Shot", {"code": "SH050", "project": h.project})
    outcomes = h.deliver()

    logged = [r for r in json_logs.records() if r.get("logger") == "plugin.logArgs.logArgs"]
    assert [r["event_id"] for r in logged] == [o.event_id for o in outcomes]
    assert len(logged) >= 3
    assert logged[0]["event"]["event_type"] == "Shotgun_Shot_Change"
    assert h.writes == []


def test_the_harness_hands_an_oversize_event_over_in_full_as_re_read(
    plugin_harness: Harness, json_logs: LogLines
) -> None:
    # GIVEN a change whose event is too large to publish (dispatch re-reads it from FPT by id)
    h = plugin_harness(PLUGINS / "logArgs.py")
    shot, _ = shot_with_tasks(h)
    h.update("Shot", shot["id"], {"description": "x" * 300_000})
    # WHEN it is delivered
    h.deliver()
    # THEN the plugin got the full event with the fields a re-read returns
    (line,) = [r for r in json_logs.records() if r.get("logger") == "plugin.logArgs.logArgs"]
    assert len(line["event"]["meta"]["new_value"]) == 300_000
    assert sorted(line["event"]) == sorted([*EVENT_FIELDS, "type"])


# --- field_to_field, init_entity, datestamp ----------------------------------------------------------------


def test_field_to_field_clears_the_bid_of_a_task_marked_not_applicable(plugin_harness: Harness) -> None:
    h = plugin_harness(PLUGINS / "field_to_field.py")
    _, tasks = shot_with_tasks(h, tasks={"FX": ("wtg", None), "Comp": ("wtg", None)})
    h.update("Task", tasks["FX"]["id"], {"est_in_mins": 960})
    h.update("Task", tasks["FX"]["id"], {"sg_status_list": "na"})
    h.update("Task", tasks["Comp"]["id"], {"sg_status_list": "ip"})
    h.deliver()
    assert [(w.entity_id, w.fields) for w in h.writes] == [(tasks["FX"]["id"], {"est_in_mins": 0})]


def test_init_entity_sets_only_the_missing_defaults(plugin_harness: Harness) -> None:
    h = plugin_harness(PLUGINS / "init_entity.py")
    bare = h.create("Shot", {"code": "SH060", "project": h.project})
    cut = h.create("Shot", {"code": "SH070", "project": h.project, "sg_cut_in": 1009})
    asset = h.create("Asset", {"code": "robot", "project": h.project, "sg_asset_type": "Character"})
    h.deliver()
    assert h.get("Shot", bare["id"], ["sg_cut_in", "sg_shot_type"]) == {
        "type": "Shot",
        "id": bare["id"],
        "sg_cut_in": 1001,
        "sg_shot_type": "Plate",
    }
    assert h.get("Shot", cut["id"], ["sg_cut_in", "sg_shot_type"])["sg_cut_in"] == 1009  # type: ignore[index]
    assert [(w.entity_type, w.entity_id) for w in h.writes] == [("Shot", bare["id"]), ("Shot", cut["id"])]
    assert asset["type"] == "Asset"  # created with its type set: left alone


def test_datestamp_stamps_the_start_date_once(plugin_harness: Harness) -> None:
    h = plugin_harness(PLUGINS / "datestamp.py")
    _, tasks = shot_with_tasks(h, tasks={"Comp": ("rdy", None)})
    h.update("Task", tasks["Comp"]["id"], {"sg_status_list": "ip"})
    h.update("Task", tasks["Comp"]["id"], {"sg_status_list": "rev"})
    h.update("Task", tasks["Comp"]["id"], {"sg_status_list": "ip"})
    h.deliver()
    today = datetime.now(UTC).date().isoformat()
    assert [(w.entity_id, w.fields) for w in h.writes] == [(tasks["Comp"]["id"], {"start_date": today})]


def test_datestamp_a_transient_schema_error_is_retried_not_cached_as_no_field(
    plugin_harness: Harness, fpt_emulator: Any
) -> None:
    # GIVEN FPT answers the datestamp's schema read with a 503 once
    h = plugin_harness(PLUGINS / "datestamp.py")
    _, tasks = shot_with_tasks(h, tasks={"Comp": ("rdy", None)})
    fpt_emulator.faults.fail_next(1, "503", method="schema_field_read")
    h.update("Task", tasks["Comp"]["id"], {"sg_status_list": "ip"})
    (event,) = h.new_events()

    # WHEN the event is delivered, fails, and is delivered again (the SQS retry)
    h.deliver()
    assert h.failures == [f"{event['id']}:0:datestamp"]
    h.dispatch(event)

    # THEN the retry asks the schema again and stamps the date: the 503 was not taken for "no field"
    assert [w.fields for w in h.writes] == [{"start_date": datetime.now(UTC).date().isoformat()}]
    assert h.plugin.registrations[0].args["fields_checked"] == {"Task.start_date": True}


def test_datestamp_skips_a_rule_whose_field_the_site_lacks_then_uses_it_once_added(
    plugin_harness: Harness, json_logs: LogLines
) -> None:
    h = plugin_harness(PLUGINS / "datestamp.py")
    version = h.given("Version", {"code": "v001", "project": h.project})
    h.update("Version", version["id"], {"sg_status_list": "apr"})
    h.deliver()
    assert h.writes == [] and h.failures == []
    assert any("no field sg_date_approved" in r["message"] for r in json_logs.at("WARNING"))

    h2 = plugin_harness(PLUGINS / "datestamp.py")  # a fresh load (a new deployment) sees the new field
    h2.site.schema.add_field("Version", FieldDef("sg_date_approved", "date", "Date Approved"))
    h2.update("Version", version["id"], {"sg_status_list": "rev"})
    h2.update("Version", version["id"], {"sg_status_list": "apr"})
    h2.deliver()
    assert [w.fields for w in h2.writes] == [{"sg_date_approved": datetime.now(UTC).date().isoformat()}]
