"""The poller's state in DynamoDB: one item per site, written with optimistic locking.

The item holds the cursor, the backlog and a version. The backlog is JSON text grouped by deadline
as runs of consecutive ids (`{"<deadline s>": [start, count, start, count, ...]}`): gaps come in
runs that share a deadline, so a typical backlog is a few bytes and even 20,000 scattered ids stay
far inside DynamoDB's 400 KB item limit. Every write is conditional on the version read, so of two pollers
running at once one loses its write cleanly and stops; the state never goes back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import boto3
from botocore.exceptions import ClientError

from shotgun_events.config import ConfigError
from shotgun_events.poller.cursor import PollState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class StateConflict(RuntimeError):
    """Another poller wrote the state since we read it; this one must stop."""


class StateCorrupt(RuntimeError):
    """The stored item cannot be read back as a state; the message names what is wrong."""


@dataclass(frozen=True)
class VersionedState:
    state: PollState
    version: int


class StateStore(Protocol):
    def load(self) -> VersionedState | None: ...

    def save(self, state: PollState, expected_version: int | None) -> int: ...


def encode_backlog(backlog: Mapping[int, float]) -> str:
    """Runs of consecutive ids per deadline (rounded up to the second: never waits less)."""
    runs: dict[int, list[int]] = {}
    for event_id in sorted(backlog):
        run = runs.setdefault(math.ceil(backlog[event_id]), [])
        if run and run[-2] + run[-1] == event_id:
            run[-1] += 1
        else:
            run += [event_id, 1]
    return json.dumps({str(d): run for d, run in sorted(runs.items())}, separators=(",", ":"))


def decode_backlog(text: str) -> dict[int, float]:
    backlog: dict[int, float] = {}
    for deadline, run in json.loads(text).items():
        for start, count in zip(run[::2], run[1::2], strict=True):
            backlog.update(dict.fromkeys(range(start, start + count), float(deadline)))
    return backlog


def state_key(site_url: str) -> str:
    """The partition key of a site's poller state (`pk`, DESIGN §4)."""
    return f"poller#{site_url.rstrip('/')}"


class DynamoDBStateStore:
    """`StateStore` on a DynamoDB table whose only key is the string partition key `pk`."""

    def __init__(self, table_name: str, site_url: str, client: DynamoDBClient | None = None):
        self._table = table_name
        self._key = state_key(site_url)
        self._client = client or boto3.client("dynamodb")

    def _name_missing_table(self, exc: ClientError) -> None:
        """A table that is not there (STATE_TABLE names the wrong one) is said so, by name."""
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise ConfigError(f"state table {self._table!r} (STATE_TABLE) does not exist: {exc}") from None

    def load(self) -> VersionedState | None:
        try:
            item = self._client.get_item(
                TableName=self._table, Key={"pk": {"S": self._key}}, ConsistentRead=True
            ).get("Item")
        except ClientError as exc:
            self._name_missing_table(exc)
            raise
        if item is None:
            return None
        try:
            state = PollState(cursor=int(item["cursor"]["N"]), backlog=decode_backlog(item["backlog"]["S"]))
            return VersionedState(state=state, version=int(item["version"]["N"]))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise StateCorrupt(
                f"state item {self._key!r} in table {self._table!r} is malformed"
                f" ({type(exc).__name__}: {exc})"
            ) from None

    def save(self, state: PollState, expected_version: int | None) -> int:
        """Write `state` if nobody else wrote since `expected_version` (None: the item must not exist)."""
        version = (expected_version or 0) + 1
        item = {
            "pk": {"S": self._key},
            "cursor": {"N": str(state.cursor)},
            "backlog": {"S": encode_backlog(state.backlog)},
            "version": {"N": str(version)},
            "updated_at": {"S": datetime.now(UTC).isoformat()},
        }
        if expected_version is None:
            condition: dict[str, object] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        try:
            self._client.put_item(TableName=self._table, Item=item, **condition)  # type: ignore[arg-type]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StateConflict(
                    f"state {self._key!r} changed since version {expected_version}: another poller is running"
                ) from None
            self._name_missing_table(exc)
            raise
        return version
