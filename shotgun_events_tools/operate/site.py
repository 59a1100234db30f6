"""The FPT site as the operator commands read it: the newest event, events by id range or time, the
schema. Through the real `shotgun_api3` client (with a timeout), as the poller's script user.

Every FPT failure ends as one `CommandError` naming the site and what failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar

from shotgun_events.event_log import FptEventLog
from shotgun_events.events import Event
from shotgun_events.fpt import FptError, RetryPolicy, ScriptCredentials, connect
from shotgun_events_tools.cli import CommandError

T = TypeVar("T")
PAGE_SIZE = 500
DEFAULT_TIMEOUT_SECONDS = 30.0


def as_utc(when: datetime) -> datetime:
    """A naive time is taken as UTC (as the poller takes FPT's)."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class Site:
    """One FPT site and the script user the commands read it as."""

    url: str
    credentials: ScriptCredentials = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @cached_property
    def sg(self) -> Any:
        return connect(self.url, self.credentials, self.timeout)

    @cached_property
    def _retry(self) -> RetryPolicy:
        return RetryPolicy(attempts=3, attempt_timeout=self.timeout)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return self._retry.call(what, fn)
        except FptError as exc:
            raise CommandError(f"FPT site {self.url}: {exc}") from None

    def newest(self) -> Event | None:
        """The newest event (id, created_at), or None on an empty site."""
        return self._call(
            "read newest event",
            lambda: self.sg.find_one(
                "EventLogEntry", [], ["id", "created_at"], order=[{"field_name": "id", "direction": "desc"}]
            ),
        )

    def newest_id(self) -> int:
        newest = self.newest()
        return int(newest["id"]) if newest else 0

    def first_after(self, event_id: int) -> Event | None:
        """The first event after `event_id` (the oldest one not yet published when it is the cursor)."""
        return self._call(
            "read event after cursor",
            lambda: self.sg.find_one(
                "EventLogEntry",
                [["id", "greater_than", event_id]],
                ["id", "created_at"],
                order=[{"field_name": "id", "direction": "asc"}],
            ),
        )

    def first_id_since(self, when: datetime) -> int | None:
        """The lowest id created at or after `when` (FPT's times have whole seconds)."""
        start = as_utc(when).astimezone(UTC).replace(microsecond=0)
        if start < as_utc(when):
            start += timedelta(seconds=1)
        found = self._call(
            "find events since",
            lambda: self.sg.find_one(
                "EventLogEntry",
                [["created_at", "greater_than", start - timedelta(seconds=1)]],
                ["id"],
                order=[{"field_name": "id", "direction": "asc"}],
            ),
        )
        return int(found["id"]) if found else None

    def last_id_before(self, when: datetime) -> int | None:
        """The highest id created before `when`."""
        found = self._call(
            "find events before",
            lambda: self.sg.find_one(
                "EventLogEntry",
                [["created_at", "less_than", as_utc(when)]],
                ["id"],
                order=[{"field_name": "id", "direction": "desc"}],
            ),
        )
        return int(found["id"]) if found else None

    def events(self, from_id: int, to_id: int) -> Iterator[list[Event]]:
        """The events with ids from `from_id` to `to_id`, a page at a time, in id order."""
        event_log = FptEventLog(self.sg, self._retry)
        cursor = from_id - 1
        while cursor < to_id:
            try:
                page = event_log.after(cursor, PAGE_SIZE)
            except FptError as exc:
                raise CommandError(f"FPT site {self.url}: {exc}") from None
            page = [e for e in page if e["id"] <= to_id]
            if not page:
                return
            yield page
            cursor = page[-1]["id"]

    def schema(self) -> dict[str, set[str]]:
        """Entity type -> field names, as the site's `schema_read` has them."""
        read = self._call("read schema", lambda: self.sg.schema_read())
        return {entity: set(fields) for entity, fields in read.items()}
