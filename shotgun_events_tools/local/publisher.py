"""The poller's `Publisher` for `shotgun-events run`: the topic and its filtered subscriptions, local.

Each message is queued, in the store, for every plugin with a callback whose `matchEvents` match it
(the exact rules, `shotgun_events.plugins.matching`), in one transaction. Only then does `poll()`
commit the cursor past it; so every event behind the cursor is either finished by each plugin that
wants it or durably waiting for it. A crash between the two re-publishes the page on restart: a
delivery still pending is not queued twice (as FIFO dedup drops it) and one that already finished
runs into the effect-once ledger.

A plugin that failed to load has unknown rules: it gets every event, and the dispatch core applies
its rules once it loads again (a subscription may be wider than the plugin's match, never narrower).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shotgun_events.events import EventMessage, decode_body
from shotgun_events.plugins.matching import matches
from shotgun_events_tools.local.store import LocalStore


@dataclass(frozen=True)
class Route:
    """One plugin's subscription: its callbacks' `matchEvents`, or None for "every event"."""

    plugin: str
    match_events: tuple[Any, ...] | None

    def wants(self, event: dict[str, Any]) -> bool:
        if self.match_events is None:
            return True
        return any(matches(m, event) for m in self.match_events)


def _matched_fields(message: EventMessage) -> dict[str, Any]:
    """What matching reads from the event: the event itself, or a reference's attributes."""
    if message.is_reference:
        attributes = message.attributes
        return {
            "event_type": attributes.get("event_type"),
            "attribute_name": attributes.get("attribute_name"),
        }
    return decode_body(message.body)


class LocalPublisher:
    """`Publisher` into `store`; `routes()` gives the current subscriptions, `on_queued(plugins)` is
    told which plugins got new deliveries."""

    def __init__(
        self,
        store: LocalStore,
        routes: Callable[[], Sequence[Route]],
        on_queued: Callable[[set[str]], None] = lambda plugins: None,
    ):
        self._store = store
        self._routes = routes
        self._on_queued = on_queued

    def publish(self, messages: Sequence[EventMessage]) -> None:
        routes = self._routes()
        routed: list[tuple[str, EventMessage]] = []
        for message in messages:
            event = _matched_fields(message)
            routed.extend((route.plugin, message) for route in routes if route.wants(event))
        if routed:
            self._store.enqueue(routed)
            self._on_queued({plugin for plugin, _ in routed})
