"""LocalStore: the poller's StateStore semantics, the per-plugin queues, and files it must refuse."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shotgun_events.events import encode_event
from shotgun_events.poller.cursor import PollState
from shotgun_events.poller.state_store import StateConflict
from shotgun_events_tools.local.store import SCHEMA_VERSION, LocalStore, StoreError, StoreMissing
from tests.helpers import make_event

SITE = "https://studio.example.com"


def message(event_id: int, shot: int = 1):  # type: ignore[no-untyped-def]
    return encode_event(make_event(event_id, ("Shot", shot)))


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with LocalStore(tmp_path / "store.sqlite", SITE) as opened:
        yield opened


# -- StateStore: the same versioned semantics as DynamoDBStateStore ------------------------------------


def test_first_save_requires_absence_then_versions_increase(store: LocalStore) -> None:
    assert store.load() is None
    assert store.save(PollState(cursor=5, backlog={3: 100.0}), None) == 1
    assert store.save(PollState(cursor=9), 1) == 2
    loaded = store.load()
    assert loaded is not None and loaded.version == 2 and loaded.state == PollState(cursor=9)


def test_stale_writer_loses_and_state_does_not_go_back(store: LocalStore) -> None:
    store.save(PollState(cursor=10), None)
    store.save(PollState(cursor=50), 1)
    with pytest.raises(StateConflict):
        store.save(PollState(cursor=30), 1)
    with pytest.raises(StateConflict):
        store.save(PollState(cursor=1), None)
    loaded = store.load()
    assert loaded is not None and loaded.state.cursor == 50


def test_state_and_backlog_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    backlog = {i: 1_800_000_000.5 for i in range(100, 200)} | {7: 1_800_000_100.0}
    with LocalStore(path, SITE) as store:
        store.save(PollState(cursor=300, backlog=backlog), None)
        store.enqueue([("a", message(201))])
    with LocalStore(path, SITE) as store:
        loaded = store.load()
        assert loaded is not None
        assert loaded.state.backlog == {i: 1_800_000_001.0 for i in range(100, 200)} | {7: 1_800_000_100.0}
        assert [d.event_id for d in store.pending("a")] == [201]


# -- deliveries: a FIFO queue per plugin -----------------------------------------------------------------


def test_groups_run_in_order_and_a_waiting_head_holds_its_group(store: LocalStore) -> None:
    store.enqueue([("a", message(1, shot=1)), ("a", message(2, shot=1)), ("a", message(3, shot=2))], now=0)
    heads = store.take_ready("a", limit=10, now=1)
    assert [(d.event_id, d.attempts) for d in heads] == [(1, 1), (3, 1)]
    assert store.take_ready("a", limit=10, now=1) == []  # both heads are taken
    first = heads[0]
    store.retry_later(first, not_before=100, reason="boom")
    assert store.take_ready("a", limit=10, now=50) == []  # event 2 waits behind 1, event 3 is under way
    assert store.next_ready_at("a") == 100
    (again,) = store.take_ready("a", limit=10, now=100)
    assert (again.event_id, again.attempts, again.last_error) == (1, 2, "boom")
    following = store.complete(again, take_next=True, now=100)
    assert following is not None and following.event_id == 2


def test_dead_letter_lets_the_group_go_on_and_is_not_queued_again(store: LocalStore) -> None:
    store.enqueue([("a", message(1)), ("a", message(2)), ("b", message(1))], now=0)
    head = store.take_ready("a", limit=1, now=0)[0]
    following = store.dead_letter(head, "callback x failed", take_next=True, now=0)
    assert following is not None and following.event_id == 2
    assert store.enqueue([("a", message(1)), ("b", message(1))]) == 0  # a re-publish adds nothing
    (dead,) = store.dead_letters()
    assert (dead.plugin, dead.event_id, dead.attempts, dead.reason) == ("a", 1, 1, "callback x failed")
    assert [d.event_id for d in store.pending("b")] == [1]  # plugin b is untouched


def test_interrupted_deliveries_run_again_until_their_last_attempt(store: LocalStore) -> None:
    store.enqueue([("a", message(1, shot=1)), ("a", message(2, shot=2))], now=0)
    store.take_ready("a", limit=10, now=0)  # both under way when the process dies
    assert {d.event_id for d in store.in_flight()} == {1, 2}
    again, dead = store.recover_interrupted(max_attempts=2)
    assert [d.event_id for d in again] == [1, 2] and dead == []
    store.take_ready("a", limit=1, now=0)  # event 1's second attempt dies too
    again, dead = store.recover_interrupted(max_attempts=2)
    assert again == [] and [d.event_id for d in dead] == [1]
    assert "the process stopped while it ran its last attempt (of 2)" in store.dead_letters()[0].reason
    assert store.in_flight() == []


def test_finished_through_is_the_lowest_event_still_waiting(store: LocalStore) -> None:
    assert store.finished_through() is None
    store.save(PollState(cursor=40), None)
    assert store.finished_through() == 40
    store.save(PollState(cursor=40, backlog={35: 1e10}), 1)  # event 35 has not arrived yet
    assert store.finished_through() == 34
    store.enqueue([("a", message(12)), ("b", message(30))])
    assert store.finished_through() == 11


# -- pause flags: a paused plugin is taken nothing from -----------------------------------------------------


def test_a_paused_plugin_takes_nothing_new_and_resumed_goes_on_in_order(store: LocalStore) -> None:
    store.enqueue([("a", message(1, shot=1)), ("a", message(2, shot=1)), ("a", message(3, shot=2))], now=0)
    store.enqueue([("b", message(1, shot=1)), ("b", message(2, shot=1))], now=0)
    (running,) = store.take_ready("a", limit=1, now=0)  # under way when the pause comes
    assert store.set_paused("a", True) is True
    assert store.set_paused("a", True) is False  # already paused
    assert store.paused_plugins() == {"a"}
    assert store.take_ready("a", limit=10, now=0) == [] and store.next_ready_at("a") is None
    assert store.complete(running, take_next=True, now=0) is None  # it finishes; its group stops there
    (other,) = store.take_ready("b", limit=10, now=0)  # another plugin goes on
    following = store.complete(other, take_next=True, now=0)
    assert following is not None and following.event_id == 2
    assert [d.event_id for d in store.pending("a")] == [2, 3] and store.in_flight() == [following]

    assert store.set_paused("a", False) is True
    assert store.set_paused("a", False) is False  # already running
    assert store.paused_plugins() == set()
    assert [(d.event_id, d.attempts) for d in store.take_ready("a", limit=10, now=0)] == [(2, 1), (3, 1)]


def test_a_pause_is_written_beside_the_run_that_holds_the_store(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with LocalStore(path, SITE) as held:  # `run` holds it
        held.enqueue([("a", message(1))], now=0)
        with LocalStore(path, SITE, shared=True) as operator:
            assert operator.set_paused("a", True) is True
        assert held.take_ready("a", limit=10, now=0) == []
        with LocalStore(path, SITE, readonly=True) as reader:
            assert reader.paused_plugins() == {"a"}
    with pytest.raises(StoreMissing):  # beside a run, a store is never created
        LocalStore(tmp_path / "none.sqlite", SITE, shared=True)
    assert not (tmp_path / "none.sqlite").exists()


def schema_1_store(path: Path) -> Path:
    """The store `store_v1.sql` holds (written by shotgun-events before the pause flags), as a file."""
    with sqlite3.connect(path) as db:
        db.executescript((Path(__file__).parent / "store_v1.sql").read_text(encoding="utf-8"))
    db.close()
    return path


def test_a_schema_1_store_is_read_as_it_is_and_upgraded_when_opened_with_the_lock(tmp_path: Path) -> None:
    path = schema_1_store(tmp_path / "store.sqlite")
    with LocalStore(path, SITE, readonly=True) as reader:  # a reader changes nothing
        assert reader.paused_plugins() == set()
        assert [d.event_id for d in reader.pending("a")] == [7, 8, 9, 10]
    with pytest.raises(StoreError, match="held by a run of an older shotgun-events"):
        LocalStore(path, SITE, shared=True)  # the run holding it would not read a pause
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()

    with LocalStore(path, SITE) as store:  # as `run` opens it
        loaded = store.load()
        assert loaded is not None and loaded.state == PollState(cursor=12, backlog={11: 1_800_000_000.0})
        assert [d.event_id for d in store.pending("b")] == [8, 9, 10]
        assert [(d.plugin, d.event_id) for d in store.dead_letters()] == [("b", 7)]
        assert store.set_paused("a", True) is True
        assert store.take_ready("a", limit=10, now=2e9) == []
        assert [d.event_id for d in store.take_ready("b", limit=10, now=2e9)] == [8, 9]
    with LocalStore(path, SITE, shared=True) as operator:  # upgraded: a later pause works beside a run
        assert operator.paused_plugins() == {"a"} and operator.set_paused("a", False) is True
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_store_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    LocalStore(path, SITE).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match=f"has schema version {SCHEMA_VERSION + 1}; this shotgun-events"):
        LocalStore(path, SITE)


# -- files it must refuse, with one clear error ----------------------------------------------------------


def test_a_second_run_on_the_same_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with LocalStore(path, SITE), pytest.raises(StoreError, match="in use by another shotgun-events run"):
        LocalStore(path, SITE)
    with LocalStore(path, SITE), LocalStore(path, SITE, readonly=True) as reader:  # readers may look
        assert reader.load() is None


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"not a database at all\n" * 10, "not a shotgun-events store"),
        (b"SQLite format 3\x00" + b"\xff" * 200, "corrupt or unreadable"),
    ],
)
def test_a_foreign_or_corrupt_file_is_named_and_left_alone(
    tmp_path: Path, content: bytes, error: str
) -> None:
    path = tmp_path / "store.sqlite"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=error):
        LocalStore(path, SITE)
    assert path.read_bytes() == content


def test_another_sqlite_database_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE things (x)")
    with pytest.raises(StoreError, match="an SQLite database but not a shotgun-events store"):
        LocalStore(path, SITE)


def test_a_truncated_store_is_named(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with LocalStore(path, SITE) as store:
        store.enqueue([("a", message(i, shot=i)) for i in range(1, 400)])
        store.save(PollState(cursor=400), None)
    with sqlite3.connect(path) as db:  # fold the WAL into the file, then cut the file short
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    # Found on opening, or on the first read at the latest.
    with pytest.raises(StoreError, match=r"corrupt|failed"), LocalStore(path, SITE) as store:
        store.pending()
        store.load()


def test_a_store_of_another_site_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    LocalStore(path, SITE).close()
    with pytest.raises(StoreError, match=r"belongs to site https://studio\.example\.com"):
        LocalStore(path, "https://other.example.com")
