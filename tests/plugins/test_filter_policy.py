"""The SNS filter policy derived from a plugin's matchEvents: never narrower, within SNS limits."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shotgun_events.events import encode_event, message_attributes
from shotgun_events.plugins.matching import filter_policy, matches, policy_combinations, policy_keys
from shotgun_events.poller.publisher import SnsPublisher
from tests.aws import drain
from tests.helpers import make_event


def admits(policy: dict[str, Any] | None, attributes: dict[str, str]) -> bool:
    """SNS's attribute matching for the subset `filter_policy` produces (exact strings, `$or`)."""
    if policy is None:
        return True
    for key, rule in policy.items():
        if key == "$or":
            if not any(admits(branch, attributes) for branch in rule):
                return False
        elif attributes.get(key) not in rule:
            return False
    return True


TASK_STATUS = {"Shotgun_Task_Change": ["sg_status_list"]}

EXACT: list[tuple[str, list[Any], dict[str, Any] | None]] = [
    ("no callbacks", [], None),
    ("a match-all callback", [TASK_STATUS, None], None),
    ("an empty dict", [{}], None),
    (
        "one type, one attribute",
        [TASK_STATUS],
        {"event_type": ["Shotgun_Task_Change"], "attribute_name": ["sg_status_list"]},
    ),
    ("one type, any attribute", [{"Shotgun_Shot_New": None}], {"event_type": ["Shotgun_Shot_New"]}),
    ("'*' in the list", [{"Shotgun_Shot_New": ["code", "*"]}], {"event_type": ["Shotgun_Shot_New"]}),
    ("* key", [{"*": ["sg_status_list"]}], {"attribute_name": ["sg_status_list"]}),
    ("* key, None", [{"*": None}], None),
    (
        "string quirk widens the attribute",
        [{"Shotgun_Task_Change": "sg_status_list"}],
        {"event_type": ["Shotgun_Task_Change"]},
    ),
    ("string quirk under *", [{"*": "sg_status_list"}], None),
    (
        "same attributes share a branch",
        [{"Shotgun_Task_Change": ["sg_status_list"], "Shotgun_Shot_Change": ["sg_status_list"]}],
        {"event_type": ["Shotgun_Shot_Change", "Shotgun_Task_Change"], "attribute_name": ["sg_status_list"]},
    ),
    (
        "callbacks are merged",
        [TASK_STATUS, {"Shotgun_Task_Change": ["code"]}],
        {
            "$or": [
                {"event_type": ["Shotgun_Task_Change"], "attribute_name": ["code"]},
                {"event_type": ["Shotgun_Task_Change"], "attribute_name": ["sg_status_list"]},
            ]
        },
    ),
    (
        "different attribute constraints use $or",
        [{"Shotgun_Task_Change": ["sg_status_list"], "Shotgun_Shot_New": None}],
        {
            "$or": [
                {"event_type": ["Shotgun_Shot_New"]},
                {"event_type": ["Shotgun_Task_Change"], "attribute_name": ["sg_status_list"]},
            ]
        },
    ),
    (
        "an empty list matches nothing",
        [{"Shotgun_Task_Change": [], "Shotgun_Shot_New": None}],
        {"event_type": ["Shotgun_Shot_New"]},
    ),
    ("only nothing: no filter (wider is safe)", [{"Shotgun_Task_Change": []}], None),
    ("a non-string name", [{"Shotgun_Task_Change": [5]}], {"event_type": ["Shotgun_Task_Change"]}),
    (
        "empty names are dropped",
        [{"Shotgun_Task_Change": ["", "code"]}],
        {"event_type": ["Shotgun_Task_Change"], "attribute_name": ["code"]},
    ),
]


@pytest.mark.parametrize(("match_events_list", "expected"), [c[1:] for c in EXACT], ids=[c[0] for c in EXACT])
def test_policies(match_events_list: list[Any], expected: dict[str, Any] | None) -> None:
    assert filter_policy(match_events_list) == expected


def test_too_many_branches_widen_to_one_branch() -> None:
    plugin = [{f"Shotgun_T{i}_Change": [f"f{i}"] for i in range(4)}]
    policy = filter_policy(plugin)
    assert policy == {
        "event_type": [f"Shotgun_T{i}_Change" for i in range(4)],
        "attribute_name": [f"f{i}" for i in range(4)],
    }


def test_more_than_150_combinations_drop_the_attribute() -> None:
    plugin = [{f"Shotgun_T{i}_Change": [f"f{j}" for j in range(20)] for i in range(10)}]
    policy = filter_policy(plugin)
    assert policy == {"event_type": sorted(f"Shotgun_T{i}_Change" for i in range(10))}


def test_more_than_150_event_types_is_no_filter() -> None:
    assert filter_policy([{f"Shotgun_T{i}_New": None for i in range(151)}]) is None


def test_more_than_150_attributes_under_star_is_no_filter() -> None:
    assert filter_policy([{"*": [f"f{i}" for i in range(151)]}]) is None


def test_deterministic_order() -> None:
    a = filter_policy([{"B": ["y", "x"], "A": None}])
    b = filter_policy([{"A": None, "B": ["x", "y"]}])
    assert a == b


# --- property: never narrower than the union of the callbacks' matchEvents --------------------------

EVENT_TYPES = ["Shotgun_Task_Change", "Shotgun_Shot_Change", "Shotgun_Shot_New", "Shotgun_User_Login", "X"]
ATTRIBUTES = ["sg_status_list", "status", "code", "sg_status", "description", "*"]

values = st.one_of(
    st.none(),
    st.lists(st.sampled_from([*ATTRIBUTES, ""]), max_size=4),
    st.sampled_from(["sg_status_list", "*", "sg_*", "code", "", "status_list"]),
    st.lists(st.sampled_from(ATTRIBUTES), max_size=3).map(tuple),
)
match_events_st: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(st.sampled_from([*EVENT_TYPES, "*"]), values, max_size=4),
)
events_st = st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(EVENT_TYPES),
        "attribute_name": st.one_of(st.none(), st.just(""), st.sampled_from(ATTRIBUTES[:-1])),
    }
)


@settings(max_examples=400, deadline=None)
@given(st.lists(match_events_st, max_size=4), st.lists(events_st, min_size=1, max_size=5))
def test_never_narrower_and_within_limits(match_events_list: list[Any], events: list[dict[str, Any]]) -> None:
    policy = filter_policy(match_events_list)
    if policy is not None:
        assert policy_keys(policy) <= 5
        assert policy_combinations(policy) <= 150
    for partial in events:
        event = {"id": 1, **partial}
        if any(matches(m, event) for m in match_events_list):
            assert admits(policy, message_attributes(event)), (policy, event)


# --- SNS (moto) accepts the policies and filters with them -----------------------------------------


@pytest.mark.parametrize(
    "match_events_list",
    [
        [TASK_STATUS],
        [{"Shotgun_Task_Change": ["sg_status_list"], "Shotgun_Shot_New": None}],
        [{"*": ["sg_status_list", "code"]}],
        [{f"Shotgun_T{i}_Change": [f"f{i}"] for i in range(4)}],
    ],
)
def test_sns_accepts_the_policy_and_delivers_what_matches(aws: None, match_events_list: list[Any]) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="events.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    queue = sqs.create_queue(QueueName="p.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = filter_policy(match_events_list)
    attributes = {"RawMessageDelivery": "true"}
    if policy is not None:
        attributes["FilterPolicy"] = json.dumps(policy)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)

    events = [
        make_event(1, ("Task", 1), event_type="Shotgun_Task_Change", attribute_name="sg_status_list"),
        make_event(2, ("Task", 2), event_type="Shotgun_Task_Change", attribute_name="code"),
        make_event(3, ("Shot", 3), event_type="Shotgun_Shot_New", attribute_name=None),
        make_event(4, ("Shot", 4), event_type="Shotgun_Shot_Change", attribute_name="sg_status_list"),
        make_event(5, ("Shot", 5), event_type="Shotgun_T2_Change", attribute_name="f2"),
    ]
    SnsPublisher(topic, sns).publish([encode_event(e) for e in events])
    delivered = {json.loads(m["Body"])["id"] for m in drain(sqs, queue)}
    wanted = {e["id"] for e in events if any(matches(m, e) for m in match_events_list)}
    assert wanted <= delivered
