"""Event <-> SNS message encoding (DESIGN §4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shotgun_events.events import (
    EVENT_FIELDS,
    MAX_MESSAGE_BYTES,
    MalformedEvent,
    decode_body,
    encode_event,
    is_reference,
)
from tests.helpers import load_event, make_event


@pytest.mark.parametrize("name", ["status_change", "user_login", "non_ascii", "custom_toolkit"])
def test_round_trip_is_exact(name: str) -> None:
    event = load_event(name)
    decoded = decode_body(encode_event(event).body)
    assert decoded == {**{f: event.get(f) for f in EVENT_FIELDS}, "type": "EventLogEntry"}
    assert decoded["created_at"].tzinfo is not None


def test_body_has_exactly_the_daemon_fields_and_iso_utc_created_at() -> None:
    body = json.loads(encode_event(load_event("status_change")).body)
    assert set(body) == {*EVENT_FIELDS, "type"}
    assert body["created_at"] == "2026-11-27T12:00:00Z"


def test_local_timezone_datetime_is_published_in_utc_and_comes_back_equal() -> None:
    local = datetime(2026, 11, 27, 4, 0, 0, tzinfo=timezone(timedelta(hours=-8)))
    message = encode_event(make_event(1, created_at=local))
    assert json.loads(message.body)["created_at"] == "2026-11-27T12:00:00Z"
    assert decode_body(message.body)["created_at"] == local


def test_attributes_group_and_dedup_for_an_entity_event() -> None:
    message = encode_event(load_event("status_change"))
    assert message.attributes == {
        "event_type": "Shotgun_Task_Change",
        "entity_type": "Task",
        "attribute_name": "sg_status_list",
        "project_id": "70",
    }
    assert message.group_id == "Task:501"
    assert message.dedup_id == "1001"


def test_null_fields_leave_their_attributes_out_and_group_site_wide() -> None:
    message = encode_event(load_event("user_login"))
    assert message.attributes == {"event_type": "Shotgun_User_Login"}
    assert message.group_id == "site"


def test_event_without_entity_groups_by_project() -> None:
    assert encode_event(load_event("custom_toolkit")).group_id == "Project:70"


def test_entity_type_falls_back_to_meta() -> None:
    event = make_event(5, entity=None)
    event["meta"]["entity_type"] = "Asset"
    assert encode_event(event).attributes["entity_type"] == "Asset"


def test_created_at_left_as_text_is_published_as_given() -> None:
    event = load_event("created_at_text")
    decoded = decode_body(encode_event(event).body)
    assert decoded["created_at"] == "2026-11-27 12:00:04.123456 PST"


def test_oversize_event_becomes_a_reference_never_truncated() -> None:
    event = make_event(77)
    event["meta"]["new_value"] = "x" * (MAX_MESSAGE_BYTES + 1)
    message = encode_event(event)
    assert message.is_reference
    assert message.size < 1024
    assert message.attributes["event_type"] == "Shotgun_Shot_Change"
    decoded = decode_body(message.body)
    assert is_reference(decoded) and decoded["id"] == 77


def test_event_just_under_the_limit_is_sent_whole() -> None:
    event = make_event(78)
    event["meta"]["new_value"] = ""
    base = encode_event(event).size
    event["meta"]["new_value"] = "y" * (MAX_MESSAGE_BYTES - base)
    message = encode_event(event)
    assert message.size == MAX_MESSAGE_BYTES and not message.is_reference


def test_sns_notification_envelope_is_unwrapped() -> None:
    body = encode_event(load_event("status_change")).body
    envelope = json.dumps({"Type": "Notification", "MessageId": "m-1", "Message": body})
    assert decode_body(envelope)["id"] == 1001


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("{not json", "not JSON"),
        ('{"event_type": "Shotgun_Shot_New"}', "no positive integer id"),
        ('{"id": "12"}', "no positive integer id"),
        ('{"id": true}', "no positive integer id"),
        ("[1, 2]", "not an object"),
    ],
)
def test_malformed_bodies_name_what_is_wrong(body: str, complaint: str) -> None:
    with pytest.raises(MalformedEvent, match=complaint):
        decode_body(body)


def test_unknown_extra_fields_pass_through_decode() -> None:
    decoded = decode_body(json.dumps({"id": 3, "created_at": None, "future_field": [1]}))
    assert decoded["future_field"] == [1]


def test_naive_datetime_is_taken_as_utc() -> None:
    message = encode_event(make_event(9, created_at=datetime(2026, 1, 2, 3, 4, 5)))
    assert decode_body(message.body)["created_at"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_retired_entity_events_stay_in_the_entity_group() -> None:
    # FPT reads a link to a retired entity as null; meta still names it.
    event = make_event(11, entity=None, event_type="Shotgun_Shot_Retirement")
    event["meta"].update(entity_type="Shot", entity_id=1)
    assert (
        encode_event(event).group_id == encode_event(make_event(10, entity=("Shot", 1))).group_id == "Shot:1"
    )


def test_size_counts_body_and_every_attribute_name_type_and_value() -> None:
    message = encode_event(load_event("status_change"))
    attributes = {
        "event_type": "Shotgun_Task_Change",
        "entity_type": "Task",
        "attribute_name": "sg_status_list",
        "project_id": "70",
    }
    expected = len(message.body.encode()) + sum(
        len(k) + len("String") + len(v) for k, v in attributes.items()
    )
    assert message.size == expected


def test_lone_surrogates_and_noncharacters_are_escaped_not_fatal() -> None:
    event = make_event(12)
    event["meta"]["new_value"] = "broken \ud800 text \ufffe"
    message = encode_event(event)
    assert message.body.isascii() and message.size > 0
    assert decode_body(message.body)["meta"]["new_value"] == "broken \ud800 text \ufffe"
