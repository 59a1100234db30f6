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

from shotgun_events.events import Event, created_epoch

BY_ID_CHUNK = 500  # ids per `id in [...]` read: FPT's page size, whatever PAGE_SIZE is


@dataclass(frozen=True)
class PollState:
    """What the poller remembers between passes: the cursor and the open gaps."""

    cursor: int
    backlog: Mapping[int, float] = field(default_factory=dict)  # missing id -> give-up time (epoch s)


def is_unread(state: PollState, event_id: int) -> bool:
    """An id the poller has not read yet: above the cursor, or a gap it is still waiting for."""
    return event_id > state.cursor or event_id in state.backlog


@dataclass(frozen=True)
class PassResult:
    state: PollState
    to_publish: list[Event]  # id order
    given_up: list[int]  # backlog ids whose deadline passed: "never arrived"
    overflow: list[range]  # gap ids dropped because the backlog was full (earliest deadline first)
    stale_gaps: int  # gap ids given one last by-id read only, because the events around them are old


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
    new_gaps: list[tuple[range, float]] = []
    stale_gaps = 0
    for event in sorted((e for e in page if e["id"] > state.cursor), key=lambda e: e["id"]):
        if event["id"] <= cursor:
            continue  # a duplicate row in the page
        missing = range(cursor + 1, event["id"])
        created = created_epoch(event)
        if missing and created is not None and created + timeout < now:
            # Catching up: an id missing before an event older than the timeout is almost surely a
            # rolled-back change. It gets one last by-id read (next pass), not the full wait.
            stale_gaps += len(missing)
            new_gaps.append((missing, now))
        elif missing:
            new_gaps.append((missing, now + timeout))
        publish[event["id"]] = event
        cursor = event["id"]

    given_up = sorted(i for i, deadline in backlog.items() if deadline < now)
    for event_id in given_up:
        del backlog[event_id]

    overflow = _fit(backlog, new_gaps, max_backlog)
    return PassResult(
        state=PollState(cursor=cursor, backlog=backlog),
        to_publish=[publish[i] for i in sorted(publish)],
        given_up=given_up,
        overflow=overflow,
        stale_gaps=stale_gaps,
    )


def _fit(backlog: dict[int, float], new_gaps: list[tuple[range, float]], max_backlog: int) -> list[range]:
    """Add the new gaps to `backlog` within `max_backlog` ids; return what did not fit.

    The ids with the earliest deadline go first: they have waited longest and are the likeliest to
    be dead, while a fresh gap is the likeliest to commit. Gaps stay ranges until they are kept, as
    one after a long outage can be millions of ids wide.
    """
    excess = len(backlog) + sum(len(gap) for gap, _ in new_gaps) - max_backlog
    overflow: list[range] = []
    if excess > 0:
        for event_id in sorted(backlog, key=lambda i: (backlog[i], i))[:excess]:
            del backlog[event_id]
            overflow.append(range(event_id, event_id + 1))
            excess -= 1
    for gap, deadline in sorted(new_gaps, key=lambda g: (g[1], g[0].start)):
        dropped = max(0, min(excess, len(gap)))
        if dropped:
            overflow.append(gap[:dropped])
            excess -= dropped
        for event_id in gap[dropped:]:
            backlog[event_id] = deadline
    return overflow


def backlog_chunks(state: PollState, size: int = BY_ID_CHUNK) -> list[list[int]]:
    """Backlog ids in `id in [...]` reads of at most `size` ids each."""
    ids = sorted(state.backlog)
    return [ids[i : i + size] for i in range(0, len(ids), size)]
