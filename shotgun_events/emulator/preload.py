"""Bulk history: N realistic, already-committed events, fast.

The history is produced by the same studio activity and the same write path as live changes
(so rows have exactly the live shapes and the entities they name exist with matching state), but
in direct mode: no isolation, no row locks, one lock held for the whole load, and timestamps
spread evenly between ``start_at`` and ``end_at``.
"""

from __future__ import annotations

import datetime as dt
import gc
from typing import Any

from .activity import Activity
from .store import Site
from .transaction import Transaction
from .values import format_datetime

#: Stop running whole actions this close to N; top up with one-event edits.
_TOP_UP = 80


def preload_events(
    site: Site,
    n: int,
    *,
    seed: int | str = 1,
    start_at: dt.datetime | None = None,
    end_at: dt.datetime | None = None,
    projects: int = 3,
) -> tuple[int, int]:
    """Write exactly ``n`` committed historical events; returns (first id, last id)."""
    if n <= 0:
        return site.next_event_id, site.next_event_id - 1
    end = end_at or dt.datetime.now(dt.UTC)
    start = start_at or (end - dt.timedelta(seconds=2 * n))
    if end.tzinfo is None:
        end = end.replace(tzinfo=dt.UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    span = end - start
    # The load allocates hundreds of thousands of long-lived dicts; the cyclic GC would rescan
    # them over and over for nothing (they hold no cycles), so it is paused while loading.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(site, n, seed, start, span, projects)
    finally:
        if gc_was_enabled:
            gc.enable()


def _load(
    site: Site, n: int, seed: int | str, start: dt.datetime, span: dt.timedelta, projects: int
) -> tuple[int, int]:
    with site.lock:
        first = site.next_event_id
        seconds = span.total_seconds()
        stamps: dict[int, str] = {}

        def clock() -> str:
            # Spread evenly: the k-th of n events is stamped k/n of the way through the span.
            offset = int(seconds * min(site.next_event_id - first, n) / n)
            stamp = stamps.get(offset)
            if stamp is None:
                stamp = stamps[offset] = format_datetime(start + dt.timedelta(seconds=offset))
            return stamp

        def factory(user: dict[str, Any], session: str | None) -> Transaction:
            return Transaction(site, user=user, session_uuid=session, direct=True, clock=clock)

        activity = Activity(site, f"{seed}:preload:{n}", tx_factory=factory, discover=False)
        for i in range(max(1, projects)):
            if site.next_event_id - first >= n - _TOP_UP:
                break
            activity.add_project(f"History {i + 1:02d}", sequences=3, assets=3)
        while site.next_event_id - first < n - _TOP_UP:
            activity.step(1)
        while site.next_event_id - first < n:
            activity.touch_shot()
        _trim(site, first + n)
        site.version += 1
    return first, first + n - 1


def _trim(site: Site, next_id: int) -> None:
    """Drop events past the requested count (only small loads overshoot) so no gap is left."""
    if site.next_event_id <= next_id:
        return
    elog = site.tables["EventLogEntry"]
    for eid in range(next_id, site.next_event_id):
        elog.remove(eid)
    site.next_event_id = next_id
