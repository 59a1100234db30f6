"""The cursor and backlog algorithm, as pure functions over plain data (no AWS, no FPT).

FPT allocates an event id when a change starts and makes the row readable when the change
commits, so a reader sees gaps that fill later. The poller keeps a cursor (highest id it has
handled) and a backlog of missing ids with a deadline. Two rules fix the daemon's bugs
(DESIGN §1): the cursor never moves backwards, and backlog ids are fetched by id rather than by
restarting the main query at the gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shotgun_events.events import Event


@dataclass(frozen=True)
class PollState:
    """What the poller remembers between passes: the cursor and the open gaps."""

    cursor: int
    backlog: Mapping[int, float] = field(default_factory=dict)  # missing id -> give-up time (epoch s)


@dataclass(frozen=True)
class PassResult:
    state: PollState
    to_publish: list[Event]  # id order
    given_up: list[int]  # backlog ids whose deadline passed: "never arrived"
    overflow: list[range]  # gap ids dropped because the backlog was full (oldest first)
    stale_gaps: int  # gap ids not waited on because the events around them are old


def _created_epoch(event: Event) -> float | None:
    created = event.get("created_at")
    if isinstance(created, datetime):
        aware = created if created.tzinfo else created.replace(tzinfo=UTC)
        return aware.timestamp()
    return None


def advance(
    state: PollState,
    page: Iterable[Event],
    backlog_found: Iterable[Event],
    now: float,
    timeout: float,
    max_backlog: int,
) -> PassResult:
    """The next state after one pass, and what to publish.

    `page` is the main query's answer (`id > cursor`, ascending); `backlog_found` is the answer to
    the by-id read of the backlog. Events at or below the cursor that are not in the backlog are
    never published again, whatever the inputs hold.
    """
    backlog = dict(state.backlog)
    publish: dict[int, Event] = {}
    for event in backlog_found:
        if event["id"] in backlog:
            del backlog[event["id"]]
            publish[event["id"]] = event

    cursor = state.cursor
    new_gaps: list[range] = []
    stale_gaps = 0
    for event in sorted((e for e in page if e["id"] > state.cursor), key=lambda e: e["id"]):
        if event["id"] <= cursor:
            continue  # a duplicate row in the page
        missing = range(cursor + 1, event["id"])
        created = _created_epoch(event)
        if created is not None and created + timeout < now:
            # Catching up: an id missing before an event older than the timeout is a rolled-back
            # change, not an open one; the daemon's rule would expire it anyway.
            stale_gaps += len(missing)
        else:
            new_gaps.append(missing)
        publish[event["id"]] = event
        cursor = event["id"]

    given_up = sorted(i for i, deadline in backlog.items() if deadline <= now)
    for event_id in given_up:
        del backlog[event_id]

    # Ranges, not lists: a gap after a long outage can be millions of ids wide.
    excess = max(0, sum(map(len, new_gaps)) - max(0, max_backlog - len(backlog)))
    overflow: list[range] = []
    deadline = now + timeout
    for gap in new_gaps:  # drop the oldest gaps first: they are the likeliest to be dead
        dropped = min(excess, len(gap))
        if dropped:
            overflow.append(gap[:dropped])
            excess -= dropped
        for event_id in gap[dropped:]:
            backlog[event_id] = deadline

    return PassResult(
        state=PollState(cursor=cursor, backlog=backlog),
        to_publish=[publish[i] for i in sorted(publish)],
        given_up=given_up,
        overflow=overflow,
        stale_gaps=stale_gaps,
    )


def backlog_chunks(state: PollState, size: int) -> list[list[int]]:
    """Backlog ids in `id in [...]` reads of at most `size` ids each."""
    ids = sorted(state.backlog)
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def state_to_record(state: PollState) -> dict[str, Any]:
    return {"cursor": state.cursor, "backlog": {str(k): v for k, v in sorted(state.backlog.items())}}


def state_from_record(record: Mapping[str, Any]) -> PollState:
    backlog = record.get("backlog") or {}
    return PollState(cursor=int(record["cursor"]), backlog={int(k): float(v) for k, v in backlog.items()})
