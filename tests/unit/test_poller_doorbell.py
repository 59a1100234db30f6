"""The poller waiting on the doorbell instead of sleeping, on a fake clock: reads counted, not timed."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shotgun_events.config import PollerConfig
from shotgun_events.events import EventMessage
from shotgun_events.poller import PollerDeps, initialise, poll
from shotgun_events.poller.cursor import PollState, is_unread
from tests.fakes import CollectingPublisher, FakeClock, FakeDoorbell, InMemoryEventLog, InMemoryStateStore
from tests.helpers import make_event

INTERVAL = 30.0


class TimedPublisher(CollectingPublisher):
    """Also notes the (fake) time each event was published at."""

    def __init__(self, clock: FakeClock):
        super().__init__()
        self.clock = clock
        self.at: dict[int, float] = {}

    def publish(self, messages: Sequence[EventMessage]) -> None:
        super().publish(messages)
        self.at.update({m.event_id: self.clock.now for m in messages})


class Site:
    """An event log, a doorbell and a poller on one fake clock, started after event 0."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.t0 = self.clock.now
        self.log = InMemoryEventLog(self.clock)
        self.doorbell = FakeDoorbell(self.clock)
        self.store = InMemoryStateStore()
        self.published = TimedPublisher(self.clock)
        initialise(self.store, 0)
        self.config = PollerConfig("https://site", "s", "t", "a", poll_interval=INTERVAL, safety_margin=0.0)

    def add(self, event_id: int, at: float | None, entity: tuple[str, int] = ("Shot", 1)) -> None:
        """Event `event_id` committed `at` seconds after the start (None: rolled back)."""
        created = datetime.fromtimestamp(self.t0 + (at or 0), UTC)
        self.log.add(
            make_event(event_id, entity=entity, created_at=created), None if at is None else self.t0 + at
        )

    def ring(self, at: float, event_id: int) -> None:
        self.doorbell.ring_at(self.t0 + at, event_id)

    def run(self, seconds: float, doorbell: bool = True) -> None:
        """One poller invocation of `seconds` (fake) seconds."""
        end = self.clock.now + seconds
        deps = PollerDeps(
            self.log,
            self.store,
            self.published,
            clock=self.clock,
            sleep=self.clock.sleep,
            doorbell=self.doorbell if doorbell else None,
        )
        poll(deps, self.config, lambda: end - self.clock.now)

    def published_after(self, event_id: int) -> float:
        return round(self.published.at[event_id] - self.t0, 3)


def test_idle_poller_reads_once_per_interval_with_or_without_a_doorbell() -> None:
    with_bell, without = Site(), Site()
    with_bell.run(300)
    without.run(300, doorbell=False)
    assert with_bell.log.calls == without.log.calls == 300 / INTERVAL
    assert [rang for _, rang in with_bell.doorbell.waits] == [False] * 10


def test_a_ring_ends_the_wait_at_once_and_costs_one_read() -> None:
    site = Site()
    site.add(1, at=45.0)
    site.ring(45.2, 1)
    site.run(300)
    assert site.published.ids == [1]
    assert site.published_after(1) == 45.2  # not 60, the next interval
    assert site.log.calls == 300 / INTERVAL + 1


def test_without_the_doorbell_the_same_event_waits_for_the_interval() -> None:
    site = Site()
    site.add(1, at=45.0)
    site.ring(45.2, 1)  # nobody listens
    site.run(300, doorbell=False)
    assert site.published_after(1) == 60.0
    assert site.log.calls == 300 / INTERVAL


def test_several_rings_collapse_into_one_read_and_old_rings_cost_nothing() -> None:
    site = Site()
    for event_id in (1, 2, 3):
        site.add(event_id, at=45.0)
        site.ring(45.1, event_id)
    for at in (50.0, 51.0, 52.0):
        site.ring(at, 2)  # replayed: already read
    site.run(300)
    assert site.published.ids == [1, 2, 3]
    assert {site.published_after(i) for i in (1, 2, 3)} == {45.1}
    assert site.log.calls == 300 / INTERVAL + 1
    assert site.doorbell.pending == []


def test_a_ring_for_an_id_still_in_the_backlog_wakes_the_poller() -> None:
    site = Site()
    site.add(1, at=100.0)  # its transaction commits late: a gap below event 2
    site.add(2, at=10.0)
    site.ring(10.1, 2)
    site.ring(100.1, 1)  # at or below the cursor, but not read yet
    site.run(300)
    assert site.published.ids == [2, 1]
    assert site.published_after(1) == 100.1


def test_is_unread() -> None:
    state = PollState(cursor=10, backlog={7: 0.0})
    assert [i for i in range(1, 13) if is_unread(state, i)] == [7, 11, 12]


def test_through_restarts_and_a_flood_of_rings_every_event_once_in_order_per_entity() -> None:
    rng = random.Random(7)
    site = Site()
    last_commit: dict[int, float] = {}
    committed: dict[int, tuple[str, int]] = {}
    for event_id in range(1, 401):
        shot = rng.randrange(1, 13)
        # An entity's events commit in id order (FPT holds the row lock until the commit); other
        # entities' transactions may commit later than higher ids, which leaves gaps.
        at = event_id / 2 + (rng.uniform(1, 40) if rng.random() < 0.1 else 0.0)
        at = max(at, last_commit.get(shot, 0.0))
        if rng.random() < 0.03:
            site.add(event_id, at=None, entity=("Shot", shot))  # rolled back: never rings
            continue
        last_commit[shot] = at
        committed[event_id] = ("Shot", shot)
        site.add(event_id, at=at, entity=("Shot", shot))
        for _ in range(rng.choice([0, 1, 1, 1, 3])):  # lost, once, or rung again
            site.ring(at + rng.uniform(0, 0.5), event_id)
    for _ in range(300):  # forged or replayed rings, old and far ahead
        site.ring(rng.uniform(0, 300), rng.randrange(1, 10**6))

    for _ in range(4):  # four invocations: each a restart from the stored state
        site.run(75)

    ids = site.published.ids
    assert sorted(ids) == sorted(committed)  # every committed event, none twice
    per_entity: dict[Any, list[int]] = {}
    for event_id in ids:
        per_entity.setdefault(committed[event_id], []).append(event_id)
    assert all(chain == sorted(chain) for chain in per_entity.values())
    assert any(rang for _, rang in site.doorbell.waits)  # the rings, not the interval, drove the passes
