"""Importing the classic shotgunEvents daemon's state file (a pickle), to switch over without a gap.

The daemon pickles `{collection path: {plugin name: state}}` where a plugin's state is its last
event id, or `(last id, backlog)` with the backlog `{event id: expiry datetime}` (naive, the
daemon host's local time). Python 3 daemons write protocol 2, Python 2 ones protocol 0 or 2 with
byte strings, read here as latin-1. Only those types are unpickled: the file is read with an
allow-list, never as arbitrary code.
"""

from __future__ import annotations

import io
import pickle
from datetime import datetime
from pathlib import Path
from typing import Any

from shotgun_events.poller.cursor import PollState

# Protocol 2 and later pickle a datetime's bytes through `_codecs.encode`.
_ALLOWED = {
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
    ("_codecs", "encode"),
}


class DaemonStateError(ValueError):
    """The file is not a daemon state file we understand; the message says what is wrong."""


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise DaemonStateError(f"daemon state file holds an unexpected object {module}.{name}")


def read_daemon_state(path: Path, now: float) -> PollState:
    """The state to start from: the lowest last id of all plugins (so no plugin misses an event)
    and their backlogs merged, each id keeping its latest expiry."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DaemonStateError(f"cannot read daemon state file {path}: {exc.strerror}") from None
    if not raw:
        raise DaemonStateError(f"daemon state file {path} is empty")
    try:
        data = _SafeUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except DaemonStateError:
        raise
    except Exception as exc:
        raise DaemonStateError(f"daemon state file {path} is not readable ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise DaemonStateError(f"daemon state file {path} does not hold a dict of plugin collections")
    last_ids: list[int] = []
    backlog: dict[int, float] = {}
    for collection in data.values():
        if not isinstance(collection, dict):
            raise DaemonStateError(f"daemon state file {path}: a collection is not a dict")
        for name, state in collection.items():
            last_id, plugin_backlog = (state, {}) if not isinstance(state, tuple | list) else state
            if not isinstance(last_id, int) or not isinstance(plugin_backlog, dict):
                raise DaemonStateError(f"daemon state file {path}: plugin {name!r} has an unexpected state")
            last_ids.append(last_id)
            for event_id, expiry in plugin_backlog.items():
                deadline = expiry.timestamp() if isinstance(expiry, datetime) else now
                backlog[int(event_id)] = max(deadline, backlog.get(int(event_id), deadline))
    if not last_ids:
        raise DaemonStateError(f"daemon state file {path} names no plugin")
    cursor = min(last_ids)
    return PollState(cursor=cursor, backlog={i: d for i, d in backlog.items() if i <= cursor and d > now})
