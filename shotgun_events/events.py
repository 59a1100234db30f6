"""The event model: an FPT `EventLogEntry` dict <-> the message published on SNS (DESIGN §4).

The body carries exactly the daemon's fields with `created_at` as ISO-8601 UTC; the string
attributes are what subscription filter policies match on. An event too large for SNS travels as a
*reference* (id and attributes) and dispatch re-reads it from FPT by id: nothing is truncated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

EVENT_FIELDS = (
    "id",
    "event_type",
    "attribute_name",
    "meta",
    "entity",
    "user",
    "project",
    "session_uuid",
    "created_at",
)
EVENT_TYPE = "EventLogEntry"
REFERENCE_TYPE = "EventLogEntryReference"
SITE_GROUP = "site"
# The SQS message attribute an operator's replay (`shotgun-events replay`) sets to its replay id:
# dispatch adds it to the effect-once key, so a replay runs callbacks that completed before, once.
REPLAY_ATTRIBUTE = "replay_id"

# SNS counts body plus attribute names, types and values against 256 KiB, per message and per batch.
MAX_MESSAGE_BYTES = 256 * 1024

Event = dict[str, Any]


class MalformedEvent(ValueError):
    """An event or message that cannot be understood; the message says which part is wrong."""


@dataclass(frozen=True)
class EventMessage:
    """One SNS message: what `PublishBatch` needs for one entry."""

    event_id: int
    body: str
    attributes: dict[str, str]
    group_id: str

    @property
    def dedup_id(self) -> str:
        return str(self.event_id)

    @cached_property  # the publisher asks per batch attempt; encoding a 256 KiB body once is enough
    def size(self) -> int:
        attrs = sum(len(k.encode()) + len("String") + len(v.encode()) for k, v in self.attributes.items())
        return len(self.body.encode()) + attrs

    @property
    def is_reference(self) -> bool:
        return self.attributes.get("reference") == "true"


def event_id_of(event: Any) -> int:
    """The event's id, or `MalformedEvent` when there is none usable."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"event is a {type(event).__name__}, not an object")
    event_id = event.get("id")
    if isinstance(event_id, bool) or not isinstance(event_id, int) or event_id <= 0:
        raise MalformedEvent(f"event has no positive integer id (id={event_id!r})")
    return event_id


def _link(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) and value.get("type") and value.get("id") is not None else None


def _entity_ref(event: Event) -> tuple[str, Any] | None:
    """(type, id) of the event's entity: its link, else what `meta` names.

    FPT reads a link to a retired entity as null, so an entity's Change and Retirement events
    may carry `entity: null`; `meta` still names the entity, which keeps them in one group.
    """
    entity = _link(event.get("entity"))
    if entity:
        return str(entity["type"]), entity["id"]
    meta = event.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("entity_type"), str) and meta["entity_type"]:
        return meta["entity_type"], meta.get("entity_id")
    return None


def entity_type(event: Event) -> str | None:
    """The event's entity type: its entity link, else the one `meta` names."""
    ref = _entity_ref(event)
    return ref[0] if ref else None


def group_id(event: Event) -> str:
    """One entity's events run in order; entity-less events group by project, else site-wide."""
    ref = _entity_ref(event)
    if ref and ref[1] is not None:
        return f"{ref[0]}:{ref[1]}"
    project = _link(event.get("project"))
    if project:
        return f"Project:{project['id']}"
    return SITE_GROUP


def message_attributes(event: Event) -> dict[str, str]:
    """String attributes for filter policies; null or empty values are left out (SNS rejects empty)."""
    attributes: dict[str, str] = {}
    if event.get("event_type"):
        attributes["event_type"] = str(event["event_type"])
    kind = entity_type(event)
    if kind:
        attributes["entity_type"] = kind
    if event.get("attribute_name"):
        attributes["attribute_name"] = str(event["attribute_name"])
    project = _link(event.get("project"))
    if project:
        attributes["project_id"] = str(project["id"])
    return attributes


def format_created_at(value: Any) -> Any:
    """A datetime as ISO-8601 UTC; a naive one is taken as UTC. Anything else is returned as is."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def created_epoch(event: Event) -> float | None:
    """`created_at` as epoch seconds (a naive datetime is taken as UTC), or None when not a date."""
    created = event.get("created_at")
    if isinstance(created, datetime):
        return (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()
    return None


def parse_created_at(value: Any) -> Any:
    """ISO-8601 text back to a timezone-aware datetime; text that is not a date is returned as is."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_created_at(value)
    return str(value)  # an exotic value (date, Decimal, ...) is kept as text rather than losing the event


def encode_event(event: Event, extra_attributes: dict[str, str] | None = None) -> EventMessage:
    """The SNS message for one event: the full body if it fits, else a reference to re-read.

    `extra_attributes` (an operator's replay id) travel with it and count towards its size.
    """
    event_id = event_id_of(event)
    body = {field: event.get(field) for field in EVENT_FIELDS}
    body["created_at"] = format_created_at(body["created_at"])
    body["type"] = EVENT_TYPE
    attributes = {**message_attributes(event), **(extra_attributes or {})}
    message = EventMessage(
        event_id=event_id,
        # ASCII escapes: a lone surrogate or U+FFFE in FPT text can neither be UTF-8 encoded nor sent to SQS.
        body=json.dumps(body, default=_json_default, separators=(",", ":")),
        attributes=attributes,
        group_id=group_id(event),
    )
    if message.size <= MAX_MESSAGE_BYTES:
        return message
    reference = {"type": REFERENCE_TYPE, "id": event_id, "created_at": body["created_at"]}
    return EventMessage(
        event_id=event_id,
        body=json.dumps(reference, default=_json_default),
        attributes={**attributes, "reference": "true"},
        group_id=message.group_id,
    )


def decode_body(body: str | bytes | dict[str, Any]) -> Event:
    """The event (or reference) in a message body; SNS-wrapped notifications are unwrapped.

    `created_at` comes back as a timezone-aware datetime, as the daemon handed it to plugins.
    """
    data: Any = body
    if isinstance(body, str | bytes):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise MalformedEvent(f"message body is not JSON: {exc}") from None
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
        return decode_body(data["Message"])
    event_id_of(data)
    event = dict(data)
    event["created_at"] = parse_created_at(event.get("created_at"))
    return event


def is_reference(event: Event) -> bool:
    """True for the stand-in of an event too large to publish; dispatch re-reads it by id."""
    return event.get("type") == REFERENCE_TYPE
