"""DynamoDBStateStore on moto: round trip, exact conditional requests, conflicts, corruption."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from shotgun_events.config import MAX_BACKLOG_LIMIT, MAX_BACKLOG_TIMEOUT
from shotgun_events.poller.cursor import PollState
from shotgun_events.poller.state_store import (
    DynamoDBStateStore,
    StateConflict,
    StateCorrupt,
    encode_backlog,
    state_key,
)
from tests.aws import create_state_table
from tests.fakes import Recording

SITE = "https://studio.example.com"


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


def test_backlog_round_trips_with_deadlines_rounded_up(dynamodb: Any) -> None:
    store = DynamoDBStateStore("state", SITE, dynamodb)
    backlog = {i: 1_800_000_000.5 for i in range(10_000, 20_000)} | {7: 1_800_000_100.0}
    store.save(PollState(cursor=20_000, backlog=backlog), None)
    loaded = store.load()
    assert loaded is not None
    assert loaded.state.backlog == {i: 1_800_000_001.0 for i in range(10_000, 20_000)} | {7: 1_800_000_100.0}
    assert len(encode_backlog(backlog)) < 100  # runs, not one entry per id


def test_largest_scattered_backlog_fits_in_one_item(dynamodb: Any) -> None:
    # The worst case: MAX_BACKLOG's ceiling of 10-digit ids, none consecutive, spread over as many
    # distinct deadlines as the longest timeout allows (deadlines are whole seconds).
    deadlines = int(MAX_BACKLOG_TIMEOUT) + 1
    backlog = {9_000_000_000 + 2 * i: 1_800_000_000.0 + i % deadlines for i in range(MAX_BACKLOG_LIMIT)}
    store = DynamoDBStateStore("state", SITE, dynamodb)
    store.save(PollState(cursor=20_000_000, backlog=backlog), None)
    loaded = store.load()
    assert loaded is not None and loaded.state.backlog == backlog
    assert len(encode_backlog(backlog)) < 350_000  # DynamoDB's item limit is 400 KB


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
