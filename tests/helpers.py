"""Test helpers: event builders and the loader for the JSON events beside the tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent / "events"
T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def load_event(name: str) -> dict[str, Any]:
    """An event from tests/events/<name>.json, `created_at` turned into an aware datetime."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    if isinstance(event.get("created_at"), str) and event.get("created_at_is_date", True):
        event["created_at"] = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
    event.pop("created_at_is_date", None)
    return event


def make_event(
    event_id: int,
    entity: tuple[str, int] | None = ("Shot", 1),
    created_at: datetime = T0,
    event_type: str | None = None,
    attribute_name: str | None = "sg_status_list",
    project_id: int | None = 70,
) -> dict[str, Any]:
    kind = entity[0] if entity else "Shot"
    return {
        "type": "EventLogEntry",
        "id": event_id,
        "event_type": event_type or f"Shotgun_{kind}_Change",
        "attribute_name": attribute_name,
        "meta": {
            "type": "attribute_change",
            "attribute_name": attribute_name,
            "entity_type": kind,
            "entity_id": entity[1] if entity else None,
            "old_value": "ip",
            "new_value": "fin",
        },
        "entity": {"type": entity[0], "id": entity[1], "name": f"{entity[0]}_{entity[1]}"}
        if entity
        else None,
        "user": {"type": "ApiUser", "id": 1, "name": "shotgun_events"},
        "project": {"type": "Project", "id": project_id, "name": "Demo"} if project_id else None,
        "session_uuid": "0c6b2d3e-1111-2222-3333-444455556666",
        "created_at": created_at,
    }


class LambdaContextStub:
    """The attributes Powertools reads from a Lambda context, with a settable deadline."""

    function_name = "shotgun-events-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:shotgun-events-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/shotgun-events-test"
    log_stream_name = "test"

    def __init__(self, seconds: float = 0.0):
        import time

        self._deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))
