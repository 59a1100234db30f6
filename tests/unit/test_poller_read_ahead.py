"""Reading ahead while catching up: the next page is read while this one is published and committed.

On fakes and a fake clock. Where overlap matters it is forced (a publisher that waits for the
read ahead), never left to timing; every wait has a timeout so a broken poller fails, not hangs.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shotgun_events.config import PollerConfig
from shotgun_events.events import Event, EventMessage
from shotgun_events.fpt import FptError
from shotgun_events.poller import PollerDeps, initialise, poll
from shotgun_events.poller.core import ReadAhead
from shotgun_events.poller.cursor import PollState
from shotgun_events.poller.state_store import StateConflict
from tests.fakes import CollectingPublisher, FakeClock, InMemoryEventLog, InMemoryStateStore
from tests.helpers import make_event

WAIT = 10.0  # seconds a forced interleaving may take before the test fails


def config(**overrides: Any) -> PollerConfig:
    base = PollerConfig("https://site", "s", "t", "a", page_size=10, poll_interval=2.0, safety_margin=0.0)
    return PollerConfig(**{**base.__dict__, **overrides})


class WatchedLog(InMemoryEventLog):
    """Notes every read (`("after", cursor)` / `("by_ids", ids)`) and how many are under way."""

    def __init__(self, clock: FakeClock, read_seconds: float = 0.0):
        super().__init__(clock)
        self.fake_clock = clock
        self.read_seconds = read_seconds  # fake time each read takes
        self.fail_at: dict[int, Exception] = {}  # read number (from 1) -> what it raises
        self.reads: list[tuple[str, Any]] = []
        self.under_way = 0
        self.most_at_once = 0
        self.read_done = threading.Condition()
        self._lock = threading.Lock()

    def _read(self, kind: str, arg: Any, answer: Any) -> Any:
        with self._lock:
            self.under_way += 1
            self.most_at_once = max(self.most_at_once, self.under_way)
            number = len(self.reads) + self.under_way
        try:
            self.fake_clock.now += self.read_seconds
            if number in self.fail_at:
                raise self.fail_at[number]
            return answer()
        finally:
            with self._lock:
                self.under_way -= 1
            with self.read_done:
                self.reads.append((kind, arg))
                self.read_done.notify_all()

    def after(self, cursor: int, limit: int) -> list[Event]:
        answer: list[Event] = self._read("after", cursor, lambda: InMemoryEventLog.after(self, cursor, limit))
        return answer

    def by_ids(self, ids: Sequence[int]) -> list[Event]:
        answer: list[Event] = self._read("by_ids", list(ids), lambda: InMemoryEventLog.by_ids(self, ids))
        return answer

    def wait_for_read(self, cursor: int) -> bool:
        with self.read_done:
            return self.read_done.wait_for(lambda: ("after", cursor) in self.reads, timeout=WAIT)


class OverlapProbe(CollectingPublisher):
    """While publishing a page, waits for the read of the next one (after its last id): it proves
    the read is made during the publish, and makes every pass overlap the same way."""

    def __init__(self, log: WatchedLog, page_size: int):
        super().__init__()
        self.log, self.page_size = log, page_size
        self.overlapped: list[bool] = []

    def publish(self, messages: Sequence[EventMessage]) -> None:
        if len(messages) == self.page_size:  # a full page: the next one is being read
            self.overlapped.append(self.log.wait_for_read(messages[-1].event_id))
        super().publish(messages)


class CheckedStore(InMemoryStateStore):
    """Asserts publish-before-commit on every save: each event of the log at or below the new cursor
    that is not in the new backlog has been published already."""

    def __init__(self, log: InMemoryEventLog, published: CollectingPublisher):
        super().__init__()
        self.log, self.published = log, published

    def save(self, state: PollState, expected_version: int | None) -> int:
        sent = set(self.published.ids)
        unpublished = [
            i for i in self.log.rows if i <= state.cursor and i not in state.backlog and i not in sent
        ]
        assert not unpublished, f"cursor {state.cursor} committed past unpublished events {unpublished[:5]}"
        return super().save(state, expected_version)


def site(events: int, shots: int = 4) -> tuple[FakeClock, WatchedLog]:
    """A log of `events` committed events over `shots` Shots, created now."""
    clock = FakeClock()
    log = WatchedLog(clock)
    for i in range(1, events + 1):
        log.add(event_now(clock, i, i % shots))
    return clock, log


def event_now(clock: FakeClock, event_id: int, shot: int) -> Event:
    return make_event(event_id, entity=("Shot", shot), created_at=datetime.fromtimestamp(clock.now, UTC))


def first_seen_in_order(messages: Sequence[EventMessage]) -> bool:
    """Each entity's events first appear in id order (repeats after a crash are FIFO-deduped)."""
    seen: dict[str, list[int]] = defaultdict(list)
    for message in messages:
        if message.event_id not in seen[message.group_id]:
            seen[message.group_id].append(message.event_id)
    return all(ids == sorted(ids) for ids in seen.values())


def test_catching_up_reads_each_next_page_while_publishing_the_one_before() -> None:
    clock, log = site(95)
    publisher = OverlapProbe(log, page_size=10)
    store = CheckedStore(log, publisher)
    initialise(store, 0)
    end = clock.now + 10
    poll(PollerDeps(log, store, publisher, clock, clock.sleep), config(), lambda: end - clock.now)
    assert publisher.ids == list(range(1, 96))
    assert publisher.overlapped == [True] * 9  # every full page: the next read was made during its publish
    pages = [cursor for kind, cursor in log.reads if kind == "after"]
    assert pages[:11] == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95]  # each page read once
    assert log.most_at_once == 1  # one read at a time on the client


def test_no_read_ahead_after_a_short_page_so_an_idle_poller_reads_once_per_interval() -> None:
    clock, log = site(5)
    store = InMemoryStateStore()
    initialise(store, 0)
    end = clock.now + 20
    deps = PollerDeps(log, store, CollectingPublisher(), clock, clock.sleep)
    summary = poll(deps, config(), lambda: end - clock.now)
    assert summary.passes == len(log.reads) == 10  # 20 s at 2 s a pass, one read each


def test_a_pass_starts_every_interval_however_long_its_read_took() -> None:
    clock, log = site(5)
    log.read_seconds = 0.5  # each pass's read takes a quarter of the interval
    store = InMemoryStateStore()
    initialise(store, 0)
    start, end = clock.now, clock.now + 20
    starts: list[float] = []
    log_read = log._read

    def noted(kind: str, arg: Any, answer: Any) -> Any:
        starts.append(clock.now - start)
        return log_read(kind, arg, answer)

    log._read = noted  # type: ignore[method-assign]
    deps = PollerDeps(log, store, CollectingPublisher(), clock, clock.sleep)
    summary = poll(deps, config(), lambda: end - clock.now)
    assert summary.passes == 10  # not 8: the wait is what is left of the interval, 1.5 s
    assert starts == pytest.approx([2.0 * n for n in range(10)])


class Crash(Exception):
    pass


@pytest.mark.parametrize("step", ["read_ahead_fails", "mid_publish", "before_commit", "conflict"])
def test_a_failure_on_any_page_of_a_catch_up_loses_nothing_and_commits_past_nothing_unpublished(
    step: str,
) -> None:
    clock, log = site(57)
    log.add(event_now(clock, 58, 9), visible_at=clock.now + 5)  # a gap while catching up
    for i in range(59, 75):
        log.add(event_now(clock, i, i % 4))
    publisher = CollectingPublisher()

    class FailingPublisher(CollectingPublisher):
        """Publishes the first 3 messages of the 3rd page, then dies."""

        pages = 0

        def publish(self, messages: Sequence[EventMessage]) -> None:
            self.pages += 1
            if step == "mid_publish" and self.pages == 3:
                publisher.publish(list(messages)[:3])
                raise Crash("killed mid-publish")
            publisher.publish(messages)

    class FailingStore(CheckedStore):
        """Fails the commit of the 3rd page: dies, or finds another poller got there first."""

        def save(self, state: PollState, expected_version: int | None) -> int:
            if state.cursor == 30 and step == "before_commit":
                raise Crash("killed between publish and commit")
            if state.cursor == 30 and step == "conflict":
                loaded = self.load()
                assert loaded is not None
                InMemoryStateStore.save(self, loaded.state, expected_version)  # the other poller's write
            return super().save(state, expected_version)

    if step == "read_ahead_fails":  # reads: page 1, page 2 (ahead), page 3 (ahead): that one fails
        log.fail_at[3] = FptError("http_5xx", "FPT read after cursor failed (http_5xx): 503")
    store = FailingStore(log, publisher)
    initialise(store, 0)
    deps = PollerDeps(log, store, FailingPublisher(), clock, clock.sleep)
    end = clock.now + 10
    if step == "conflict":
        assert poll(deps, config(), lambda: end - clock.now).stopped_by == "conflict"
    else:
        with pytest.raises((Crash, FptError)):
            poll(deps, config(), lambda: end - clock.now)
    assert log.under_way == 0  # the read ahead was waited for, not left running on the client
    committed = store.load()
    assert committed is not None and committed.state.cursor == 20  # the 3rd page never committed
    assert all(i <= 30 for i in publisher.ids)  # nothing read ahead past it was published

    clock.sleep(10)  # 58 commits
    log.fail_at.clear()
    restarted = CheckedStore(log, publisher)
    restarted.item = store.item
    end = clock.now + 10
    poll(PollerDeps(log, restarted, publisher, clock, clock.sleep), config(), lambda: end - clock.now)
    assert set(publisher.ids) == set(range(1, 75))
    assert first_seen_in_order(publisher.messages)
    stored = restarted.load()
    assert stored is not None and stored.state == PollState(cursor=74)


def test_the_time_budget_holds_and_no_read_is_made_for_a_pass_that_will_not_run() -> None:
    # Each publish takes 1 (fake) second, so each pass does; reads take none. 10.5 s and a 2 s
    # margin make room for 8 passes (the 8th ends with 2.5 s left, less than margin + a pass).
    clock, log = site(200)
    publisher = CollectingPublisher()

    class SlowPublisher(CollectingPublisher):
        def publish(self, messages: Sequence[EventMessage]) -> None:
            clock.now += 1.0
            publisher.publish(messages)

    store = InMemoryStateStore()
    initialise(store, 0)
    end = clock.now + 10.5
    deps = PollerDeps(log, store, SlowPublisher(), clock, clock.sleep)
    summary = poll(deps, config(safety_margin=2.0), lambda: end - clock.now)
    assert summary.passes == 8
    assert end - clock.now >= 2.0  # the margin is left
    assert len(log.reads) == 8  # one read per pass that ran: none read ahead for a 9th
    assert publisher.ids == list(range(1, 81))


def test_a_pass_that_does_not_commit_never_publishes_what_was_read_ahead_for_the_next() -> None:
    clock, log = site(30)
    store = InMemoryStateStore()
    initialise(store, 0)

    class Outrun(InMemoryStateStore):
        """Every commit loses: another poller always got there first."""

        def save(self, state: PollState, expected_version: int | None) -> int:
            raise StateConflict("another poller committed first")

    publisher = CollectingPublisher()
    outrun = Outrun()
    outrun.item = store.item
    summary = poll(PollerDeps(log, outrun, publisher, clock, clock.sleep), config(), lambda: 100.0)
    assert summary.stopped_by == "conflict"
    assert publisher.ids == list(range(1, 11))  # the page read ahead (11..20) was not published
    assert log.under_way == 0 and log.reads == [("after", 0), ("after", 10)]


def test_a_read_ahead_is_used_only_by_a_pass_from_the_state_it_was_made_after() -> None:
    clock, log = site(30)
    deps = PollerDeps(log, InMemoryStateStore(), CollectingPublisher(), clock, clock.sleep)
    reads = ReadAhead(deps, config())
    reads.start(PollState(cursor=10))
    assert [e["id"] for e in reads.take(PollState(cursor=10)).page] == list(range(11, 21))
    reads.start(PollState(cursor=10))
    fetched = reads.take(PollState(cursor=12, backlog={5: clock.now + 60}))  # not what was read ahead
    assert [e["id"] for e in fetched.page] == list(range(13, 23)) and [e["id"] for e in fetched.found] == [5]
    reads.close()
    assert log.reads == [("after", 10), ("after", 10), ("after", 12), ("by_ids", [5])]


def test_each_pass_reads_the_page_before_the_backlog() -> None:
    # An entity's later change commits after its earlier one, so reading the page first and the
    # backlog after can only find more of the backlog, never publish the later change first.
    clock, log = site(0)
    log.add(event_now(clock, 1, 1), visible_at=clock.now + 1)  # open: a gap below 2
    log.add(event_now(clock, 2, 2))
    store = InMemoryStateStore()
    initialise(store, 0)
    publisher = CollectingPublisher()
    poll(PollerDeps(log, store, publisher, clock, clock.sleep), config(), lambda: 0.0)
    log.add(event_now(clock, 3, 1), visible_at=clock.now + 1)  # 1's entity again: commits after 1
    log.read_seconds = 1.0  # 1 and 3 commit during the page read
    poll(PollerDeps(log, store, publisher, clock, clock.sleep), config(), lambda: 0.0)
    assert [kind for kind, _ in log.reads] == ["after", "after", "by_ids"]
    assert publisher.ids == [2, 1, 3]  # 1 found by id in the pass that read 3 in its page


# -- a property: reads take time, transactions commit at any moment between them ------------------

TIMEOUT = 60.0
transactions = st.lists(
    st.tuples(st.integers(min_value=0, max_value=4), st.floats(min_value=0, max_value=TIMEOUT / 3)),
    min_size=1,
    max_size=80,
)


@settings(max_examples=120, deadline=None)
@given(
    transactions=transactions,
    page_size=st.integers(min_value=1, max_value=8),
    read_seconds=st.sampled_from([0.05, 0.3, 1.1]),
    invocation=st.floats(min_value=1.0, max_value=15.0),
)
def test_every_event_once_in_entity_order_while_reads_take_time(
    transactions: list[tuple[int, float]], page_size: int, read_seconds: float, invocation: float
) -> None:
    clock = FakeClock(start=1_800_000_000.0)
    start = clock.now
    log = WatchedLog(clock, read_seconds=read_seconds)
    last_commit: dict[int, float] = {}
    for event_id, (entity, delay) in enumerate(transactions, start=1):
        allocated = start + event_id * 0.2
        # Row locks: a later change to the same entity cannot commit before an earlier one.
        commit = max(allocated + delay, last_commit.get(entity, 0.0))
        last_commit[entity] = commit
        created = datetime.fromtimestamp(allocated, UTC)
        log.add(make_event(event_id, entity=("Shot", entity), created_at=created), visible_at=commit)

    publisher = CollectingPublisher()
    store = CheckedStore(log, publisher)
    initialise(store, 0)
    cfg = config(page_size=page_size, backlog_timeout=TIMEOUT, poll_interval=1.0)
    end = max(last_commit.values()) + TIMEOUT
    while clock.now <= end:  # invocations of `invocation` (fake) seconds, each a restart from the store
        deadline = clock.now + invocation
        poll(PollerDeps(log, store, publisher, clock, clock.sleep), cfg, partial(time_to, clock, deadline))

    assert sorted(publisher.ids) == list(range(1, len(transactions) + 1))  # each exactly once
    by_entity: dict[int, list[int]] = defaultdict(list)
    for message in publisher.messages:
        by_entity[int(message.group_id.split(":")[1])].append(message.event_id)
    for ids in by_entity.values():
        assert ids == sorted(ids)
    stored = store.load()
    assert stored is not None and stored.state.backlog == {}
    cursors = [state.cursor for state in store.history]
    assert cursors == sorted(cursors)  # never backwards
    assert log.most_at_once == 1


def time_to(clock: FakeClock, deadline: float) -> float:
    return deadline - clock.now
