"""The effect-once ledger in the local store: a Powertools idempotency persistence layer on SQLite.

The dispatch core's `EffectLedger` runs on it unchanged: it reads a record (`_get_record`) before a
callback and writes the completion (`_update_record`, an upsert as DynamoDB's UpdateItem is) after
it. The conditional put (`_put_record`: only if there is no record, or it expired, or it is "in
progress" past its deadline, the DynamoDB layer's `ConditionExpression`, checked here inside one
write transaction) completes the Powertools layer.

A worker runs each delivery inside `LocalStore.deferring`: the completion records of its callbacks
are written in the transaction that settles the delivery (removes it, or schedules its retry), so
the record and the delivery's end commit together, one transaction and fsync instead of two, and no
crash can leave one without the other. Only the last callback's record waits for that: the read
before each callback writes the earlier callbacks' records first, so a crash in a later callback
does not run the completed ones again. A callback that completed, then the process died before its
record committed, runs again at the next start (at least once, as before this).

"In progress" records are what earlier versions wrote before each callback. One `run` holds the
store alone (its lock), so at start every such record belongs to a process that is gone:
`clear_in_progress` drops them, and those callbacks run again at once instead of waiting for a
deadline (they ran at least once; whether their writes happened cannot be known, as after a
Lambda timeout).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord

if TYPE_CHECKING:
    import sqlite3

    from shotgun_events_tools.local.store import LocalStore

INPROGRESS = STATUS_CONSTANTS["INPROGRESS"]


def _record(row: sqlite3.Row) -> DataRecord:
    return DataRecord(
        idempotency_key=row["id"],
        status=row["status"],
        expiry_timestamp=row["expiration"],
        in_progress_expiry_timestamp=row["in_progress_expiration"],
        response_data=row["data"] or "",
        payload_hash=row["validation"] or "",
    )


class SqlitePersistenceLayer(BasePersistenceLayer):
    """Idempotency records in the store's `effects` table. Use one per plugin: Powertools sets the
    key prefix on the layer itself."""

    def __init__(self, store: LocalStore):
        super().__init__()
        self._store = store

    def _get_record(self, idempotency_key: str) -> DataRecord:
        # Read before each callback runs: the delivery's earlier callbacks' records become durable
        # first, so a crash in this one does not run those again.
        self._store.write_deferred()
        rows = self._store.query("SELECT * FROM effects WHERE id = ?", (idempotency_key,))
        if not rows:
            raise IdempotencyItemNotFoundError
        return _record(rows[0])

    def _put_record(self, data_record: DataRecord) -> None:
        now = time.time()
        with self._store.write() as db:
            row = db.execute("SELECT * FROM effects WHERE id = ?", (data_record.idempotency_key,)).fetchone()
            if row is not None:
                expired = row["expiration"] is not None and row["expiration"] < int(now)
                stale = (
                    row["status"] == INPROGRESS
                    and row["in_progress_expiration"] is not None
                    and row["in_progress_expiration"] < int(now * 1000)
                )
                if not (expired or stale):
                    raise IdempotencyItemAlreadyExistsError(old_data_record=_record(row))
            db.execute(
                "INSERT OR REPLACE INTO effects (id, status, expiration, in_progress_expiration, data,"
                " validation) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    data_record.idempotency_key,
                    data_record.status,
                    data_record.expiry_timestamp,
                    data_record.in_progress_expiry_timestamp,
                    data_record.response_data or None,
                    data_record.payload_hash or None,
                ),
            )

    def _update_record(self, data_record: DataRecord) -> None:
        # An upsert, as DynamoDB's UpdateItem is; the in-progress deadline is left as it was. Deferred
        # to the worker's settlement of the delivery when there is one (see the module docstring).
        self._store.defer(
            "INSERT INTO effects (id, status, expiration, data, validation) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status, expiration = excluded.expiration,"
            " data = excluded.data, validation = excluded.validation",
            (
                data_record.idempotency_key,
                data_record.status,
                data_record.expiry_timestamp,
                data_record.response_data or None,
                data_record.payload_hash or None,
            ),
        )

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._store.write() as db:
            db.execute("DELETE FROM effects WHERE id = ?", (data_record.idempotency_key,))


def clear_in_progress(store: LocalStore) -> int:
    """Drop every "in progress" record (only safe while holding the store: see the module docstring)."""
    with store.write() as db:
        return db.execute("DELETE FROM effects WHERE status = ?", (INPROGRESS,)).rowcount


def prune_expired(store: LocalStore, now: float | None = None) -> int:
    """Drop records past their expiry (DynamoDB's TTL does this in the deployed stack)."""
    now = time.time() if now is None else now
    with store.write() as db:
        return db.execute("DELETE FROM effects WHERE expiration < ?", (int(now),)).rowcount
