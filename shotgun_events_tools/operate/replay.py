"""Replaying events to one plugin: which ids, which of them the plugin matches, and the messages.

A replay re-reads the events from FPT, keeps those the plugin's `matchEvents` match (the plugin
loaded from its file, as dispatch loads it), and sends them to that plugin's queue only, each with
the poller's message group and encoding plus the replay id as a message attribute. Its
deduplication ids are the replay's own, and dispatch adds the replay id to the effect-once key:
the callbacks run again even where they completed before, once per replay. Sending the same
replay id again (`--replay-id`, after an interruption) is deduplicated by SQS within 5 minutes
and by the effect-once records beyond.
"""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from shotgun_events.events import REPLAY_ATTRIBUTE, Event, EventMessage, encode_event
from shotgun_events.plugins import Plugin, PluginNotFound, RecordedMetrics, find_plugin, load_plugin, matches
from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.operate.site import Site

REPLAY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
DEFAULT_MAX_EVENTS = 1000


def new_replay_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"r{now:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


def check_replay_id(value: str) -> str:
    if not REPLAY_ID.match(value):
        raise CommandError(f"replay id {value!r} must be 1 to 40 letters, digits, '-' or '_'")
    return value


def dedup_prefix(replay_id: str) -> str:
    """Deduplication ids of a replay: its own, never the poller's (the bare event id)."""
    return f"{replay_id}:"


@contextmanager
def quiet_logs() -> Iterator[io.StringIO]:
    """Keep the runtime's JSON log lines (plugin loading) off the terminal; they are kept here."""
    from logging import StreamHandler

    from shotgun_events.observability import logger

    handler = cast("StreamHandler[io.StringIO]", logger.registered_handler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer) or buffer
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def load_matching_plugin(name: str, directories: Sequence[str | Path]) -> Plugin:
    """The plugin as dispatch loads it (from the first folder that has it), to apply its match
    rules; a one-line error if it does not load."""
    try:
        path = find_plugin(name, directories)
    except PluginNotFound:
        raise CommandError(
            f"plugin {name} not found in {', '.join(str(d) for d in directories)}: its match rules come "
            "from its file (run from the project root, or pass --plugins DIR)"
        ) from None
    with quiet_logs():
        plugin = load_plugin(path, RecordedMetrics())
    if not plugin.active:
        raise CommandError(f"plugin {name} does not load from {path}: {plugin.error}")
    return plugin


@dataclass(frozen=True)
class IdRange:
    first: int
    last: int

    @property
    def span(self) -> int:
        return self.last - self.first + 1


def check_ids(from_id: int | None, to_id: int | None) -> None:
    """What can be said without the site: the order of the two ids."""
    if from_id is not None and to_id is not None and from_id > to_id:
        raise CommandError(f"--from-id {from_id} is after --to-id {to_id}")


def resolve_range(
    site: Site,
    *,
    from_id: int | None = None,
    to_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> IdRange:
    """The ids to replay, checked against the newest event on the site."""
    check_ids(from_id, to_id)
    newest = site.newest_id()
    if since is not None:
        first = site.first_id_since(since)
        last = site.last_id_before(until) if until is not None else newest
        window = f"since {since.isoformat()}" + (f" until {until.isoformat()}" if until else "")
        if first is None or last is None or last < first:
            raise CommandError(f"no events on {site.url} {window}")
        return IdRange(first, last)
    assert from_id is not None
    for name, value in (("--from-id", from_id), ("--to-id", to_id)):
        if value is not None and value > newest:
            raise CommandError(f"{name} {value} is beyond the newest event ({newest}) on {site.url}")
    return IdRange(from_id, to_id if to_id is not None else newest)


def matched(plugin: Plugin, events: Iterable[Event]) -> list[Event]:
    """The events any of the plugin's callbacks matches, as dispatch decides it."""
    return [e for e in events if any(matches(r.match_events, e) for r in plugin.registrations)]


def replay_messages(events: Iterable[Event], replay_id: str) -> list[EventMessage]:
    """The poller's messages for these events (group, body, attributes) plus the replay id."""
    return [encode_event(e, {REPLAY_ATTRIBUTE: replay_id}) for e in events]
