# shotgun-events: checked
"""When a Task or Version reaches a status, stamp a date field with that day.

Each rule: on `entity_type`, when `sg_status_list` changes to `status`, set `date_field` to the
event's date (in `TIMEZONE`) if it is still empty. The shipped rules stamp a Task's
`start_date` when work starts (`ip`) and a Version's `sg_date_approved` when it is approved
(`apr`); a rule whose field the site does not have is skipped with one log line.

Script user: `SGDAEMON_DATESTAMP_NAME` / `SGDAEMON_DATESTAMP_KEY`.
"""

import logging
import os
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import shotgun_api3

TIMEZONE = os.environ.get("DATESTAMP_TIMEZONE", "UTC")
RULES = [
    {"entity_type": "Task", "status": "ip", "date_field": "start_date"},
    {"entity_type": "Version", "status": "apr", "date_field": "sg_date_approved"},
]


def registerCallbacks(reg: Any) -> None:
    reg.registerCallback(
        os.environ.get("SGDAEMON_DATESTAMP_NAME"),
        os.environ.get("SGDAEMON_DATESTAMP_KEY"),
        datestamp,
        matchEvents={f"Shotgun_{rule['entity_type']}_Change": ["sg_status_list"] for rule in RULES},
        args={"rules": RULES, "timezone": TIMEZONE, "fields_checked": {}},
    )


def datestamp(sg: Any, logger: logging.Logger, event: dict[str, Any], args: Any) -> None:
    meta = event.get("meta")
    entity = event.get("entity")
    if not isinstance(meta, dict) or not isinstance(entity, dict):
        return
    for rule in args["rules"]:
        if entity.get("type") != rule["entity_type"] or meta.get("new_value") != rule["status"]:
            continue
        if not field_exists(sg, logger, args["fields_checked"], rule["entity_type"], rule["date_field"]):
            continue
        current = sg.find_one(rule["entity_type"], [["id", "is", entity["id"]]], [rule["date_field"]])
        if current is None or current.get(rule["date_field"]):
            continue
        created_at = event.get("created_at")
        when = created_at if isinstance(created_at, datetime) else datetime.now(UTC)
        day = when.astimezone(ZoneInfo(args["timezone"])).date().isoformat()
        sg.update(rule["entity_type"], entity["id"], {rule["date_field"]: day})
        logger.info("%s %s: %s stamped %s", rule["entity_type"], entity["id"], rule["date_field"], day)


def field_exists(
    sg: Any, logger: logging.Logger, checked: dict[str, bool], entity_type: str, field: str
) -> bool:
    """Whether the site has the field; asked once per process (kept in the callback's args).

    Only a definitive answer is kept: the schema, or FPT's "doesn't exist" error. Any other error
    (FPT down, a timeout, no permission) propagates, so the event is retried and asks again.
    """
    key = f"{entity_type}.{field}"
    if key not in checked:
        try:
            exists = bool(sg.schema_field_read(entity_type, field))
        except shotgun_api3.Fault as exc:
            if isinstance(exc, shotgun_api3.AuthenticationFault) or "doesn't exist" not in str(exc):
                raise
            exists = False
        checked[key] = exists
        if not exists:
            logger.warning("%s has no field %s: that datestamp rule is skipped", entity_type, field)
    return checked[key]
