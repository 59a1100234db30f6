# shotgun-events: checked
"""When a field changes to a value, set another field of the same entity.

Each rule: on `entity_type`, when `field` changes to `value`, set `set_field` to `set_value`
(unless it already has it). The shipped rule: a Task marked not applicable (`na`) has its bid
(`est_in_mins`) cleared to 0. Add rules to `RULES` for your site.

Script user: `SGDAEMON_FIELDTOFIELD_NAME` / `SGDAEMON_FIELDTOFIELD_KEY`.
"""

import logging
import os
from typing import Any

RULES: list[dict[str, Any]] = [
    {
        "entity_type": "Task",
        "field": "sg_status_list",
        "value": "na",
        "set_field": "est_in_mins",
        "set_value": 0,
    },
]


def registerCallbacks(reg: Any) -> None:
    match_events: dict[str, list[str]] = {}
    for rule in RULES:
        match_events.setdefault(f"Shotgun_{rule['entity_type']}_Change", []).append(rule["field"])
    reg.registerCallback(
        os.environ.get("SGDAEMON_FIELDTOFIELD_NAME"),
        os.environ.get("SGDAEMON_FIELDTOFIELD_KEY"),
        fieldToField,
        matchEvents=match_events,
        args=RULES,
    )


def fieldToField(sg: Any, logger: logging.Logger, event: dict[str, Any], args: Any) -> None:
    meta = event.get("meta")
    entity = event.get("entity")
    if not isinstance(meta, dict) or not isinstance(entity, dict):
        return
    for rule in args:
        if (
            entity.get("type") != rule["entity_type"]
            or event.get("attribute_name") != rule["field"]
            or meta.get("new_value") != rule["value"]
        ):
            continue
        fields = [rule["field"], rule["set_field"]]
        current = sg.find_one(rule["entity_type"], [["id", "is", entity["id"]]], fields)
        if current is None or current.get(rule["field"]) != rule["value"]:
            logger.info("%s %s changed again since; rule skipped", rule["entity_type"], entity["id"])
            continue
        if current.get(rule["set_field"]) == rule["set_value"]:
            continue
        sg.update(rule["entity_type"], entity["id"], {rule["set_field"]: rule["set_value"]})
        logger.info(
            "%s %s: %s is %r, so %s set to %r",
            rule["entity_type"],
            entity["id"],
            rule["field"],
            rule["value"],
            rule["set_field"],
            rule["set_value"],
        )
