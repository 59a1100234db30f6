"""Effect once: a record of each (plugin, callback, event id) that completed.

Built on Powertools idempotency (`idempotent_function`), with DynamoDB in Lambda (table with
partition key `id`) or memory elsewhere. A callback that raises leaves no record (Powertools deletes
its "in progress" marker), so it runs again on the retry; one that completed is not run again
for `expires_after_seconds` (14 days, SQS's longest retention, so anything still queued or
redriven from a DLQ is covered).

"In progress" after a crash: while a callback runs, its record is INPROGRESS with an expiry equal
to the invocation's deadline (the Lambda context's remaining time, or `DEFAULT_DEADLINE_MS`
outside Lambda). If the function dies mid-callback (timeout, out of memory), a redelivery before
that deadline fails with "already in progress" and is retried later; after it, the callback runs
again. So a callback interrupted mid-run runs at least once more: whether its FPT writes happened
cannot be known, and running again is the daemon's behaviour after a crash too. With the queue's
visibility timeout at least the function timeout (6x is AWS's advice), the redelivery normally
arrives after the deadline and simply runs.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

IDEMPOTENCY_TTL_SECONDS = 14 * 24 * 3600
DEFAULT_DEADLINE_MS = 15 * 60 * 1000  # Lambda's longest timeout


class _Deadline:
    """Stands in for a Lambda context outside Lambda: a fixed time budget from now."""

    def __init__(self, millis: int):
        self._deadline = time.monotonic() + millis / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LedgerUnavailable(RuntimeError):
    """The effect-once store could not be used; the message names it (e.g. a table that is not there)."""


class EffectLedger:
    """Runs a function at most once per effect key until it completes (see the module docstring)."""

    def __init__(
        self,
        persistence: BasePersistenceLayer,
        key_prefix: str,
        expires_after_seconds: int = IDEMPOTENCY_TTL_SECONDS,
    ):
        self._config = IdempotencyConfig(
            expires_after_seconds=expires_after_seconds,
            raise_on_no_idempotency_key=True,
        )
        self._run = idempotent_function(
            self._call,
            data_keyword_argument="effect",
            persistence_store=persistence,
            config=self._config,
            key_prefix=key_prefix,
        )

        self._lambda_context: LambdaContext | None = None
        table = getattr(persistence, "table_name", None)
        self._store = f"effect-once table {table!r} (IDEMPOTENCY_TABLE)" if table else "effect-once store"

    def start_invocation(self, context: LambdaContext | None) -> None:
        """Bind "in progress" expiry to this invocation's deadline (None: outside Lambda)."""
        self._lambda_context = context

    @staticmethod
    def _call(*, effect: dict[str, Any], body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return body()

    def run(self, effect: dict[str, Any], body: Callable[[], dict[str, Any]]) -> tuple[bool, dict[str, Any]]:
        """(ran, result): ran is False when the effect had already completed (result is the stored one).

        Raises what `body` raises (no record is kept), `IdempotencyAlreadyInProgressError` when another
        execution holds the effect, `LedgerUnavailable` (naming the table) when the store fails.
        """
        ran = False

        def tracked() -> dict[str, Any]:
            nonlocal ran
            ran = True
            return body()

        deadline = self._lambda_context or _Deadline(DEFAULT_DEADLINE_MS)
        self._config.register_lambda_context(cast("LambdaContext", deadline))
        try:
            result = self._run(effect=effect, body=tracked)
        except IdempotencyPersistenceLayerError as exc:
            raise LedgerUnavailable(f"{self._store} failed: {exc}") from exc
        return ran, result if isinstance(result, dict) else {}


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
