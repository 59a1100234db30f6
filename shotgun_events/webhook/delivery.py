"""What a signed FPT webhook delivery says to the doorbell: its highest event id, and how many events.

FPT sends one event under `data` (`data.event_log_entry_id`), or, when the webhook delivers in
batched format, up to 50 under `data.deliveries[]`, each shaped like a single delivery. Nothing
else in the body matters here: the poller reads the events themselves from the event log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shotgun_events.observability import logger


class MalformedDelivery(ValueError):
    """A signed body that is not an FPT delivery; the message says what is wrong (never the body)."""


@dataclass(frozen=True)
class Delivery:
    highest_id: int
    events: int


def _event_id(item: Any) -> int | None:
    value = item.get("event_log_entry_id") if isinstance(item, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def parse_delivery(body: bytes) -> Delivery:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedDelivery("body is not JSON") from None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise MalformedDelivery("body has no data object")
    if "deliveries" not in data:
        event_id = _event_id(data)
        if event_id is None:
            raise MalformedDelivery("data has no event_log_entry_id (a positive integer)")
        return Delivery(event_id, 1)
    deliveries = data["deliveries"]
    if not isinstance(deliveries, list) or not deliveries:
        raise MalformedDelivery("data.deliveries is not a non-empty list")
    ids = [i for i in map(_event_id, deliveries) if i is not None]
    if not ids:
        raise MalformedDelivery("no delivery in data.deliveries has an event_log_entry_id")
    if len(ids) < len(deliveries):
        # The others still ring: the poller reads every event anyway, so nothing is lost.
        logger.warning(
            "batched delivery: some deliveries have no event_log_entry_id",
            extra={"count": len(deliveries) - len(ids), "event_id": max(ids)},
        )
    return Delivery(max(ids), len(ids))
