# shotgun-events: checked
"""Log every event: the install check the daemon always shipped.

Deploy it, change anything on the site, and its log shows the event as the plugins receive it.

Script user: `SGDAEMON_LOGARGS_NAME` / `SGDAEMON_LOGARGS_KEY`.
"""

import logging
import os
from typing import Any


def registerCallbacks(reg: Any) -> None:
    reg.registerCallback(
        os.environ.get("SGDAEMON_LOGARGS_NAME"),
        os.environ.get("SGDAEMON_LOGARGS_KEY"),
        logArgs,
        matchEvents=None,
        args=None,
    )
    reg.logger.debug("logArgs registered")


def logArgs(sg: Any, logger: logging.Logger, event: dict[str, Any], args: Any) -> None:
    logger.info(
        "Event %s %s %s on %s",
        event.get("id"),
        event.get("event_type"),
        event.get("attribute_name") or "",
        event.get("entity"),
        extra={"event": event, "callback_args": args},
    )
