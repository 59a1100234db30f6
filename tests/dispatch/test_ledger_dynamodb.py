"""The effect-once ledger's DynamoDB requests, exactly, on moto: one consistent read before a
callback, one write after it completed, nothing else; records Powertools' own, so those an earlier
version wrote through `idempotent_function` still count."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

from shotgun_events.dispatch import IDEMPOTENCY_TTL_SECONDS, EffectLedger, dynamodb_persistence
from tests.dispatch.support import create_idempotency_table
from tests.helpers import LambdaContextStub

pytestmark = pytest.mark.usefixtures("aws")

EFFECT = {"site": "https://studio.example.com", "plugin": "p", "callback": "0:cb", "event_id": 7}


class Requests:
    """The DynamoDB requests a client sends: (operation, parameters)."""

    def __init__(self, client: Any):
        self.sent: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-parameter-build.dynamodb.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.sent.append((model.name, dict(params)))

    def operations(self) -> list[str]:
        return [name for name, _ in self.sent]

    def clear(self) -> None:
        self.sent.clear()


def key_of(effect: dict[str, Any], prefix: str = "plugin.p") -> str:
    return f"{prefix}#{hashlib.md5(json.dumps(effect, sort_keys=True).encode()).hexdigest()}"


@pytest.fixture
def table() -> str:
    return create_idempotency_table(boto3.client("dynamodb"))


def ledger(table: str, client: Any) -> EffectLedger:
    return EffectLedger(dynamodb_persistence(table, client), key_prefix="plugin.p")


def test_a_callback_that_runs_costs_one_consistent_read_and_one_write(table: str) -> None:
    client = boto3.client("dynamodb")
    requests = Requests(client)
    before = int(time.time())

    assert ledger(table, client).run(EFFECT, lambda: {"status": "completed"}) == (
        True,
        {"status": "completed"},
    )

    assert requests.operations() == ["GetItem", "UpdateItem"]
    (_, read), (_, write) = requests.sent
    assert read == {"TableName": table, "Key": {"id": {"S": key_of(EFFECT)}}, "ConsistentRead": True}
    assert write["Key"] == {"id": {"S": key_of(EFFECT)}}
    assert "ConditionExpression" not in write
    item = client.get_item(TableName=table, Key={"id": {"S": key_of(EFFECT)}})["Item"]
    assert item["status"] == {"S": "COMPLETED"}
    assert json.loads(item["data"]["S"]) == {"status": "completed"}
    expiration = int(item["expiration"]["N"])  # the table's TTL attribute
    assert before + IDEMPOTENCY_TTL_SECONDS <= expiration <= int(time.time()) + IDEMPOTENCY_TTL_SECONDS
    assert set(item) == {"id", "status", "data", "expiration"}


def test_a_callback_already_done_costs_one_read_and_does_not_run(table: str) -> None:
    client = boto3.client("dynamodb")
    ledger(table, client).run(EFFECT, lambda: {"status": "error_ignored"})
    requests, runs = Requests(client), []

    ran, result = ledger(table, client).run(EFFECT, lambda: runs.append(1) or {"status": "completed"})

    assert (ran, result, runs) == (False, {"status": "error_ignored"}, [])
    assert requests.operations() == ["GetItem"]


def test_a_callback_that_raises_writes_nothing_and_runs_again(table: str) -> None:
    client = boto3.client("dynamodb")
    requests = Requests(client)

    def fails() -> dict[str, Any]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        ledger(table, client).run(EFFECT, fails)

    assert requests.operations() == ["GetItem"]
    assert "Item" not in client.get_item(TableName=table, Key={"id": {"S": key_of(EFFECT)}})
    assert ledger(table, client).run(EFFECT, lambda: {"status": "completed"})[0] is True


def test_a_replay_id_makes_an_effect_of_its_own(table: str) -> None:
    client = boto3.client("dynamodb")
    replayed = {**EFFECT, "replay": "r-1"}
    ledger(table, client).run(EFFECT, lambda: {"status": "completed"})

    assert ledger(table, client).run(replayed, lambda: {"status": "completed"})[0] is True
    assert ledger(table, client).run(replayed, lambda: {"status": "completed"})[0] is False
    assert client.scan(TableName=table)["Count"] == 2
    assert {i["id"]["S"] for i in client.scan(TableName=table)["Items"]} == {key_of(EFFECT), key_of(replayed)}


def test_a_record_written_through_idempotent_function_counts_as_done(table: str) -> None:
    # GIVEN the record the previous ledger (Powertools' idempotent_function) wrote for this effect
    client = boto3.client("dynamodb")
    config = IdempotencyConfig(
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS, raise_on_no_idempotency_key=True
    )
    config.register_lambda_context(LambdaContextStub(seconds=60))  # type: ignore[arg-type]

    @idempotent_function(
        data_keyword_argument="effect",
        persistence_store=dynamodb_persistence(table, client),
        config=config,
        key_prefix="plugin.p",
    )
    def old(*, effect: dict[str, Any]) -> dict[str, Any]:
        return {"status": "completed"}

    old(effect=EFFECT)
    requests, runs = Requests(client), []
    # WHEN the new ledger meets the effect THEN it is done, at the cost of one read
    assert ledger(table, client).run(EFFECT, lambda: runs.append(1) or {}) == (False, {"status": "completed"})
    assert runs == [] and requests.operations() == ["GetItem"]
