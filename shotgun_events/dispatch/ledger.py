"""Effect once: a record of each (plugin, callback, event id) that completed.

Kept in a Powertools idempotency persistence layer: DynamoDB in Lambda (partition key `id`, TTL
attribute `expiration`), memory or the local store elsewhere. Keys and records are Powertools'
own (`<key prefix>#<md5 of the effect>`, status `COMPLETED`, `expiration`, the result in `data`),
so records written through `idempotent_function` by earlier versions are read the same way.

Two requests per callback that runs, one per callback already done:

1. a strongly consistent read of its record: a completed, unexpired one means "already done";
2. after the callback returned, one write of the completion record, kept for
   `expires_after_seconds` (14 days, SQS's longest retention, so anything still queued or redriven
   from a DLQ is covered).

Nothing is written before the callback runs. No second run of the same message can start while
one is under way: SQS FIFO hands a message group (the event's entity) to one receiver at a time,
and does not hand the message out again before its visibility timeout, which the stack sets to 6x
the function timeout, so the invocation that had it is over. A callback that raises, or whose
function dies mid-run (timeout, out of memory), leaves no record: the retry runs it again. It runs
at least once: whether an interrupted callback's FPT writes happened cannot be known, and running
it again is the daemon's behaviour after a crash too.

An "in progress" record (left by a version that wrote one before running) still holds the effect
until its deadline: `IdempotencyAlreadyInProgressError`, the record is retried.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

IDEMPOTENCY_TTL_SECONDS = 14 * 24 * 3600
COMPLETED = STATUS_CONSTANTS["COMPLETED"]
INPROGRESS = STATUS_CONSTANTS["INPROGRESS"]
STORE_ERRORS = (ClientError, BotoCoreError, IdempotencyPersistenceLayerError)


class LedgerUnavailable(RuntimeError):
    """The effect-once store could not be used; the message names it (e.g. a table that is not there)."""


class EffectLedger:
    """Runs a function at most once per effect key until it completes (see the module docstring).

    One persistence layer per key prefix: Powertools keeps the prefix on the layer itself.
    """

    def __init__(
        self,
        persistence: BasePersistenceLayer,
        key_prefix: str,
        expires_after_seconds: int = IDEMPOTENCY_TTL_SECONDS,
    ):
        config = IdempotencyConfig(
            expires_after_seconds=expires_after_seconds, raise_on_no_idempotency_key=True
        )
        persistence.configure(config, key_prefix=key_prefix)
        self._persistence = persistence
        table = getattr(persistence, "table_name", None)
        self._store = f"effect-once table {table!r} (IDEMPOTENCY_TABLE)" if table else "effect-once store"

    def run(self, effect: dict[str, Any], body: Callable[[], dict[str, Any]]) -> tuple[bool, dict[str, Any]]:
        """(ran, result): ran is False when the effect had already completed (result is the stored one).

        Raises what `body` raises (no record is kept), `IdempotencyAlreadyInProgressError` when an
        unexpired "in progress" record holds the effect, and `LedgerUnavailable` (naming the table)
        when the store fails.
        """
        record = self._record(effect)
        if record is not None and record.status == COMPLETED:
            return False, record.response_json_as_dict() or {}
        if record is not None and record.status == INPROGRESS:
            deadline = record.in_progress_expiry_timestamp
            if deadline is None or deadline > int(time.time() * 1000):
                raise IdempotencyAlreadyInProgressError(
                    f"effect {record.idempotency_key} is in progress in another execution"
                )
        result = body()
        try:
            self._persistence.save_success(effect, result)
        except STORE_ERRORS as exc:
            raise LedgerUnavailable(f"{self._store} failed to record a completion: {exc}") from exc
        return True, result

    def _record(self, effect: dict[str, Any]) -> DataRecord | None:
        try:
            return self._persistence.get_record(effect)
        except IdempotencyItemNotFoundError:
            return None
        except STORE_ERRORS as exc:
            raise LedgerUnavailable(f"{self._store} could not be read: {exc}") from exc


def dynamodb_persistence(table_name: str, client: DynamoDBClient | None = None) -> DynamoDBPersistenceLayer:
    """The DynamoDB store: partition key `id`, Powertools' default attribute names (TTL `expiration`)."""
    return DynamoDBPersistenceLayer(table_name=table_name, key_attr="id", boto3_client=client)


class InMemoryPersistenceLayer(BasePersistenceLayer):
    """The same conditions as the DynamoDB layer, in a dict (local runtime, tests, the authors' kit)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError from None

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        now = dt.datetime.now()
        if existing is not None:
            expired = existing.expiry_timestamp is not None and existing.expiry_timestamp < int(
                now.timestamp()
            )
            stale_in_progress = (
                existing.status == STATUS_CONSTANTS["INPROGRESS"]
                and existing.in_progress_expiry_timestamp is not None
                and existing.in_progress_expiry_timestamp < int(now.timestamp() * 1000)
            )
            if not (expired or stale_in_progress):
                raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)
