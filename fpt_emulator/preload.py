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

#: Upper bound of the events one studio action logs (the largest, a new shot with its four tasks
#: and their dependencies, logs 54), and of one ``add_project`` (three sequences, three assets with
#: their tasks: about 130). An action runs only while it surely fits, so the history never ends
#: inside a change; the rest is topped up with one-event changes.
_ACTION_MAX = 80
_PROJECT_MAX = 250


def preload_events(
    site: Site,
    n: int,
    *,
    seed: int | str = 1,
    start_at: dt.datetime | None = None,
    end_at: dt.datetime | None = None,
    projects: int = 3,
) -> tuple[int, int]:
    """Write exactly ``n`` committed historical events; returns (first id, last id).

    The history is made of whole changes only: every entity it creates has its ``_New`` event
    and all its ``in_create`` rows. It works in the site's existing projects and adds up to
    ``projects`` new ones when ``n`` leaves room for them.
    """
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

        def left() -> int:
            return n - (site.next_event_id - first)

        activity = Activity(site, f"{seed}:preload:{n}", tx_factory=factory)
        for i in range(max(1, projects)):
            if left() < _PROJECT_MAX + _ACTION_MAX:
                break
            activity.add_project(f"History {i + 1:02d}", sequences=3, assets=3)
        if activity.project_ids:
            while left() >= _ACTION_MAX:
                activity.step(1)
        while left() > 0:
            activity.touch_shot()
        if left() != 0:  # pragma: no cover - the bounds above make this impossible
            raise RuntimeError(f"preload overshot: {-left()} events past {n}")
        site.version += 1
    return first, first + n - 1
