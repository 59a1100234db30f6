"""DynamoDBStateStore on moto: round trip, exact conditional requests, conflicts, corruption."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from shotgun_events.cursor import PollState
from shotgun_events.state_store import DynamoDBStateStore, StateConflict, StateCorrupt, state_key
from tests.aws import create_state_table

SITE = "https://studio.example.com"


class Recording:
    """Forwards to a real (moto) client and records each call's keyword arguments."""

    def __init__(self, client: Any):
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb")
    create_state_table(client, "state")
    return client


def test_first_save_requires_absence_then_versions_increase(dynamodb: Any) -> None:
    recording = Recording(dynamodb)
    store = DynamoDBStateStore("state", SITE, recording)  # type: ignore[arg-type]
    assert store.load() is None
    assert store.save(PollState(cursor=5, backlog={3: 100.0}), None) == 1
    assert store.save(PollState(cursor=9), 1) == 2
    first, second = [kwargs for name, kwargs in recording.calls if name == "put_item"]
    assert first["ConditionExpression"] == "attribute_not_exists(pk)"
    assert second["ConditionExpression"] == "version = :expected"
    assert second["ExpressionAttributeValues"] == {":expected": {"N": "1"}}
    assert second["Item"]["pk"] == {"S": "poller#https://studio.example.com"}
    loaded = store.load()
    assert loaded is not None and loaded.version == 2 and loaded.state == PollState(cursor=9)


def test_backlog_round_trips(dynamodb: Any) -> None:
    store = DynamoDBStateStore("state", SITE, dynamodb)
    state = PollState(cursor=20_000, backlog={i: 1_800_000_000.5 for i in range(10_000, 20_000)})
    store.save(state, None)
    loaded = store.load()
    assert loaded is not None and loaded.state == state


def test_stale_writer_loses_cleanly_and_state_does_not_go_back(dynamodb: Any) -> None:
    store_a = DynamoDBStateStore("state", SITE, dynamodb)
    store_b = DynamoDBStateStore("state", SITE, dynamodb)
    store_a.save(PollState(cursor=10), None)
    store_a.save(PollState(cursor=50), 1)
    with pytest.raises(StateConflict, match="another poller"):
        store_b.save(PollState(cursor=30), 1)
    with pytest.raises(StateConflict):
        store_b.save(PollState(cursor=1), None)
    loaded = store_a.load()
    assert loaded is not None and loaded.state.cursor == 50


def test_sites_are_separate_items(dynamodb: Any) -> None:
    DynamoDBStateStore("state", SITE, dynamodb).save(PollState(cursor=1), None)
    DynamoDBStateStore("state", "https://other.example.com/", dynamodb).save(PollState(cursor=2), None)
    assert state_key("https://other.example.com/") == "poller#https://other.example.com"
    loaded = DynamoDBStateStore("state", SITE, dynamodb).load()
    assert loaded is not None and loaded.state.cursor == 1


def test_corrupt_item_is_named_not_guessed(dynamodb: Any) -> None:
    dynamodb.put_item(
        TableName="state",
        Item={"pk": {"S": state_key(SITE)}, "cursor": {"N": "5"}, "backlog": {"S": "{trunc"}},
    )
    with pytest.raises(StateCorrupt, match="malformed"):
        DynamoDBStateStore("state", SITE, dynamodb).load()
