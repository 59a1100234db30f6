"""The audit trail: one JSON line per command that changed something (who, what, how many).

The line goes to stderr (so `--json` output on stdout stays clean) and, when
`SHOTGUN_EVENTS_AUDIT_LOG` names a file, is appended to it too. It is written even when the command
stopped part-way, with what was done by then.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

AUDIT_LOG_VARIABLE = "SHOTGUN_EVENTS_AUDIT_LOG"


def audit_line(who: str, target: str, command: str, **details: Any) -> str:
    record = {
        "audit": "shotgun-events",
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "who": who,
        "target": target,
        "command": command,
        **details,
    }
    return json.dumps(record, default=str, separators=(",", ":"))


def audit(who: str, target: str, command: str, **details: Any) -> None:
    line = audit_line(who, target, command, **details)
    print(line, file=sys.stderr, flush=True)
    path = os.environ.get(AUDIT_LOG_VARIABLE, "").strip()
    if path:
        try:
            with open(path, "a", encoding="utf-8") as log:
                log.write(line + "\n")
        except OSError as exc:  # the change is made: say the trail file missed it, do not hide the change
            print(f"shotgun-events: audit log {path} not written: {exc.strerror}", file=sys.stderr)


@contextmanager
def audited(who: str, target: str, command: str, **details: Any) -> Iterator[dict[str, Any]]:
    """One audit line when the block ends, with its `outcome` (done, failed, or interrupted by
    Ctrl-C) and the details, which the block may update with what it did."""
    record = dict(details)
    outcome = "interrupted"
    try:
        yield record
        outcome = "done"
    except Exception:
        outcome = "failed"
        raise
    finally:
        audit(who, target, command, **record, outcome=outcome)
