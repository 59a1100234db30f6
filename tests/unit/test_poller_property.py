"""Property: for any interleaving of commits with delays under the timeout, every event is
published exactly once and each entity's events keep their order."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from shotgun_events.config import PollerConfig
from shotgun_events.poller import PollerDeps, initialise, load_or_start, run_pass
from tests.fakes import CollectingPublisher, FakeClock, InMemoryEventLog, InMemoryStateStore
from tests.helpers import make_event

TIMEOUT = 60.0
STEP = 2.0  # seconds between passes

transactions = st.lists(
    st.tuples(st.integers(min_value=0, max_value=4), st.floats(min_value=0, max_value=TIMEOUT - 2 * STEP)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    transactions=transactions,
    page_size=st.integers(min_value=1, max_value=12),
    read_seconds=st.sampled_from([0.0, 0.3, 1.1]),
)
def test_every_event_once_and_per_entity_order(
    transactions: list[tuple[int, float]], page_size: int, read_seconds: float
) -> None:
    clock = FakeClock(start=1_800_000_000.0)
    start = clock.now
    log = InMemoryEventLog(clock, read_seconds)
    last_commit: dict[int, float] = {}
    for event_id, (entity, delay) in enumerate(transactions, start=1):
        allocated = start + event_id * 0.5
        # Row locks: a later change to the same entity cannot commit before an earlier one.
        commit = max(allocated + delay, last_commit.get(entity, 0.0))
        last_commit[entity] = commit
        created = datetime.fromtimestamp(allocated, UTC)
        log.add(make_event(event_id, entity=("Shot", entity), created_at=created), visible_at=commit)

    publisher = CollectingPublisher()
    deps = PollerDeps(log, InMemoryStateStore(), publisher, clock, clock.sleep)
    initialise(deps.store, 0)
    config = PollerConfig("https://s", "s", "t", "a", page_size=page_size, backlog_timeout=TIMEOUT)
    end = max(last_commit.values()) + TIMEOUT
    while clock.now <= end:
        run_pass(deps, config, load_or_start(deps))
        clock.sleep(STEP)

    assert sorted(publisher.ids) == list(range(1, len(transactions) + 1))  # each exactly once
    by_entity: dict[int, list[int]] = defaultdict(list)
    for message in publisher.messages:
        by_entity[int(message.group_id.split(":")[1])].append(message.event_id)
    for ids in by_entity.values():
        assert ids == sorted(ids)
    stored = deps.store.load()
    assert stored is not None and stored.state.backlog == {}
    cursors = [state.cursor for state in deps.store.history]  # type: ignore[attr-defined]
    assert cursors == sorted(cursors)  # never backwards


def test_a_commit_between_the_reads_of_a_pass_keeps_the_entitys_order() -> None:
    """Event 1 (Shot 7) is held open; it commits while a pass is reading, and Shot 7 changes again
    (event 3) right after. Whichever read sees event 3, event 1 goes out before it."""
    clock = FakeClock()
    log = InMemoryEventLog(clock, read_seconds=1.0)
    created = datetime.fromtimestamp(clock.now, UTC)
    log.add(make_event(1, entity=("Shot", 7), created_at=created), visible_at=clock.now + 2.5)
    log.add(make_event(2, entity=("Shot", 8), created_at=created), visible_at=clock.now)
    log.add(make_event(3, entity=("Shot", 7), created_at=created), visible_at=clock.now + 2.6)
    publisher = CollectingPublisher()
    deps = PollerDeps(log, InMemoryStateStore(), publisher, clock, clock.sleep)
    initialise(deps.store, 0)
    config = PollerConfig("https://s", "s", "t", "a", backlog_timeout=TIMEOUT)
    for _ in range(4):
        run_pass(deps, config, load_or_start(deps))

    assert publisher.ids == [2, 1, 3]
