"""Reading FPT's `EventLogEntry` table: the main query after the cursor, and backlog ids by id."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from shotgun_events.events import EVENT_FIELDS, Event
from shotgun_events.fpt import RetryPolicy

ASCENDING = [{"field_name": "id", "direction": "asc"}]


class EventLog(Protocol):
    def newest_id(self) -> int | None: ...

    def after(self, cursor: int, limit: int) -> list[Event]: ...

    def by_ids(self, ids: Sequence[int]) -> list[Event]: ...


class FptEventLog:
    """`EventLog` through a `shotgun_api3.Shotgun` client, each read retried on transient errors."""

    def __init__(self, sg: Any, retry: RetryPolicy, time_left: Callable[[], float] | None = None):
        self._sg = sg
        self._retry = retry
        self._time_left = time_left

    def _find(self, operation: str, filters: list[Any], **kwargs: Any) -> list[Event]:
        fields = list(EVENT_FIELDS)
        return self._retry.call(
            operation,
            lambda: self._sg.find("EventLogEntry", filters, fields, order=ASCENDING, **kwargs),
            self._time_left,
        )

    def newest_id(self) -> int | None:
        newest = self._retry.call(
            "newest event",
            lambda: self._sg.find_one(
                "EventLogEntry", [], ["id"], order=[{"field_name": "id", "direction": "desc"}]
            ),
            self._time_left,
        )
        return int(newest["id"]) if newest else None

    def after(self, cursor: int, limit: int) -> list[Event]:
        return self._find("read after cursor", [["id", "greater_than", cursor]], limit=limit)

    def by_ids(self, ids: Sequence[int]) -> list[Event]:
        return self._find("read backlog", [["id", "in", list(ids)]]) if ids else []
