"""In-process fakes that honour the same Protocols as the real adapters."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from shotgun_events.events import Event, EventMessage
from shotgun_events.poller.cursor import PollState
from shotgun_events.poller.state_store import StateConflict, VersionedState


class InMemoryEventLog:
    """`EventLog` over rows that become visible at a commit time, like FPT's open transactions.

    `clock()` decides what is visible; a row with `visible_at=None` was rolled back and never shows.
    `faults` is a list of exceptions raised, one per call, before answering.
    """

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.rows: dict[int, tuple[Event, float | None]] = {}
        self.faults: list[BaseException] = []
        self.calls = 0

    def add(self, event: Event, visible_at: float | None = 0.0) -> None:
        self.rows[event["id"]] = (event, visible_at)

    def _visible(self) -> list[Event]:
        now = self.clock()
        return [
            e for e, t in sorted(self.rows.values(), key=lambda r: r[0]["id"]) if t is not None and t <= now
        ]

    def _call(self) -> None:
        self.calls += 1
        if self.faults:
            raise self.faults.pop(0)

    def newest_id(self) -> int | None:
        self._call()
        visible = self._visible()
        return visible[-1]["id"] if visible else None

    def after(self, cursor: int, limit: int) -> list[Event]:
        self._call()
        return [dict(e) for e in self._visible() if e["id"] > cursor][:limit]

    def by_ids(self, ids: Sequence[int]) -> list[Event]:
        self._call()
        wanted = set(ids)
        return [dict(e) for e in self._visible() if e["id"] in wanted]


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def kwargs_of(calls: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [kwargs for call, kwargs in calls if call == name]


class CollectingPublisher:
    """`Publisher` that records what it was asked to publish, in order."""

    def __init__(self) -> None:
        self.messages: list[EventMessage] = []

    def publish(self, messages: Sequence[EventMessage]) -> None:
        self.messages.extend(messages)

    @property
    def ids(self) -> list[int]:
        return [m.event_id for m in self.messages]


class InMemoryStateStore:
    """`StateStore` with the same optimistic-locking contract as DynamoDBStateStore."""

    def __init__(self) -> None:
        self.item: VersionedState | None = None
        self.history: list[PollState] = []

    def load(self) -> VersionedState | None:
        return self.item

    def save(self, state: PollState, expected_version: int | None) -> int:
        current = self.item.version if self.item else None
        if current != expected_version:
            raise StateConflict(f"state changed since version {expected_version}: another poller is running")
        version = (expected_version or 0) + 1
        self.item = VersionedState(state, version)
        self.history.append(state)
        return version


class Recording:
    """Forwards to a real (moto) client and records each call's keyword arguments and outcome.

    With `atomic`, calls from several threads run one at a time: moto's conditional writes are not
    atomic under threads, while DynamoDB's are, per item.
    """

    def __init__(self, client: Any, atomic: bool = False):
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.outcomes: list[tuple[str, bool]] = []
        self._lock = threading.Lock()
        self._atomic = threading.Lock() if atomic else None

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            if self._atomic is None:
                return self._call(name, method, kwargs)
            with self._atomic:
                return self._call(name, method, kwargs)

        return call

    def _call(self, name: str, method: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        try:
            result = method(**kwargs)
        except Exception:
            self._record(name, kwargs, False)
            raise
        self._record(name, kwargs, True)
        return result

    def _record(self, name: str, kwargs: dict[str, Any], ok: bool) -> None:
        with self._lock:
            self.calls.append((name, kwargs))
            self.outcomes.append((name, ok))


class FakeDoorbell:
    """`Doorbell` and `Ringer` on a FakeClock: rings are heard at a (fake) time, `wait` moves the clock.

    Like `SqsDoorbell`, a wait consumes every ring heard so far, returns at the first one that is
    wanted (with the others heard by then), and otherwise uses up its whole timeout.
    """

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.pending: list[tuple[float, int]] = []  # (heard at, event id), kept in time order
        self.waits: list[tuple[float, bool]] = []  # (timeout, rang) per wait

    def ring(self, event_id: int, events: int = 1) -> None:
        self.ring_at(self.clock.now, event_id)

    def ring_at(self, when: float, event_id: int) -> None:
        self.pending.append((when, event_id))
        self.pending.sort(key=lambda ring: ring[0])

    def wait(self, wanted: Callable[[int], bool], timeout: float) -> bool:
        deadline = self.clock.now + timeout
        while self.pending and self.pending[0][0] <= deadline:
            heard, event_id = self.pending.pop(0)
            self.clock.now = max(self.clock.now, heard)
            if wanted(event_id):
                while self.pending and self.pending[0][0] <= self.clock.now:
                    self.pending.pop(0)  # received in the same batch: consumed too
                self.waits.append((timeout, True))
                return True
        self.clock.now = deadline
        self.waits.append((timeout, False))
        return False
