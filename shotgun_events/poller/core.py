"""The poller's core: fetch -> publish -> commit, in passes, until the caller's time runs out.

Knows nothing of Lambda: it gets its adapters and a `time_left()` function. Effects are ordered
so a crash anywhere re-publishes rather than loses: events are published first, the cursor is
committed after; FIFO dedup (and dispatch idempotency beyond its window) absorbs the repeat.

While catching up (a full page), the next pass's reads are made while this pass publishes and
commits (`ReadAhead`): they follow from the state this pass commits, which is known before it
publishes. They are used only by a pass that starts from exactly that state, so a pass that does
not commit leaves them unused, and what they read is read again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from aws_lambda_powertools.metrics import MetricUnit

from shotgun_events.config import PollerConfig
from shotgun_events.doorbell import Doorbell
from shotgun_events.event_log import EventLog
from shotgun_events.events import Event, EventMessage, created_epoch, encode_event
from shotgun_events.observability import logger, metrics
from shotgun_events.poller.cursor import PassResult, PollState, advance, backlog_chunks, is_unread
from shotgun_events.poller.publisher import Publisher
from shotgun_events.poller.state_store import StateConflict, StateStore, VersionedState


@dataclass
class PollerDeps:
    event_log: EventLog
    store: StateStore
    publisher: Publisher
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    doorbell: Doorbell | None = None  # when set, waited on between passes instead of sleeping


@dataclass
class PollSummary:
    passes: int = 0
    published: int = 0
    given_up: int = 0
    cursor: int = 0
    stopped_by: str = "time"  # or "conflict"


def initialise(store: StateStore, state: PollState | int, force: bool = False) -> int:
    """Start the poller from `state` (or after event id `state`; `--from-id N` passes N - 1).

    Without `force` this only creates a missing state; with it, it overwrites the stored one
    (an operator's explicit rewind or skip).
    """
    state = PollState(cursor=state) if isinstance(state, int) else state
    existing = store.load()
    if existing is not None and not force:
        raise StateConflict(f"poller state already exists at cursor {existing.state.cursor}; use force")
    return store.save(state, existing.version if existing else None)


def load_or_start(deps: PollerDeps) -> VersionedState:
    """The stored state or, on first start, a cursor at the newest event (as the daemon did)."""
    current = deps.store.load()
    if current is not None:
        return current
    newest = deps.event_log.newest_id() or 0
    # Loud on purpose: anything before this id is skipped (`shotgun-events init` sets another start).
    logger.warning("no poller state: starting after the newest event", extra={"cursor": newest})
    state = PollState(cursor=newest)
    return VersionedState(state=state, version=deps.store.save(state, None))


@dataclass(frozen=True)
class Fetch:
    """One pass's reads of the event log, made after `state`."""

    state: PollState
    now: float  # taken before the reads
    page: list[Event]  # the main query: ids after the cursor, ascending
    found: list[Event]  # the backlog ids read by id
    reads: int


def fetch(deps: PollerDeps, config: PollerConfig, state: PollState) -> Fetch:
    """The page after the cursor, then the backlog by id.

    `now` comes before both reads: a gap's wait starts no later than the read that showed it, and a
    backlog id is given up only when a read made after its deadline did not find it. The page comes
    first: one entity's later change commits after its earlier one (FPT holds the row lock), so when
    the page shows the later one the by-id read finds the earlier one and the pass publishes both in
    id order. Read the other way round, the earlier one could commit between the two reads and go
    out after the later one.
    """
    now = deps.clock()
    page = deps.event_log.after(state.cursor, config.page_size)
    chunks = backlog_chunks(state)
    found = [event for chunk in chunks for event in deps.event_log.by_ids(chunk)]
    return Fetch(state, now, page, found, len(chunks) + 1)


class ReadAhead:
    """The next pass's `fetch`, in a thread while this pass publishes and commits.

    One read at a time on the client: the reads ahead start after this pass's own reads are done,
    and the next pass waits for them. `take(state)` uses them only if they were made after exactly
    `state`; `close()` waits for a read under way, so none is left running on the client, and
    drops its answer.
    """

    def __init__(self, deps: PollerDeps, config: PollerConfig):
        self._deps = deps
        self._config = config
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: tuple[PollState, Future[Fetch]] | None = None

    def start(self, state: PollState) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._drop()
        self._ahead = (state, self._pool.submit(fetch, self._deps, self._config, state))

    def take(self, state: PollState) -> Fetch:
        if self._ahead is not None and self._ahead[0] == state:
            ahead, self._ahead = self._ahead[1], None
            return ahead.result()  # a failed read fails this pass, as if it had been made now
        self._drop()
        return fetch(self._deps, self._config, state)

    def close(self) -> None:
        self._drop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _drop(self) -> None:
        if self._ahead is None:
            return
        ahead, self._ahead = self._ahead[1], None
        error = ahead.exception()  # waits for it
        if error is None:
            metrics.add_metric(name="FptReads", unit=MetricUnit.Count, value=ahead.result().reads)
        else:  # no pass needs it: the next start reads again and reports what fails then
            logger.info("a read ahead failed and was not needed", extra={"error_type": type(error).__name__})


def run_pass(
    deps: PollerDeps,
    config: PollerConfig,
    current: VersionedState,
    read_ahead: ReadAhead | None = None,
    may_read_ahead: Callable[[], bool] = lambda: True,
) -> tuple[VersionedState, PassResult, bool]:
    """One fetch -> publish -> commit; the committed state, what the pass did, and if the page was full.

    With `read_ahead`, the fetch is the one read ahead for `current` if there is one, and after a
    full page the next fetch starts before publishing (if `may_read_ahead()`).
    """
    fetched = read_ahead.take(current.state) if read_ahead else fetch(deps, config, current.state)
    metrics.add_metric(name="FptReads", unit=MetricUnit.Count, value=fetched.reads)
    now = fetched.now
    result = advance(
        current.state, fetched.page, fetched.found, now, config.backlog_timeout, config.max_backlog
    )
    page_full = len(fetched.page) >= config.page_size
    if read_ahead is not None and page_full and may_read_ahead():
        read_ahead.start(result.state)

    deps.publisher.publish([_encode(event) for event in result.to_publish])
    if result.state != current.state:
        current = VersionedState(result.state, deps.store.save(result.state, current.version))
    _report(result, now, len(fetched.found))
    return current, result, page_full


def _encode(event: Event) -> EventMessage:
    message = encode_event(event)
    if not isinstance(event.get("created_at"), datetime):
        logger.warning(
            "event created_at is not a date; published as given",
            extra={"event_id": message.event_id, "created_at": repr(event.get("created_at"))[:80]},
        )
    if message.is_reference:
        logger.info(
            "event too large for SNS: published as a reference for dispatch to re-read",
            extra={"event_id": message.event_id},
        )
    return message


def _report(result: PassResult, now: float, backlog_found: int) -> None:
    for event_id in result.given_up:
        logger.warning(f"event {event_id} never arrived: given up", extra={"event_id": event_id})
    for gap in result.overflow:
        logger.error(
            f"backlog full: events {gap.start}..{gap.stop - 1} will not be waited on",
            extra={"event_id": gap.start, "last_event_id": gap.stop - 1, "count": len(gap)},
        )
    if result.stale_gaps:
        logger.info(
            "ids missing before old events get one last read, not the full wait",
            extra={"count": result.stale_gaps},
        )
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(result.to_publish))
    metrics.add_metric(name="BacklogSize", unit=MetricUnit.Count, value=len(result.state.backlog))
    # Zeros would bill these metrics every hour for nothing: their alarms read missing data as OK.
    if result.given_up:
        metrics.add_metric(name="EventsGivenUp", unit=MetricUnit.Count, value=len(result.given_up))
    overflowed = sum(map(len, result.overflow))
    if overflowed:
        metrics.add_metric(name="BacklogOverflow", unit=MetricUnit.Count, value=overflowed)
    newest_created = created_epoch(result.to_publish[-1]) if result.to_publish else None
    if newest_created is not None:
        metrics.add_metric(name="LagSeconds", unit=MetricUnit.Seconds, value=max(0.0, now - newest_created))
    if result.to_publish:
        logger.info(
            "published events",
            extra={
                "event_id": result.to_publish[0]["id"],
                "last_event_id": result.to_publish[-1]["id"],
                "count": len(result.to_publish),
                "backlog_found": backlog_found,
                "cursor": result.state.cursor,
                "backlog": len(result.state.backlog),
            },
        )


def poll(deps: PollerDeps, config: PollerConfig, time_left: Callable[[], float]) -> PollSummary:
    """Passes until less than the safety margin (plus one pass's duration) is left.

    Always makes at least one full pass. After a page that was not full it starts the next pass
    `poll_interval` after this one started (waiting what is left of it); while catching up it goes
    straight on, reading the next page while it publishes this one, if the rest of this pass and
    one more like it fit in the time left. With a doorbell the wait ends early when a ring names an
    event not read yet; the next pass is the same read it would have been.
    """
    summary = PollSummary()
    current: VersionedState | None = None
    read_ahead = ReadAhead(deps, config)
    pass_seconds = 0.0
    try:
        while True:
            started = deps.clock()
            room = partial(_room_for_two_passes, deps, config, time_left, started, pass_seconds)
            try:
                current = current or load_or_start(deps)
                current, result, page_full = run_pass(deps, config, current, read_ahead, room)
            except StateConflict as exc:
                logger.warning("another poller committed first: stopping", extra={"reason": str(exc)})
                summary.stopped_by = "conflict"
                break
            summary.passes += 1
            summary.published += len(result.to_publish)
            summary.given_up += len(result.given_up)
            summary.cursor = current.state.cursor
            pass_seconds = deps.clock() - started
            spare = time_left() - config.safety_margin - pass_seconds
            if spare <= 0:
                break
            if not page_full:
                # A pass every interval, not an interval after each pass: a change waits at most
                # the interval for its read, whatever the pass took.
                _wait(deps, current.state, min(max(0.0, config.poll_interval - pass_seconds), spare))
                if time_left() - config.safety_margin - pass_seconds <= 0:
                    break
    finally:
        read_ahead.close()
    return summary


def _room_for_two_passes(
    deps: PollerDeps, config: PollerConfig, time_left: Callable[[], float], started: float, previous: float
) -> bool:
    """Whether the rest of this pass and one more like it fit before the margin: the next pass
    would run, so reading ahead for it is not wasted."""
    longest = max(previous, deps.clock() - started)
    return time_left() - config.safety_margin - 2 * longest > 0


def _wait(deps: PollerDeps, state: PollState, seconds: float) -> None:
    if deps.doorbell is None:
        deps.sleep(seconds)
    elif deps.doorbell.wait(lambda event_id: is_unread(state, event_id), seconds):
        metrics.add_metric(name="DoorbellWakeups", unit=MetricUnit.Count, value=1)
