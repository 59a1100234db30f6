"""The object a plugin's `registerCallbacks(reg)` receives, compatible with the daemon's.

    def registerCallbacks(reg):
        reg.registerCallback(os.environ["SGDAEMON_X_NAME"], os.environ["SGDAEMON_X_KEY"],
                             callback, matchEvents={"Shotgun_Task_Change": ["sg_status_list"]},
                             args=None, stopOnError=True)
        reg.logger.info("registered")

`registerCallback` checks what the daemon checked (a callable, else `TypeError`) plus the shape of
`matchEvents`; it does not check the script name and key, so tooling can load plugins without
secrets. Dispatch reports a missing name or key when the callback is about to run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shotgun_events.plugins.logs import callback_logger, plugin_logger
from shotgun_events.plugins.matching import validate_match_events

Callback = Callable[[Any, logging.Logger, dict[str, Any], Any], Any]


def callable_name(callback: Any) -> str:
    """The name the daemon would log a callback under (its `__name__`)."""
    name = getattr(callback, "__name__", None)
    if isinstance(name, str) and name:
        return name
    inner = getattr(callback, "func", None)  # functools.partial
    if inner is not None and inner is not callback:
        return callable_name(inner)
    return type(callback).__name__


@dataclass(eq=False)
class Registration:
    """One `registerCallback` call: the callback, its script user and how it matches events."""

    plugin: str
    index: int
    callback: Callback
    script_name: Any
    script_key: Any = field(repr=False)  # never in logs or reprs
    match_events: Any = None
    args: Any = None
    stop_on_error: bool = True

    @property
    def name(self) -> str:
        return callable_name(self.callback)

    @property
    def key(self) -> str:
        """Stable within a plugin version: registration position and callback name."""
        return f"{self.index}:{self.name}"

    @property
    def logger(self) -> logging.Logger:
        return callback_logger(self.plugin, self.name)

    @property
    def has_script_user(self) -> bool:
        """Registered with a script name and key (non-empty text): it can be given a connection."""
        return all(isinstance(v, str) and v for v in (self.script_name, self.script_key))


class Registrar:
    """What `registerCallbacks(reg)` is given; collects the plugin's registrations in order."""

    def __init__(self, plugin: str):
        self.plugin = plugin
        self.registrations: list[Registration] = []
        self._emails_noted = False

    @property
    def logger(self) -> logging.Logger:
        return plugin_logger(self.plugin)

    def getLogger(self) -> logging.Logger:
        return self.logger

    def setEmails(self, *emails: Any) -> None:
        """Accepted for compatibility; failures are reported by CloudWatch alarms, not email."""
        if not self._emails_noted:
            self._emails_noted = True
            self.logger.info(
                "setEmails() is accepted but ignored: failures are reported by CloudWatch alarms "
                "on the plugin's dead-letter queue and error metrics, not by email",
                extra={"plugin": self.plugin},
            )

    def registerCallback(
        self,
        sgScriptName: Any,
        sgScriptKey: Any,
        callback: Any,
        matchEvents: Any = None,
        args: Any = None,
        stopOnError: bool = True,
    ) -> None:
        if not callable(callback):
            # The type only: a swapped argument could be the script key, which must not reach a log.
            raise TypeError(f"registerCallback: callback must be callable, got a {type(callback).__name__}")
        validate_match_events(matchEvents)
        self.registrations.append(
            Registration(
                plugin=self.plugin,
                index=len(self.registrations),
                callback=callback,
                script_name=sgScriptName,
                script_key=sgScriptKey,
                match_events=matchEvents,
                args=args,
                stop_on_error=bool(stopOnError),
            )
        )
