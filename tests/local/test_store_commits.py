"""LocalStore's commits: writers queued behind one share its transaction (one fsync), each returns
only once its changes are durable; reads see only what is committed; a delivery's effect-once
records commit with its settlement.

Interleavings are forced: a writer holds the connection (waits on an Event inside its write) until
the other is seen queued for it."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shotgun_events.dispatch import EffectLedger
from shotgun_events_tools.local.ledger import SqlitePersistenceLayer
from shotgun_events_tools.local.store import LocalStore, StoreError
from tests.local.test_store import SITE, message

EFFECT = {"site": SITE, "plugin": "a", "callback": "0:cb", "event_id": 1}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    with LocalStore(tmp_path / "store.sqlite", SITE) as opened:
        yield opened


def commits_of(store: LocalStore) -> list[str]:
    """The COMMIT statements the store's writers' connection runs from now on."""
    seen: list[str] = []
    store._db.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    return seen


def committed(store: LocalStore, key: str) -> bool:
    """Whether `key` is in `meta` for another connection (what is durable, not what is under way)."""
    with LocalStore(store.path, SITE, readonly=True) as view:
        return bool(view.query("SELECT 1 FROM meta WHERE key = ?", (key,)))


def until(condition: Callable[[], bool]) -> None:
    """Wait for a state the test forces (never decides the outcome: it fails if the state never comes)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the forced interleaving did not happen"
        time.sleep(0.001)


def write_key(
    store: LocalStore, key: str, seen: dict[str, bool], hold: threading.Event | None = None
) -> None:
    """Write `key` (holding the connection until `hold` is set); note whether it was durable on return."""
    with store.write() as db:
        db.execute("INSERT INTO meta (key, value) VALUES (?, 'x')", (key,))
        if hold is not None:
            hold.wait()
    seen[key] = committed(store, key)


@contextmanager
def queued_behind_a_write(
    store: LocalStore, seen: dict[str, bool], second: Callable[[], None]
) -> Iterator[None]:
    """A writer of "first" holds the connection until `second`, run in a thread, is queued for it;
    both have finished when the block starts."""
    hold = threading.Event()
    threads = [threading.Thread(target=write_key, args=(store, "first", seen, hold), daemon=True)]
    try:
        threads[0].start()
        until(lambda: store._open)  # the first writer holds the connection, its transaction open
        threads.append(threading.Thread(target=second, daemon=True))
        threads[1].start()
        until(lambda: store._queued == 1)  # the second waits for the connection
    finally:
        hold.set()
        for thread in threads:
            thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    yield


def test_a_writer_queued_behind_another_shares_its_commit_and_both_return_durable(store: LocalStore) -> None:
    commits = commits_of(store)
    seen: dict[str, bool] = {}
    with queued_behind_a_write(store, seen, lambda: write_key(store, "second", seen)):
        assert seen == {"first": True, "second": True}
        assert commits == ["COMMIT"]  # one transaction, one fsync, for both


def test_a_group_at_its_cap_commits_though_writers_queue_behind(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shotgun_events_tools.local.store.MAX_GROUPED_WRITES", 1)
    commits = commits_of(store)
    seen: dict[str, bool] = {}
    with queued_behind_a_write(store, seen, lambda: write_key(store, "second", seen)):
        assert seen == {"first": True, "second": True}
        assert commits == ["COMMIT", "COMMIT"]  # the first did not wait for the one queued behind


def test_a_failing_writer_in_a_group_takes_back_only_its_own_changes(store: LocalStore) -> None:
    seen: dict[str, bool] = {}
    errors: list[str] = []

    def failing() -> None:
        try:
            with store.write() as db:
                db.execute("INSERT INTO meta (key, value) VALUES ('failing', 'x')")
                raise RuntimeError("boom")
        except RuntimeError as exc:
            errors.append(str(exc))

    with queued_behind_a_write(store, seen, failing):
        assert errors == ["boom"] and seen == {"first": True}
        assert not committed(store, "failing")


def test_a_commit_that_fails_fails_every_writer_of_its_group(store: LocalStore) -> None:
    errors: list[str] = []

    def deny_commit(action: int, arg1: str | None, *_: object) -> int:
        refused = action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT"
        return sqlite3.SQLITE_DENY if refused else sqlite3.SQLITE_OK

    def attempt(key: str, hold: threading.Event | None = None) -> None:
        try:
            write_key(store, key, {}, hold)
        except StoreError as exc:
            errors.append(f"{key}: {exc}")

    store._db.set_authorizer(deny_commit)
    hold = threading.Event()
    first = threading.Thread(target=attempt, args=("first", hold), daemon=True)
    second = threading.Thread(target=attempt, args=("second",), daemon=True)
    try:
        first.start()
        until(lambda: store._open)
        second.start()
        until(lambda: store._queued == 1)
    finally:
        hold.set()
        first.join(10)
        second.join(10)
    assert sorted(e.split(":")[0] for e in errors) == ["first", "second"]  # neither returns as if durable
    assert all("not authorized" in e for e in errors)
    store._db.set_authorizer(None)
    assert not committed(store, "first") and not committed(store, "second")


def test_reads_see_what_is_committed_not_a_write_under_way(store: LocalStore) -> None:
    with store.write() as db:
        db.execute("INSERT INTO meta (key, value) VALUES ('under way', 'x')")
        assert store.query("SELECT 1 FROM meta WHERE key = 'under way'") == []
    assert store.query("SELECT 1 FROM meta WHERE key = 'under way'") != []


def test_a_deliverys_effect_record_commits_with_its_settlement(store: LocalStore) -> None:
    store.enqueue([("a", message(1))], now=0)
    (delivery,) = store.take_ready("a", limit=1, now=0)
    ledger = EffectLedger(SqlitePersistenceLayer(store), key_prefix="plugin.a")
    with LocalStore(store.path, SITE, readonly=True) as view, store.deferring():
        ran, _ = ledger.run(EFFECT, lambda: {"status": "completed"})
        assert ran and view.query("SELECT * FROM effects") == []  # not on its own
        commits = commits_of(store)
        store.complete(delivery, take_next=False)
        assert commits == ["COMMIT"]
        assert len(view.query("SELECT * FROM effects")) == 1 and view.pending_total() == 0
    ran, _ = ledger.run(EFFECT, lambda: {"status": "completed"})
    assert not ran  # the record is the one the ledger reads


def test_a_settlement_that_fails_takes_its_effect_record_back_with_it(store: LocalStore) -> None:
    ledger = EffectLedger(SqlitePersistenceLayer(store), key_prefix="plugin.a")
    with store.deferring():
        ledger.run(EFFECT, lambda: {"status": "completed"})
        with pytest.raises(RuntimeError), store.write():
            raise RuntimeError("the settlement failed")
    assert store.query("SELECT * FROM effects") == []  # the callback runs again: at least once


def test_records_no_settlement_took_are_written_when_the_delivery_ends(store: LocalStore) -> None:
    ledger = EffectLedger(SqlitePersistenceLayer(store), key_prefix="plugin.a")
    with store.deferring():
        ledger.run(EFFECT, lambda: {"status": "completed"})
    assert len(store.query("SELECT * FROM effects")) == 1
    ran, _ = ledger.run(EFFECT, lambda: {"status": "completed"})
    assert not ran


def test_an_earlier_callbacks_record_is_durable_before_the_next_callback_runs(store: LocalStore) -> None:
    ledger = EffectLedger(SqlitePersistenceLayer(store), key_prefix="plugin.a")
    seen_by_second: list[int] = []

    def second() -> dict[str, str]:
        with LocalStore(store.path, SITE, readonly=True) as view:  # what a crash now would leave
            seen_by_second.append(len(view.query("SELECT * FROM effects")))
        return {"status": "completed"}

    with store.deferring():
        ledger.run(EFFECT, lambda: {"status": "completed"})
        ledger.run({**EFFECT, "callback": "1:cb"}, second)
    assert seen_by_second == [1]  # the first callback's record: a crash in the second does not rerun it
