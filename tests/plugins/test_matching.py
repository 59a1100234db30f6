"""`matchEvents` exactly as the daemon reads it (DESIGN §5), case by case."""

from __future__ import annotations

from typing import Any

import pytest

from shotgun_events.plugins.matching import matches, validate_match_events

STATUS = {"event_type": "Shotgun_Task_Change", "attribute_name": "sg_status_list"}
NEW_SHOT = {"event_type": "Shotgun_Shot_New", "attribute_name": None}
LOGIN = {"event_type": "Shotgun_User_Login", "attribute_name": None}
CODE = {"event_type": "Shotgun_Task_Change", "attribute_name": "code"}
EMPTY_ATTR = {"event_type": "Shotgun_Task_Change", "attribute_name": ""}

CASES: list[tuple[str, Any, dict[str, Any], bool]] = [
    # None / {} match everything
    ("None matches a change", None, STATUS, True),
    ("None matches a login", None, LOGIN, True),
    ("empty dict matches everything", {}, NEW_SHOT, True),
    # exact event type keys, no globs
    ("exact type, None value", {"Shotgun_Task_Change": None}, STATUS, True),
    ("other type", {"Shotgun_Shot_Change": None}, STATUS, False),
    ("no globs in keys", {"Shotgun_Task_*": None}, STATUS, False),
    ("no prefix match", {"Shotgun_Task": None}, STATUS, False),
    ("case sensitive", {"shotgun_task_change": None}, STATUS, False),
    # attribute lists
    ("attribute in list", {"Shotgun_Task_Change": ["sg_status_list"]}, STATUS, True),
    ("attribute not in list", {"Shotgun_Task_Change": ["sg_status_list"]}, CODE, False),
    ("list holding *", {"Shotgun_Task_Change": ["code", "*"]}, STATUS, True),
    ("list holding * and null attribute", {"Shotgun_Shot_New": ["*"]}, NEW_SHOT, True),
    ("null attribute never in a list", {"Shotgun_Shot_New": ["code"]}, NEW_SHOT, False),
    ("empty attribute never in a list", {"Shotgun_Task_Change": [""]}, EMPTY_ATTR, False),
    ("empty list matches nothing", {"Shotgun_Task_Change": []}, STATUS, False),
    ("tuple works like a list", {"Shotgun_Task_Change": ("sg_status_list",)}, STATUS, True),
    ("set works like a list", {"Shotgun_Task_Change": {"sg_status_list"}}, STATUS, True),
    ("None value matches a null attribute", {"Shotgun_Shot_New": None}, NEW_SHOT, True),
    # the "*" key: only its value is used, for any event type
    ("* key with attribute list", {"*": ["sg_status_list"]}, STATUS, True),
    ("* key, other attribute", {"*": ["sg_status_list"]}, CODE, False),
    ("* key, any type", {"*": ["sg_status_list"]}, {**STATUS, "event_type": "Shotgun_Shot_Change"}, True),
    ("* key with None", {"*": None}, LOGIN, True),
    ("* key ignores the other keys", {"*": ["code"], "Shotgun_Task_Change": None}, STATUS, False),
    ("* key ignores the other keys (match)", {"*": ["sg_status_list"], "Shotgun_Shot_New": []}, STATUS, True),
    # the string quirk: a substring test
    ("string value, equal", {"Shotgun_Task_Change": "sg_status_list"}, STATUS, True),
    (
        "string value, substring",
        {"Shotgun_Task_Change": "sg_status_list"},
        {**STATUS, "attribute_name": "status"},
        True,
    ),
    ("string value, not a substring", {"Shotgun_Task_Change": "sg_status_list"}, CODE, False),
    ("string value, null attribute", {"Shotgun_Shot_New": "code"}, NEW_SHOT, False),
    ("string value, empty attribute", {"Shotgun_Task_Change": "code"}, EMPTY_ATTR, False),
    ("string '*'", {"Shotgun_Task_Change": "*"}, CODE, True),
    ("string holding '*'", {"Shotgun_Task_Change": "sg_*"}, CODE, True),
    ("string value under * key", {"*": "sg_status_list"}, {**STATUS, "attribute_name": "list"}, True),
    # odd events
    ("event without event_type", {"Shotgun_Task_Change": None}, {"attribute_name": "x"}, False),
    ("None key matches a null event type", {None: None}, {"event_type": None}, True),
    (
        "non-string attribute vs string value",
        {"Shotgun_Task_Change": "code"},
        {**STATUS, "attribute_name": 5},
        False,
    ),
    ("unhashable event type", {"Shotgun_Task_Change": None}, {"event_type": ["x"]}, False),
]


@pytest.mark.parametrize(
    ("match_events", "event", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_matches_like_the_daemon(match_events: Any, event: dict[str, Any], expected: bool) -> None:
    assert matches(match_events, event) is expected


@pytest.mark.parametrize(
    "match_events",
    [None, {}, [], "", {"A": None}, {"A": ["x"]}, {"A": "x"}, {"A": ("x",)}, {"*": None}],
)
def test_accepted_shapes(match_events: Any) -> None:
    validate_match_events(match_events)


@pytest.mark.parametrize(
    "match_events", [["Shotgun_Task_Change"], "Shotgun_Task_Change", {"A": 5}, {"A": object()}]
)
def test_shapes_the_daemon_would_crash_on_are_rejected(match_events: Any) -> None:
    with pytest.raises(TypeError, match="matchEvents"):
        validate_match_events(match_events)
