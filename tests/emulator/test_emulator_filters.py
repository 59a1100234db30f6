"""Every filter relation, groups, deep fields, sorts and paging, as the real client sends them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import shotgun_api3

from fpt_emulator import FptEmulator, filters

PROJECT = {"type": "Project", "id": 1}


@pytest.fixture
def studio(fpt_emulator: FptEmulator) -> dict[str, Any]:
    """Shots in two sequences, assets, tasks: arranged in-process, without events."""
    site = fpt_emulator.site
    seqs = {s["code"]: s for s in site.find("Sequence", [], ["code"])}
    hero = site.create(
        "Asset", {"code": "Hero", "project": PROJECT, "sg_asset_type": "Character"}, events=False
    )
    lamp = site.create("Asset", {"code": "lamp", "project": PROJECT, "sg_asset_type": "Prop"}, events=False)
    shots = {}
    for code, seq, status, cut_in, assets in [
        ("SQ010_0010", "SQ010", "wtg", 1001, [hero]),
        ("SQ010_0020", "SQ010", "ip", 1010, [hero, lamp]),
        ("SQ020_0010", "SQ020", "fin", 1020, []),
        ("sq020_0020", "SQ020", "ip", None, [lamp]),
    ]:
        data = {
            "code": code,
            "project": PROJECT,
            "sg_sequence": {"type": "Sequence", "id": seqs[seq]["id"]},
            "sg_status_list": status,
            "sg_cut_in": cut_in,
            "assets": [{"type": "Asset", "id": a["id"]} for a in assets],
        }
        shots[code] = site.create("Shot", data, events=False)
    anim = site.create(
        "Task",
        {
            "content": "Animation",
            "project": PROJECT,
            "entity": {"type": "Shot", "id": shots["SQ010_0010"]["id"]},
        },
        events=False,
    )
    model = site.create(
        "Task",
        {"content": "Model", "project": PROJECT, "entity": {"type": "Asset", "id": hero["id"]}},
        events=False,
    )
    return {"shots": shots, "hero": hero, "lamp": lamp, "anim": anim, "model": model, "seqs": seqs}


def codes(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(r["code"] for r in rows)


def find_codes(sg: Any, filters: Any, **kw: Any) -> list[str]:
    return codes(sg.find("Shot", filters, ["code"], **kw))


def test_is_and_is_not(sg: Any, studio: dict[str, Any]) -> None:
    assert find_codes(sg, [["code", "is", "SQ010_0010"]]) == ["SQ010_0010"]
    assert find_codes(sg, [["code", "is", "sq010_0010"]]) == ["SQ010_0010"]  # text matches ignore case
    assert find_codes(sg, [["sg_status_list", "is_not", "ip"]]) == ["SQ010_0010", "SQ020_0010"]
    assert find_codes(sg, [["sg_cut_in", "is", None]]) == ["sq020_0020"]
    assert len(find_codes(sg, [["sg_cut_in", "is_not", None]])) == 3
    assert find_codes(sg, [["id", "is", studio["shots"]["SQ020_0010"]["id"]]]) == ["SQ020_0010"]


def test_in_and_not_in(sg: Any, studio: dict[str, Any]) -> None:
    assert find_codes(sg, [["sg_status_list", "in", ["wtg", "fin"]]]) == ["SQ010_0010", "SQ020_0010"]
    assert find_codes(sg, [["sg_status_list", "not_in", ["wtg", "fin"]]]) == ["SQ010_0020", "sq020_0020"]
    ids = [studio["shots"]["SQ010_0010"]["id"], studio["shots"]["SQ010_0020"]["id"]]
    assert find_codes(sg, [["id", "in", ids]]) == ["SQ010_0010", "SQ010_0020"]
    assert find_codes(sg, [["code", "in", "SQ020_0010", "nothing"]]) == ["SQ020_0010"]


def test_ordered_relations(sg: Any, studio: dict[str, Any]) -> None:
    assert find_codes(sg, [["sg_cut_in", "greater_than", 1001]]) == ["SQ010_0020", "SQ020_0010"]
    assert find_codes(sg, [["sg_cut_in", "less_than", 1010]]) == ["SQ010_0010"]
    assert find_codes(sg, [["sg_cut_in", "between", [1005, 1020]]]) == ["SQ010_0020", "SQ020_0010"]
    assert find_codes(sg, [["sg_cut_in", "not_between", [1005, 1020]]]) == ["SQ010_0010", "sq020_0020"]
    first = studio["shots"]["SQ010_0010"]["id"]
    assert len(find_codes(sg, [["id", "greater_than", first]])) == 3


def test_text_relations(sg: Any, studio: dict[str, Any]) -> None:
    assert find_codes(sg, [["code", "contains", "020_"]]) == ["SQ020_0010", "sq020_0020"]
    assert find_codes(sg, [["code", "not_contains", "020_"]]) == ["SQ010_0010", "SQ010_0020"]
    assert find_codes(sg, [["code", "starts_with", "sq010"]]) == ["SQ010_0010", "SQ010_0020"]
    assert find_codes(sg, [["code", "ends_with", "0020"]]) == ["SQ010_0020", "sq020_0020"]


def test_entity_link_filters(sg: Any, studio: dict[str, Any]) -> None:
    seq10 = studio["seqs"]["SQ010"]
    assert find_codes(sg, [["sg_sequence", "is", {"type": "Sequence", "id": seq10["id"]}]]) == [
        "SQ010_0010",
        "SQ010_0020",
    ]
    assert len(find_codes(sg, [["sg_sequence", "is_not", {"type": "Sequence", "id": seq10["id"]}]])) == 2
    assert find_codes(sg, [["sg_sequence", "in", [{"type": "Sequence", "id": seq10["id"]}]]]) == [
        "SQ010_0010",
        "SQ010_0020",
    ]
    assert find_codes(sg, [["sg_sequence", "name_contains", "020"]]) == ["SQ020_0010", "sq020_0020"]
    assert find_codes(sg, [["sg_sequence", "name_is", "sq010"]]) == ["SQ010_0010", "SQ010_0020"]
    tasks = sg.find("Task", [["entity", "type_is", "Asset"]], ["content"])
    assert [t["content"] for t in tasks] == ["Model"]
    tasks = sg.find("Task", [["entity", "type_is_not", "Asset"]], ["content"])
    assert [t["content"] for t in tasks] == ["Animation"]
    tasks = sg.find("Task", [["entity", "is", studio["hero"]]], ["content"])
    assert [t["content"] for t in tasks] == ["Model"]


def test_multi_entity_filters(sg: Any, studio: dict[str, Any]) -> None:
    hero, lamp = studio["hero"], studio["lamp"]
    assert find_codes(sg, [["assets", "is", hero]]) == ["SQ010_0010", "SQ010_0020"]
    assert find_codes(sg, [["assets", "is_not", hero]]) == ["SQ020_0010", "sq020_0020"]
    assert find_codes(sg, [["assets", "in", [hero, lamp]]]) == ["SQ010_0010", "SQ010_0020", "sq020_0020"]
    assert find_codes(sg, [["assets", "not_in", [hero, lamp]]]) == ["SQ020_0010"]
    assert find_codes(sg, [["assets", "is", None]]) == ["SQ020_0010"]
    assert find_codes(sg, [["assets", "name_contains", "LAMP"]]) == ["SQ010_0020", "sq020_0020"]
    assert find_codes(sg, [["assets", "type_is", "Asset"]]) == ["SQ010_0010", "SQ010_0020", "sq020_0020"]


def test_groups_and_filter_operator(sg: Any, studio: dict[str, Any]) -> None:
    assert find_codes(sg, [["sg_status_list", "is", "wtg"], ["sg_status_list", "is", "fin"]]) == []
    assert find_codes(
        sg, [["sg_status_list", "is", "wtg"], ["sg_status_list", "is", "fin"]], filter_operator="any"
    ) == ["SQ010_0010", "SQ020_0010"]
    nested = [
        ["code", "starts_with", "SQ0"],
        {
            "filter_operator": "any",
            "filters": [
                ["sg_status_list", "is", "fin"],
                {
                    "filter_operator": "all",
                    "filters": [["sg_status_list", "is", "ip"], ["sg_cut_in", "is", None]],
                },
            ],
        },
    ]
    assert find_codes(sg, nested) == ["SQ020_0010", "sq020_0020"]


def test_deep_fields_in_filters_and_return_fields(sg: Any, studio: dict[str, Any]) -> None:
    rows = sg.find(
        "Task",
        [["entity.Shot.code", "is", "SQ010_0010"]],
        ["content", "entity.Shot.code", "entity.Shot.sg_status_list", "entity.Asset.code"],
    )
    assert rows == [
        {
            "type": "Task",
            "id": studio["anim"]["id"],
            "content": "Animation",
            "entity.Shot.code": "SQ010_0010",
            "entity.Shot.sg_status_list": "wtg",
            "entity.Asset.code": None,
        }
    ]
    assert find_codes(sg, [["sg_sequence.Sequence.code", "is", "SQ020"]]) == ["SQ020_0010", "sq020_0020"]
    assert find_codes(sg, [["assets.Asset.sg_asset_type", "is", "Prop"]]) == ["SQ010_0020", "sq020_0020"]
    deep = sg.find("Shot", [["code", "is", "SQ010_0010"]], ["sg_sequence.Sequence.project"])
    assert deep[0]["sg_sequence.Sequence.project"]["name"] == "Demo Project"
    with pytest.raises(shotgun_api3.Fault, match="doesn't exist"):
        sg.find("Task", [["entity.Shot.nope", "is", 1]])


def test_date_relative_filters(sg: Any, studio: dict[str, Any]) -> None:
    assert len(sg.find("Shot", [["created_at", "in_last", [1, "HOUR"]]])) == 4
    assert sg.find("Shot", [["created_at", "not_in_last", [1, "HOUR"]]]) == []


def test_more_link_name_relations(sg: Any, studio: dict[str, Any]) -> None:
    assert find_codes(sg, [["sg_sequence", "name_starts_with", "sq02"]]) == ["SQ020_0010", "sq020_0020"]
    assert find_codes(sg, [["sg_sequence", "name_ends_with", "10"]]) == ["SQ010_0010", "SQ010_0020"]
    assert find_codes(sg, [["sg_sequence", "name_not_contains", "020"]]) == ["SQ010_0010", "SQ010_0020"]
    assert find_codes(sg, [["assets", "name_starts_with", "HE"]]) == ["SQ010_0010", "SQ010_0020"]
    assert find_codes(sg, [["assets", "name_ends_with", "amp"]]) == ["SQ010_0020", "sq020_0020"]
    assert find_codes(sg, [["assets", "name_not_contains", "lamp"]]) == ["SQ010_0010", "SQ020_0010"]


def test_in_next_and_not_in_next(fpt_emulator: FptEmulator, sg: Any, studio: dict[str, Any]) -> None:
    today = dt.datetime.now(dt.UTC).date()
    for content, days in (("soon", 2), ("later", 20), ("past", -3)):
        sg.create("Task", {"content": content, "project": PROJECT, "due_date": today + dt.timedelta(days)})

    def contents(relation: str, value: Any) -> list[str]:
        rows = sg.find("Task", [["due_date", relation, value], ["due_date", "is_not", None]], ["content"])
        return sorted(r["content"] for r in rows)

    assert contents("in_next", [7, "DAY"]) == ["soon"]
    assert contents("in_next", [1, "MONTH"]) == ["later", "soon"]
    assert contents("not_in_next", [7, "DAY"]) == ["later", "past"]
    assert contents("in_last", [1, "WEEK"]) == ["past"]
    assert contents("not_in_last", [1, "WEEK"]) == ["later", "soon"]


def test_relative_dates_use_the_time_of_each_read(
    sg: Any, studio: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    query = [["created_at", "in_last", [1, "HOUR"]]]
    assert len(sg.find("Shot", query)) == 4
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    monkeypatch.setattr(filters, "utc_clock", lambda: later)
    assert sg.find("Shot", query) == []  # the same query, two hours on: not an old cached answer
    assert len(sg.find("Shot", [["created_at", "not_in_last", [1, "HOUR"]]])) == 4
    assert len(sg.find("Shot", [["created_at", "in_last", [3, "HOUR"]]])) == 4


def test_sorts(sg: Any, studio: dict[str, Any]) -> None:
    rows = sg.find("Shot", [], ["code"], order=[{"field_name": "sg_cut_in", "direction": "desc"}])
    assert [r["code"] for r in rows] == [
        "sq020_0020",
        "SQ020_0010",
        "SQ010_0020",
        "SQ010_0010",
    ]  # nulls first
    rows = sg.find(
        "Shot",
        [],
        ["code"],
        order=[
            {"field_name": "sg_status_list", "direction": "asc"},
            {"field_name": "code", "direction": "desc"},
        ],
    )
    assert [r["code"] for r in rows] == ["SQ020_0010", "sq020_0020", "SQ010_0020", "SQ010_0010"]
    rows = sg.find("Shot", [], ["code"], order=[{"field_name": "sg_sequence", "direction": "desc"}])
    assert [r["code"] for r in rows][:2] == ["SQ020_0010", "sq020_0020"]
    ignored = sg.find("Shot", [], ["code"], order=[{"field_name": "not_a_field", "direction": "asc"}])
    assert [r["id"] for r in ignored] == sorted(r["id"] for r in ignored)  # id order, as FPT does


def test_paging_across_pages(fpt_emulator: FptEmulator, sg: Any) -> None:
    site = fpt_emulator.site
    tx = site.begin(quiet=True)
    for i in range(1234):
        tx.create("Version", {"code": f"v{i:04d}", "project": PROJECT})
    tx.commit()
    fpt_emulator.clear_writes()
    rows = sg.find("Version", [["code", "starts_with", "v"]], ["code"])
    assert [r["code"] for r in rows] == [f"v{i:04d}" for i in range(1234)]
    assert fpt_emulator.calls == ["read", "read", "read"]  # 500 + 500 + 234, has_next_page driven
    assert len(sg.find("Version", [], ["code"], limit=10)) == 10
    page3 = sg.find("Version", [], ["code"], limit=100, page=3)
    assert [r["code"] for r in page3] == [f"v{i:04d}" for i in range(200, 300)]


def test_return_only_and_archived_projects(fpt_emulator: FptEmulator, sg: Any) -> None:
    site = fpt_emulator.site
    old = site.create("Project", {"name": "Old Show", "archived": True}, events=False)
    site.create("Shot", {"code": "OLD", "project": {"type": "Project", "id": old["id"]}}, events=False)
    site.create("Shot", {"code": "NEW", "project": PROJECT}, events=False)
    gone = site.create("Shot", {"code": "GONE", "project": PROJECT}, events=False)
    site.delete("Shot", gone["id"], events=False)
    assert find_codes(sg, []) == ["NEW", "OLD"]
    assert find_codes(sg, [], include_archived_projects=False) == ["NEW"]
    assert find_codes(sg, [], retired_only=True) == ["GONE"]
    names = [p["name"] for p in sg.find("Project", [], ["name"], include_archived_projects=False)]
    assert names == ["Demo Project"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ([["sg_cut_in", "contains", "1"]], "does not support the 'contains' relation"),
        ([["code", "is", 5]], "invalid values"),
        ([["sg_cut_in", "between", [1]]], "invalid values"),
        ([["sg_sequence", "is", {"type": "Sequence"}]], "invalid values"),
        ([["image", "is", "http://thumbnail"]], "invalid values"),  # only "has one or not"
        ([["nope", "is", 1]], "Shot.nope doesn't exist"),
        ([["code", "bogus", "x"]], "does not support the 'bogus' relation"),
    ],
)
def test_bad_filters_are_faults(sg: Any, filters: Any, message: str) -> None:
    with pytest.raises(shotgun_api3.Fault, match=message):
        sg.find("Shot", filters)
