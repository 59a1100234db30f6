# shotgun-events: checked
"""When an entity is created, give the fields it was created without their studio defaults.

`DEFAULTS` maps an entity type to `{field: value}`; a field already set at creation is kept.

Script user: `SGDAEMON_INITENTITY_NAME` / `SGDAEMON_INITENTITY_KEY`.
"""

import logging
import os
from typing import Any

DEFAULTS = {
    "Shot": {"sg_cut_in": 1001, "sg_shot_type": "Plate"},
    "Asset": {"sg_asset_type": "Prop"},
}


def registerCallbacks(reg: Any) -> None:
    reg.registerCallback(
        os.environ.get("SGDAEMON_INITENTITY_NAME"),
        os.environ.get("SGDAEMON_INITENTITY_KEY"),
        initEntity,
        matchEvents={f"Shotgun_{entity_type}_New": None for entity_type in DEFAULTS},
        args=DEFAULTS,
    )


def initEntity(sg: Any, logger: logging.Logger, event: dict[str, Any], args: Any) -> None:
    entity = event.get("entity")
    if not isinstance(entity, dict) or entity.get("type") not in args:
        return
    defaults = args[entity["type"]]
    current = sg.find_one(entity["type"], [["id", "is", entity["id"]]], list(defaults))
    if current is None:
        logger.info("%s %s no longer exists", entity["type"], entity["id"])
        return
    missing = {field: value for field, value in defaults.items() if current.get(field) in (None, "", [])}
    if not missing:
        return
    sg.update(entity["type"], entity["id"], missing)
    logger.info("%s %s initialised: %s", entity["type"], entity["id"], ", ".join(sorted(missing)))
