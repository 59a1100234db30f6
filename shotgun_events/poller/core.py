"""The poller's core: fetch -> publish -> commit, in passes, until the caller's time runs out.

Knows nothing of Lambda: it gets its adapters and a `time_left()` function. Effects are ordered
so a crash anywhere re-publishes rather than loses: events are published first, the cursor is
committed after; FIFO dedup (and dispatch idempotency beyond its window) absorbs the repeat.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

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


def run_pass(
    deps: PollerDeps, config: PollerConfig, current: VersionedState
) -> tuple[VersionedState, PassResult, bool]:
    """One fetch -> publish -> commit; the committed state, what the pass did, and if the page was full."""
    now = deps.clock()  # before the reads: an id read before its deadline is never given up
    # The page first, the backlog after: an entity's earlier event commits before its later one
    # (row locks), so a backlog event that precedes a page event of its entity has committed by the
    # time the backlog is read, and both go out in this pass in id order. Read the other way round,
    # a commit landing between the two reads (a retried read leaves seconds for one) would publish
    # the later event a pass before the earlier.
    page = deps.event_log.after(current.state.cursor, config.page_size)
    found: list[Event] = []
    chunks = backlog_chunks(current.state)
    for chunk in chunks:
        found.extend(deps.event_log.by_ids(chunk))
    metrics.add_metric(name="FptReads", unit=MetricUnit.Count, value=len(chunks) + 1)
    result = advance(current.state, page, found, now, config.backlog_timeout, config.max_backlog)

    deps.publisher.publish([_encode(event) for event in result.to_publish])
    if result.state != current.state:
        current = VersionedState(result.state, deps.store.save(result.state, current.version))
    _report(result, now, len(found))
    return current, result, len(page) >= config.page_size


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

    Always makes at least one full pass. Waits `poll_interval` only after a page that was not
    full: while catching up it goes straight on. With a doorbell the wait ends early when a ring
    names an event not read yet; the next pass is the same read it would have been.
    """
    summary = PollSummary()
    current: VersionedState | None = None
    while True:
        started = deps.clock()
        try:
            current = current or load_or_start(deps)
            current, result, page_full = run_pass(deps, config, current)
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
            _wait(deps, current.state, min(config.poll_interval, spare))
            if time_left() - config.safety_margin - pass_seconds <= 0:
                break
    return summary


def _wait(deps: PollerDeps, state: PollState, seconds: float) -> None:
    if deps.doorbell is None:
        deps.sleep(seconds)
    elif deps.doorbell.wait(lambda event_id: is_unread(state, event_id), seconds):
        metrics.add_metric(name="DoorbellWakeups", unit=MetricUnit.Count, value=1)
