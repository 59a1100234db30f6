"""The local store of `shotgun-events run`: one SQLite file holding what the AWS stack keeps in
DynamoDB and SQS (cursor and backlog, the effect-once ledger, each plugin's pending deliveries and
its dead letters), so a restart continues where the last run stopped.

Every write is one transaction (WAL journal, `synchronous=FULL`: a commit survives a crash of the
process and of the machine), and returns once committed. Writes that queue for the connection while
one commits share the next transaction (group commit: one fsync for all of them, each in a savepoint
of its own); reads use a connection of their own, so they see only what is committed and do not wait
for a commit. The file is marked with SQLite's `application_id` and a schema
version, and belongs to one site: opening anything else is one `StoreError` naming what is wrong.
One `run` holds a store at a time (an exclusive lock on `<store>.lock`); readers (tests, operator
commands) may open it read-only while it runs. A store of an older schema version is upgraded, in one
transaction, when it is opened with the lock; read-only it is read as it is.

Deliveries are the local stand-in for a plugin's SQS FIFO queue: one row per (plugin, event), in
its message group (the event's entity). A group's lowest event is its head; only a ready head
(`not_before` passed) is taken, so one entity's events run in order. Taking a delivery counts an
attempt first (as SQS counts a receive), so a callback that kills the process every time still
ends in the dead letters after the last attempt instead of looping forever.

An operator pauses a plugin (`shotgun-events pause --local`) with a row in `paused_plugins`, written
beside the `run` that holds the store (`shared=True`: no lock, nothing else changed). The queries that
take a plugin's deliveries read that table in their own transaction, so once a pause commits the
plugin takes nothing new (what it runs already finishes) and its events wait in order; resumed, its
next look for work finds them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from shotgun_events.events import EventMessage
from shotgun_events.poller.cursor import PollState
from shotgun_events.poller.state_store import (
    StateConflict,
    StateCorrupt,
    VersionedState,
    decode_backlog,
    encode_backlog,
    state_key,
)

APPLICATION_ID = 0x53474576  # "SGEv" in the file header: this file is a shotgun-events local store
SCHEMA_VERSION = 2
SQLITE_MAGIC = b"SQLite format 3\x00"
REASON_CHARS = 2000

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE poller_state (
    pk TEXT PRIMARY KEY, cursor INTEGER NOT NULL, backlog TEXT NOT NULL,
    version INTEGER NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE deliveries (
    plugin TEXT NOT NULL, event_id INTEGER NOT NULL, group_id TEXT NOT NULL,
    message_id TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT NOT NULL,
    enqueued_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, not_before REAL NOT NULL,
    started_at REAL, last_error TEXT,
    PRIMARY KEY (plugin, event_id)
);
CREATE INDEX deliveries_by_group ON deliveries (plugin, group_id, event_id);
CREATE TABLE dead_letters (
    plugin TEXT NOT NULL, event_id INTEGER NOT NULL, group_id TEXT NOT NULL,
    message_id TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT NOT NULL,
    enqueued_at REAL NOT NULL, attempts INTEGER NOT NULL, reason TEXT NOT NULL, dead_at REAL NOT NULL,
    PRIMARY KEY (plugin, event_id)
);
CREATE TABLE effects (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, expiration INTEGER,
    in_progress_expiration INTEGER, data TEXT, validation TEXT
);
CREATE INDEX effects_by_expiration ON effects (expiration);
"""
# What each later schema version adds to the one before (SCHEMA is version 1): a new store gets them
# all, an older one the ones it lacks.
UPGRADES = {
    2: "CREATE TABLE paused_plugins (plugin TEXT PRIMARY KEY, paused_at REAL NOT NULL);",
}

# A paused plugin has no heads: nothing of it is taken while its row is there.
_NOT_PAUSED = "NOT EXISTS (SELECT 1 FROM paused_plugins WHERE plugin = :plugin)"
_HEADS = f"""
SELECT d.* FROM deliveries AS d
JOIN (SELECT group_id, MIN(event_id) AS head FROM deliveries
      WHERE plugin = :plugin AND {_NOT_PAUSED} GROUP BY group_id) AS h
  ON d.plugin = :plugin AND d.group_id = h.group_id AND d.event_id = h.head
"""
_COLUMNS = "plugin, event_id, group_id, message_id, body, attributes, enqueued_at"


MAX_GROUPED_WRITES = 64  # writes one commit may hold (see `LocalStore.write`)


class StoreError(RuntimeError):
    """The store cannot be used (foreign, corrupt, in use, another site's); the message says why."""


class StoreInUse(StoreError):
    """Another process (a running `run`) holds the store's lock."""


class StoreMissing(StoreError):
    """A reader found no store (yet): no file, or one whose creation has not committed."""


@dataclass(frozen=True)
class Delivery:
    """One event waiting for (or being run by) one plugin: a message in its local queue."""

    plugin: str
    event_id: int
    group_id: str
    message_id: str
    body: str
    attributes: dict[str, str]
    enqueued_at: float
    attempts: int  # attempts started, this one included once taken
    last_error: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    plugin: str
    event_id: int
    group_id: str
    attempts: int
    reason: str
    dead_at: float
    body: str


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        plugin=row["plugin"],
        event_id=row["event_id"],
        group_id=row["group_id"],
        message_id=row["message_id"],
        body=row["body"],
        attributes=json.loads(row["attributes"]),
        enqueued_at=row["enqueued_at"],
        attempts=row["attempts"],
        last_error=row["last_error"],
    )


class _Lock:
    """An exclusive, non-blocking lock on `<store>.lock`, released when the process ends (even killed)."""

    def __init__(self, path: Path):
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        store = self.path.with_suffix("")
        try:
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        except OSError as exc:
            raise StoreError(f"cannot open store {store}: {exc.strerror}") from None
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise StoreInUse(
                f"store {store} is in use by another shotgun-events run (pid {holder})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the lock
            self._file = None


class LocalStore:
    """The local store (see the module docstring). Thread-safe: one connection behind a lock.

    Implements the poller's `StateStore` (`load`, `save`) with the same versioned semantics as
    `DynamoDBStateStore`; `shotgun_events_tools.local.ledger` keeps the effect-once records in it.

    `readonly`: read only, beside a `run`. `shared`: writable without the lock, beside the `run` that
    holds it, for the pause flags alone (it neither creates nor upgrades a store).
    """

    def __init__(self, path: str | Path, site: str, *, readonly: bool = False, shared: bool = False):
        self.path = Path(path)
        self.site = site
        self.readonly = readonly
        self.shared = shared
        self._key = state_key(site)
        self._mutex = threading.RLock()
        # Group commit (see `write`): the transaction open now, the writers queued for the connection,
        # the commits done so far (each wakes the writers whose changes it holds) and those that failed.
        self._committed = threading.Condition(self._mutex)
        self._open = False
        self._grouped = 0  # writers in the open transaction
        self._depth = 0
        self._queued = 0
        self._queue_lock = threading.Lock()
        self._commits = 0
        self._failed_commits: dict[int, str] = {}
        self._thread = threading.local()  # per thread: statements deferred to its next write (`defer`)
        self._lock = _Lock(Path(f"{self.path}.lock"))
        if not (readonly or shared):
            self._lock.acquire()
        try:
            self._db = self._connect()
        except BaseException:
            self._lock.release()
            raise
        # Reads on a connection of their own: they see what is committed, and do not wait for the
        # writers' connection while it commits (an fsync).
        self._reads, self._read_mutex = self._db, self._mutex
        if not readonly:
            self._reads, self._read_mutex = self._read_only_connection(), threading.RLock()

    def _read_only_connection(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        db.row_factory = sqlite3.Row
        return db

    # -- opening -------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise StoreError(f"store {self.path} is a directory, not a file")
        exists = self.path.exists() and self.path.stat().st_size > 0
        if (self.readonly or self.shared) and not exists:
            raise StoreMissing(f"no store at {self.path}")
        if exists:
            with open(self.path, "rb") as handle:
                if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                    raise StoreError(f"{self.path} is not a shotgun-events store (not an SQLite database)")
        try:
            if self.readonly:
                db = self._read_only_connection()
            else:
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
                db.row_factory = sqlite3.Row
            self._check_or_create(db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path} is corrupt or unreadable ({exc})") from None
        return db

    def _check_or_create(self, db: sqlite3.Connection) -> None:
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        owner = not (self.readonly or self.shared)
        if application_id == 0 and tables == 0 and owner:
            db.execute("PRAGMA journal_mode = WAL")
            # One transaction: a crash while creating leaves an empty file, never half a schema.
            db.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA} {' '.join(UPGRADES.values())}"
                f" PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
            )
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("site", self.site), ("created_at", datetime.now(UTC).isoformat())],
            )
            db.execute("COMMIT")
        elif application_id == 0 and tables == 0:
            raise StoreMissing(f"no store at {self.path} (the file is empty or still being created)")
        elif application_id != APPLICATION_ID:
            raise StoreError(f"{self.path} is an SQLite database but not a shotgun-events store")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if not 1 <= version <= SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}; "
                f"this shotgun-events reads 1 to {SCHEMA_VERSION}"
            )
        if version < SCHEMA_VERSION and self.shared:
            # The `run` holding it is older than this shotgun-events: it would not read the flag.
            raise StoreError(
                f"store {self.path} is held by a run of an older shotgun-events (schema version {version}), "
                "which cannot pause one plugin: restart it with this version (which upgrades the store)"
            )
        row = db.execute("SELECT value FROM meta WHERE key = 'site'").fetchone()
        if row is None:
            raise StoreError(f"store {self.path} names no site: it is damaged")
        if row[0] != self.site:
            raise StoreError(f"store {self.path} belongs to site {row[0]}, not {self.site}")
        if not self.readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
        if version < SCHEMA_VERSION and owner:
            self._upgrade(db, version)
        # A page that does not decode shows here rather than in the middle of a run.
        db.execute("SELECT count(*) FROM poller_state").fetchone()

    @staticmethod
    def _upgrade(db: sqlite3.Connection, version: int) -> None:
        """Add what the versions after `version` add, in one transaction (the lock is held)."""
        added = " ".join(sql for number, sql in sorted(UPGRADES.items()) if number > version)
        try:
            db.executescript(f"BEGIN IMMEDIATE; {added} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        except BaseException:
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._mutex:
            if self._open:  # a group whose last writer has not committed it yet (never left half-done)
                self._commit()
            self._db.close()
        with self._read_mutex:
            self._reads.close()
        self._lock.release()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------------------

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """A failing database (corrupt, disk full, unreadable) as one `StoreError` naming the store."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path} failed: {exc}") from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none; durable once this returns.

        Group commit: writers that queue for the connection while another holds it (its commit's
        fsync, mostly) join one SQLite transaction, each in a savepoint of its own (a failing one takes
        back only its own changes), and the last of them commits for all: one fsync for the group.
        Each returns only after the commit that holds its changes (or raises that commit's error).
        A reader on this connection may see a group's changes before they commit; each writer acts on
        what it wrote only after. Statements this thread deferred (`defer`) go first, in the same
        transaction.
        """
        if self.readonly:
            raise StoreError(f"store {self.path} is open read-only")
        with self._queue_lock:
            self._queued += 1
        with self._mutex, self._failures():
            with self._queue_lock:
                self._queued -= 1
            if self._depth:  # nested in this thread's write: part of it
                with self._savepoint():
                    yield self._db
                return
            if not self._open:
                self._db.execute("BEGIN IMMEDIATE")
                self._open, self._grouped = True, 0
            self._grouped += 1
            commit = self._commits
            self._depth = 1
            try:
                with self._savepoint():
                    for sql, params in self._take_deferred():
                        self._db.execute(sql, params)
                    yield self._db
            finally:
                self._depth = 0
                self._finish(commit)

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        self._db.execute("SAVEPOINT write")
        try:
            yield
        except BaseException:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK TO write")
                self._db.execute("RELEASE write")
            raise
        self._db.execute("RELEASE write")

    def _finish(self, commit: int) -> None:
        """Commit the group, or leave that to a writer queued behind (it joins it) and wait for it."""
        with self._queue_lock:
            queued = self._queued
        # The cap: while writers keep queueing, the first of a group must not wait without end.
        if queued == 0 or self._grouped >= MAX_GROUPED_WRITES:
            self._commit()
        while self._commits == commit:
            self._committed.wait()
        failure = self._failed_commits.get(commit)
        if failure is not None:
            raise StoreError(f"store {self.path} failed: {failure}")

    def _commit(self) -> None:
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            self._failed_commits[self._commits] = str(exc)
        finally:
            self._open = False
            self._commits += 1
            self._committed.notify_all()

    @contextmanager
    def deferring(self) -> Iterator[None]:
        """Within this (in this thread), `defer` keeps statements for the thread's next `write`, so
        they commit together with it; what no write took is written when this ends."""
        self._thread.deferred = []
        try:
            yield
        finally:
            try:
                self.write_deferred()
            finally:
                self._thread.deferred = None

    def write_deferred(self) -> None:
        """Write now, in a transaction of their own, the statements this thread deferred (if any)."""
        left = self._take_deferred()
        if left:
            with self.write() as db:
                for sql, params in left:
                    db.execute(sql, params)

    def defer(self, sql: str, params: Sequence[Any]) -> None:
        """`sql` in this thread's next write transaction inside `deferring`, else in one of its own now."""
        deferred: list[tuple[str, Sequence[Any]]] | None = getattr(self._thread, "deferred", None)
        if deferred is None:
            with self.write() as db:
                db.execute(sql, params)
        else:
            deferred.append((sql, params))

    def _take_deferred(self) -> list[tuple[str, Sequence[Any]]]:
        deferred: list[tuple[str, Sequence[Any]]] | None = getattr(self._thread, "deferred", None)
        if not deferred:
            return []
        taken = list(deferred)
        deferred.clear()
        return taken

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Read what is committed (on the readers' connection: see `__init__`)."""
        with self._read_mutex, self._failures():
            return self._reads.execute(sql, params).fetchall()

    # -- the poller's StateStore ---------------------------------------------------------------------

    def load(self) -> VersionedState | None:
        rows = self.query("SELECT cursor, backlog, version FROM poller_state WHERE pk = ?", (self._key,))
        if not rows:
            return None
        try:
            state = PollState(cursor=int(rows[0]["cursor"]), backlog=decode_backlog(rows[0]["backlog"]))
            return VersionedState(state=state, version=int(rows[0]["version"]))
        except (ValueError, TypeError, AttributeError) as exc:
            raise StateCorrupt(
                f"poller state in store {self.path} is malformed ({type(exc).__name__}: {exc})"
            ) from None

    def save(self, state: PollState, expected_version: int | None) -> int:
        """Write `state` if nobody wrote since `expected_version` (None: there must be no state yet)."""
        with self.write() as db:
            row = db.execute("SELECT version FROM poller_state WHERE pk = ?", (self._key,)).fetchone()
            stored = None if row is None else int(row[0])
            if stored != expected_version:
                raise StateConflict(
                    f"poller state in store {self.path} changed since version {expected_version}"
                    " (another poller wrote it)"
                )
            version = (expected_version or 0) + 1
            db.execute(
                "INSERT OR REPLACE INTO poller_state (pk, cursor, backlog, version, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    self._key,
                    state.cursor,
                    encode_backlog(state.backlog),
                    version,
                    datetime.now(UTC).isoformat(),
                ),
            )
        return version

    # -- deliveries ----------------------------------------------------------------------------------

    def enqueue(self, routed: Iterable[tuple[str, EventMessage]], now: float | None = None) -> int:
        """Add each (plugin, message) once, in one transaction; the number added.

        A delivery already pending is kept as it is (a re-publish after a crash, as FIFO dedup drops
        it), and an event already dead-lettered for that plugin is not queued again.
        """
        now = time.time() if now is None else now
        added = 0
        with self.write() as db:
            for plugin, message in routed:
                cursor = db.execute(
                    f"INSERT OR IGNORE INTO deliveries ({_COLUMNS}, not_before)"
                    " SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS"
                    " (SELECT 1 FROM dead_letters WHERE plugin = ? AND event_id = ?)",
                    (
                        plugin,
                        message.event_id,
                        message.group_id,
                        str(uuid.uuid4()),
                        message.body,
                        json.dumps(message.attributes, sort_keys=True),
                        now,
                        now,
                        plugin,
                        message.event_id,
                    ),
                )
                added += cursor.rowcount
        return added

    def take_ready(self, plugin: str, limit: int, now: float | None = None) -> list[Delivery]:
        """Up to `limit` ready group heads of `plugin` not under way, oldest first, each charged one
        attempt and marked started (until it is settled, its group gives out nothing else)."""
        now = time.time() if now is None else now
        if limit <= 0:
            return []
        with self.write() as db:
            rows = db.execute(
                f"{_HEADS} WHERE d.started_at IS NULL AND d.not_before <= :now"
                " ORDER BY d.event_id LIMIT :limit",
                {"plugin": plugin, "now": now, "limit": limit},
            ).fetchall()
            return [self._start(db, row, now) for row in rows]

    def next_ready_at(self, plugin: str) -> float | None:
        """When the earliest group head of `plugin` not under way is ready (None: there is none)."""
        rows = self.query(
            f"SELECT MIN(d.not_before) FROM ({_HEADS}) AS d WHERE d.started_at IS NULL", {"plugin": plugin}
        )
        value = rows[0][0] if rows else None
        return None if value is None else float(value)

    @staticmethod
    def _start(db: sqlite3.Connection, row: sqlite3.Row, now: float) -> Delivery:
        db.execute(
            "UPDATE deliveries SET attempts = attempts + 1, started_at = ? WHERE plugin = ? AND event_id = ?",
            (now, row["plugin"], row["event_id"]),
        )
        taken = _delivery(row)
        return Delivery(**{**taken.__dict__, "attempts": taken.attempts + 1})

    def complete(self, delivery: Delivery, take_next: bool, now: float | None = None) -> Delivery | None:
        """The plugin finished `delivery`: remove it; with `take_next`, take its group's next event
        when that is ready, in the same transaction."""
        now = time.time() if now is None else now
        with self.write() as db:
            db.execute(
                "DELETE FROM deliveries WHERE plugin = ? AND event_id = ?",
                (delivery.plugin, delivery.event_id),
            )
            return self._next_in_group(db, delivery, now) if take_next else None

    def retry_later(self, delivery: Delivery, not_before: float, reason: str) -> None:
        with self.write() as db:
            db.execute(
                "UPDATE deliveries SET started_at = NULL, not_before = ?, last_error = ?"
                " WHERE plugin = ? AND event_id = ?",
                (not_before, reason[:REASON_CHARS], delivery.plugin, delivery.event_id),
            )

    def dead_letter(
        self, delivery: Delivery, reason: str, take_next: bool = False, now: float | None = None
    ) -> Delivery | None:
        """Move `delivery` to the plugin's dead letters; optionally take its group's next event."""
        now = time.time() if now is None else now
        with self.write() as db:
            self._move_to_dead_letters(db, delivery.plugin, delivery.event_id, reason, now)
            return self._next_in_group(db, delivery, now) if take_next else None

    @staticmethod
    def _move_to_dead_letters(
        db: sqlite3.Connection, plugin: str, event_id: int, reason: str, now: float
    ) -> None:
        db.execute(
            f"INSERT OR REPLACE INTO dead_letters ({_COLUMNS}, attempts, reason, dead_at)"
            f" SELECT {_COLUMNS}, attempts, ?, ? FROM deliveries WHERE plugin = ? AND event_id = ?",
            (reason[:REASON_CHARS], now, plugin, event_id),
        )
        db.execute("DELETE FROM deliveries WHERE plugin = ? AND event_id = ?", (plugin, event_id))

    def _next_in_group(self, db: sqlite3.Connection, delivery: Delivery, now: float) -> Delivery | None:
        row = db.execute(
            f"SELECT * FROM deliveries WHERE plugin = :plugin AND group_id = :group AND {_NOT_PAUSED}"
            " ORDER BY event_id LIMIT 1",
            {"plugin": delivery.plugin, "group": delivery.group_id},
        ).fetchone()
        if row is None or row["not_before"] > now:
            return None
        return self._start(db, row, now)

    def recover_interrupted(
        self, max_attempts: int, now: float | None = None
    ) -> tuple[list[Delivery], list[Delivery]]:
        """After the last run stopped without finishing them: (deliveries that run again, those that
        had used their last attempt and are dead-lettered now)."""
        now = time.time() if now is None else now
        with self.write() as db:
            rows = db.execute(
                "SELECT * FROM deliveries WHERE started_at IS NOT NULL ORDER BY event_id"
            ).fetchall()
            again, dead = [], []
            for row in rows:
                delivery = _delivery(row)
                if delivery.attempts >= max_attempts:
                    stopped = f"the process stopped while it ran its last attempt (of {delivery.attempts})"
                    reason = f"{delivery.last_error}; then {stopped}" if delivery.last_error else stopped
                    self._move_to_dead_letters(db, delivery.plugin, delivery.event_id, reason, now)
                    dead.append(delivery)
                else:
                    db.execute(
                        "UPDATE deliveries SET started_at = NULL WHERE plugin = ? AND event_id = ?",
                        (delivery.plugin, delivery.event_id),
                    )
                    again.append(delivery)
        return again, dead

    # -- pause flags ---------------------------------------------------------------------------------

    def set_paused(self, plugin: str, paused: bool, now: float | None = None) -> bool:
        """Pause (or resume) taking `plugin`'s deliveries; False when it already was so."""
        with self.write() as db:
            if paused:
                changed = db.execute(
                    "INSERT OR IGNORE INTO paused_plugins (plugin, paused_at) VALUES (?, ?)",
                    (plugin, time.time() if now is None else now),
                )
            else:
                changed = db.execute("DELETE FROM paused_plugins WHERE plugin = ?", (plugin,))
            return changed.rowcount == 1

    def paused_plugins(self) -> set[str]:
        """The plugins paused now (none in a store older than the flags, read as it is)."""
        flags = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'paused_plugins'"
        if not self.query(flags):
            return set()
        return {r[0] for r in self.query("SELECT plugin FROM paused_plugins")}

    # -- reading -------------------------------------------------------------------------------------

    def pending(self, plugin: str | None = None) -> list[Delivery]:
        """Deliveries not finished yet, in event order (one plugin's, or all)."""
        if plugin is None:
            rows = self.query("SELECT * FROM deliveries ORDER BY event_id, plugin")
        else:
            rows = self.query("SELECT * FROM deliveries WHERE plugin = ? ORDER BY event_id", (plugin,))
        return [_delivery(r) for r in rows]

    def in_flight(self) -> list[Delivery]:
        """Deliveries taken and not settled: what a run was doing when it stopped."""
        return [_delivery(r) for r in self.query("SELECT * FROM deliveries WHERE started_at IS NOT NULL")]

    def pending_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.query("SELECT plugin, count(*) FROM deliveries GROUP BY plugin")}

    def pending_total(self) -> int:
        return int(self.query("SELECT count(*) FROM deliveries")[0][0])

    def dead_letters(self, plugin: str | None = None) -> list[DeadLetter]:
        sql = (
            "SELECT * FROM dead_letters"
            + (" WHERE plugin = ?" if plugin else "")
            + " ORDER BY event_id, plugin"
        )
        return [
            DeadLetter(
                plugin=r["plugin"],
                event_id=r["event_id"],
                group_id=r["group_id"],
                attempts=r["attempts"],
                reason=r["reason"],
                dead_at=r["dead_at"],
                body=r["body"],
            )
            for r in self.query(sql, (plugin,) if plugin else ())
        ]

    def finished_through(self) -> int | None:
        """The highest event id up to which every plugin has finished or dead-lettered every event
        (None before the first start): below the lowest one waiting, and below the lowest id the
        poller still waits for (its backlog)."""
        loaded = self.load()
        if loaded is None:
            return None
        lowest = self.query("SELECT MIN(event_id) FROM deliveries")[0][0]
        bounds = [loaded.state.cursor, *(i - 1 for i in loaded.state.backlog)]
        if lowest is not None:
            bounds.append(int(lowest) - 1)
        return min(bounds)
