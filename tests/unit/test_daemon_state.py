"""Importing the shotgunEvents daemon's pickle state file."""

from __future__ import annotations

import base64
import os
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shotgun_events.poller.cursor import PollState
from shotgun_events_tools.daemon_state import DaemonStateError, read_daemon_state

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp()


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "shotgunEventDaemon.id"
    path.write_bytes(pickle.dumps(data))
    return path


def test_lowest_last_id_and_merged_live_backlog(tmp_path: Path) -> None:
    later = datetime(2026, 11, 27, 12, 3, tzinfo=UTC)
    expired = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    path = write(
        tmp_path,
        {"/opt/plugins": {"a": (120, {110: later, 111: expired}), "b": 100}, "/other": {"c": (130, {})}},
    )
    assert read_daemon_state(path, NOW) == PollState(cursor=100, backlog={})
    path = write(tmp_path, {"/opt/plugins": {"a": (120, {110: later, 111: expired})}})
    assert read_daemon_state(path, NOW) == PollState(cursor=120, backlog={110: later.timestamp()})


# Written by a Python 2 daemon (byte strings), protocols 2 and 0: {"/opt/plugins": {"a": (120,
# {110: datetime(2026, 11, 27, 12, 3)})}}.
PY2_PROTOCOL_2 = (
    "gAJ9cQBVDC9vcHQvcGx1Z2luc3EBfXECVQFhcQNLeH1xBEtuY2RhdGV0aW1lCmRhdGV0aW1lCnEF"
    "VQoH6gsbDAMAAAAAcQaFcQdScQhzhnEJc3Mu"
)
PY2_PROTOCOL_0 = (
    "KGRwMApTJy9vcHQvcGx1Z2lucycKcDEKKGRwMgpTJ2EnCnAzCihJMTIwCihkcDQKSTExMApjZGF0ZXRpbWUKZGF0ZXRpbWUKcDUK"
    "KFMnXHgwN1x4ZWFceDBiXHgxYlx4MGNceDAzXHgwMFx4MDBceDAwXHgwMCcKcDYKdHA3ClJwOApzdHA5CnNzLg=="
)


@pytest.mark.parametrize(
    "encoded", [PY2_PROTOCOL_2, PY2_PROTOCOL_0], ids=["py2-protocol-2", "py2-protocol-0"]
)
def test_python2_daemon_files(tmp_path: Path, encoded: str) -> None:
    path = tmp_path / "shotgunEventDaemon.id"
    path.write_bytes(base64.b64decode(encoded))
    expiry = datetime(2026, 11, 27, 12, 3).timestamp()  # naive: the daemon host's local time
    assert read_daemon_state(path, expiry - 60) == PollState(cursor=120, backlog={110: expiry})


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_python3_daemon_files(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "shotgunEventDaemon.id"
    later = datetime(2026, 11, 27, 12, 3, tzinfo=UTC)
    path.write_bytes(pickle.dumps({"/p": {"a": (120, {110: later})}}, protocol=protocol))
    assert read_daemon_state(path, NOW) == PollState(cursor=120, backlog={110: later.timestamp()})


def test_empty_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.id"
    path.write_bytes(b"")
    with pytest.raises(DaemonStateError, match="is empty"):
        read_daemon_state(path, NOW)


def test_truncated_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, {"/p": {"a": 5}})
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(DaemonStateError, match="not readable"):
        read_daemon_state(path, NOW)


def test_arbitrary_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.id"
    path.write_bytes(pickle.dumps({"/p": {"a": os.system}}))
    with pytest.raises(DaemonStateError, match="unexpected object"):
        read_daemon_state(path, NOW)
