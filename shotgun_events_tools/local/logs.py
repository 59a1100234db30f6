"""Logs of `shotgun-events run`: the Lambdas' JSON lines by default, or text for a terminal, and the
reason a delivery failed, taken from the error line the dispatch core logged for it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from shotgun_events.observability import logger

_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "logger"}
# Printed first when present, in this order; any other field follows.
_LEADING = ("plugin", "callback", "event_id")


class TextFormatter(logging.Formatter):
    """`2026-11-27 12:00:00 WARNING message  plugin=a event_id=5 ...`, tracebacks below."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_")}
        ordered = [k for k in _LEADING if k in fields] + sorted(k for k in fields if k not in _LEADING)
        extra = " ".join(f"{k}={_short(fields[k])}" for k in ordered if fields[k] is not None)
        line = f"{self.formatTime(record, '%Y-%m-%d %H:%M:%S')} {record.levelname:<7} {record.getMessage()}"
        if extra:
            line = f"{line}  {extra}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _short(value: Any, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def use_text_logs() -> None:
    """Every line (ours and the plugins') as text instead of JSON."""
    logger.registered_handler.setFormatter(TextFormatter())


class ErrorNotes(logging.Filter):
    """Remembers the last ERROR line logged on each thread: why the delivery it ran failed."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and getattr(self._local, "watching", False):
            self._local.last = record.getMessage()
        return True

    @contextmanager
    def watch(self) -> Iterator[Callable[[], str | None]]:
        """`with notes.watch() as last_error: ...; last_error()`: the last error line inside."""
        self._local.watching, self._local.last = True, None
        try:
            yield lambda: getattr(self._local, "last", None)
        finally:
            self._local.watching = False


def error_notes() -> ErrorNotes:
    """The notes attached to the shared log handler (every line, ours and the plugins', passes it)."""
    handler = logger.registered_handler
    for existing in handler.filters:
        if isinstance(existing, ErrorNotes):
            return existing
    notes = ErrorNotes()
    handler.addFilter(notes)
    return notes
