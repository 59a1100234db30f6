"""Loggers handed to plugins: standard `logging.Logger`s named like the daemon's, JSON out.

Plugins get real `logging.Logger` objects (`plugin.<name>` from `reg.logger`,
`plugin.<name>.<callback>` as the callback's `logger`), so code written for the daemon keeps
working (`logger.info`, `logger.exception`, `logger.setLevel`, `getChild`, ...). Their records go
through the shared Powertools handler and formatter, so they come out as the same structured JSON
as every other line, with `plugin`, `callback` and `event_id` added from the dispatch context.
Tracebacks are the standard ones: the callback's local variables are never printed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from shotgun_events.observability import logger

ROOT = "plugin"
_context: ContextVar[dict[str, Any] | None] = ContextVar("shotgun_events_plugin_log_context", default=None)


class _PluginRecordHandler(logging.Handler):
    """Adds the dispatch context to a plugin's record and hands it to the Powertools handler."""

    def emit(self, record: logging.LogRecord) -> None:
        context = _context.get() or {}
        for key, value in context.items():
            if value is not None and not hasattr(record, key):
                setattr(record, key, value)
        if not hasattr(record, "logger"):
            record.logger = record.name
        logger.registered_handler.handle(record)


def _root() -> logging.Logger:
    root = logging.getLogger(ROOT)
    if not any(isinstance(h, _PluginRecordHandler) for h in root.handlers):
        root.addHandler(_PluginRecordHandler())
        root.propagate = False
        root.setLevel(logger.log_level)
    return root


def plugin_logger(plugin: str) -> logging.Logger:
    """`plugin.<name>`: the plugin's `reg.logger`."""
    _root()
    return logging.getLogger(f"{ROOT}.{plugin}")


def callback_logger(plugin: str, callback: str) -> logging.Logger:
    """`plugin.<name>.<callback>`: the `logger` argument a callback receives."""
    _root()
    return logging.getLogger(f"{ROOT}.{plugin}.{callback}")


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Fields (plugin, callback, event_id, ...) added to every plugin record logged inside."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)
