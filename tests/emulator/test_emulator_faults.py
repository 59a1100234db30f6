"""Every fault knob, as the unmodified client sees it."""

from __future__ import annotations

import http.client
import time
from typing import Any
from xmlrpc.client import ProtocolError

import pytest
import shotgun_api3

from fpt_emulator import FaultKind, Faults, FptEmulator

PROJECT = {"type": "Project", "id": 1}


def test_503_is_a_protocol_error_without_retry(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.clear_writes()
    fpt_emulator.faults.fail_next(1, FaultKind.HTTP_503)
    with pytest.raises(ProtocolError) as info:
        sg.find("Shot", [])
    assert info.value.errcode == 503
    assert fpt_emulator.calls == ["read"]
    assert sg.find("Shot", []) == []  # the next call is fine


@pytest.mark.parametrize("kind", [FaultKind.HTTP_502, FaultKind.HTTP_504])
def test_502_and_504_are_retried_by_the_client(fpt_emulator: FptEmulator, sg: Any, kind: FaultKind) -> None:
    sg.BACKOFF = 0.01  # the client sleeps BACKOFF * attempt between its 3 attempts
    fpt_emulator.clear_writes()
    fpt_emulator.faults.fail_next(2, kind)
    assert sg.find("Shot", []) == []
    assert fpt_emulator.calls == ["read", "read", "read"]
    fpt_emulator.faults.fail_next(3, kind)
    with pytest.raises(ProtocolError) as info:
        sg.find("Shot", [])
    assert info.value.errcode == int(kind.value)


def test_dropped_connection_is_remote_disconnected(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.clear_writes()
    # The client's HTTP layer silently retries a connection dropped on the first try once.
    fpt_emulator.faults.fail_next(1, FaultKind.DROP)
    assert sg.find("Shot", []) == []
    assert fpt_emulator.calls == ["read", "read"]
    fpt_emulator.faults.fail_next(2, FaultKind.DROP)
    with pytest.raises(http.client.RemoteDisconnected):
        sg.find("Shot", [])
    fpt_emulator.faults.drop_rate = 1.0
    with pytest.raises(http.client.RemoteDisconnected):
        sg.create("Shot", {"code": "never", "project": PROJECT})
    fpt_emulator.faults.drop_rate = 0.0
    assert sg.find("Shot", []) == []  # dropped before doing anything


def test_drop_after_commit_makes_the_client_retry_a_done_write(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.faults.fail_next(2, FaultKind.DROP_AFTER_COMMIT)
    with pytest.raises(http.client.RemoteDisconnected):
        sg.create("Shot", {"code": "twice", "project": PROJECT})
    # Both attempts (the HTTP layer's silent retry included) were committed: at-least-once.
    assert len(sg.find("Shot", [["code", "is", "twice"]])) == 2
    assert [w.method for w in fpt_emulator.writes] == ["create", "create"]


def test_hang_ends_in_the_clients_socket_timeout(fpt_emulator: FptEmulator, sg: Any) -> None:
    sg.close()
    sg.config.timeout_secs = 0.3
    fpt_emulator.faults.hang_seconds = 6.0
    fpt_emulator.faults.fail_next(1, FaultKind.HANG)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        sg.find("Shot", [])
    assert time.monotonic() - start < 5  # the client's timeout ended it, not the hang's bound
    assert sg.find("Shot", []) == []


def test_hang_is_bounded(fpt_emulator: FptEmulator) -> None:
    sg = fpt_emulator.connect(timeout=5)
    fpt_emulator.faults.fail_next(1, FaultKind.HANG, seconds=0.2)
    start = time.monotonic()
    # After the bound the server closes the socket; the client's HTTP layer retries once.
    assert sg.find("Shot", []) == []
    assert 0.2 <= time.monotonic() - start < 2


def test_auth_failure_for_a_named_script(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.add_script("other", "other-key")
    other = fpt_emulator.connect("other")
    fpt_emulator.faults.fail_auth("shotgun_events")
    with pytest.raises(shotgun_api3.AuthenticationFault, match="Can't authenticate script 'shotgun_events'"):
        sg.find("Shot", [])
    assert other.find("Shot", []) == []
    fpt_emulator.faults.restore_auth("shotgun_events")
    assert sg.find("Shot", []) == []
    fpt_emulator.faults.fail_next(1, FaultKind.AUTH)
    with pytest.raises(shotgun_api3.AuthenticationFault):
        other.find("Shot", [])


def test_wrong_key_and_unknown_script(fpt_emulator: FptEmulator) -> None:
    wrong = shotgun_api3.Shotgun(fpt_emulator.url, "shotgun_events", "not-the-key")  # info needs no auth
    with pytest.raises(shotgun_api3.AuthenticationFault):
        wrong.find("Shot", [])
    unknown = shotgun_api3.Shotgun(fpt_emulator.url, "nobody", "x")
    with pytest.raises(shotgun_api3.AuthenticationFault, match="nobody"):
        unknown.create("Shot", {"code": "x"})


def test_generic_error_fault(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.faults.fail_next(1, FaultKind.ERROR, message="API read() something broke")
    with pytest.raises(shotgun_api3.Fault, match="something broke"):
        sg.find("Shot", [])


def test_fault_in_the_middle_of_paging(fpt_emulator: FptEmulator, sg: Any) -> None:
    tx = fpt_emulator.site.begin(quiet=True)
    for i in range(1234):
        tx.create("Version", {"code": f"v{i}", "project": PROJECT})
    tx.commit()
    fpt_emulator.clear_writes()
    fpt_emulator.faults.fail_next(1, FaultKind.HTTP_503, method="read", after=1)
    with pytest.raises(ProtocolError):
        sg.find("Version", [], ["code"])
    assert fpt_emulator.calls == ["read", "read"]  # page 1 fine, page 2 failed
    assert len(sg.find("Version", [], ["code"])) == 1234


def test_latency_and_jitter(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.faults.set(latency=0.05, latency_jitter=0.02)
    start = time.monotonic()
    sg.find("Shot", [])
    elapsed = time.monotonic() - start
    assert elapsed >= 0.05
    fpt_emulator.faults.set(latency=2.0)
    fpt_emulator.faults.reset()
    start = time.monotonic()
    sg.find("Shot", [])
    assert time.monotonic() - start < 2.0  # reset removed the latency


def test_rates_are_deterministic_under_a_seed() -> None:
    def outcomes(seed: int) -> list[str | None]:
        faults = Faults(seed)
        faults.set(error_503_rate=0.3, drop_rate=0.1, error_502_rate=0.2)
        return [None if (d := faults.decide("read")).kind is None else d.kind.value for _ in range(50)]

    assert outcomes(7) == outcomes(7)
    assert outcomes(7) != outcomes(8)
    assert {"503", "drop", "502", None} <= set(outcomes(7))


def test_knob_validation() -> None:
    faults = Faults()
    with pytest.raises(ValueError):
        faults.error_503_rate = 1.5
    with pytest.raises(AttributeError):
        faults.set(no_such_knob=1)
    faults.fail_next(3, "hold", seconds=1)
    assert faults.decide("read").kind is None  # holds only apply to writes
    assert faults.decide("create").kind is FaultKind.HOLD
    assert faults.pending == 2
    faults.reset()
    assert faults.pending == 0


@pytest.mark.parametrize("kind", [FaultKind.AUTH, FaultKind.ERROR])
def test_scripted_auth_and_error_faults_skip_info(fpt_emulator: FptEmulator, kind: FaultKind) -> None:
    fpt_emulator.faults.fail_next(1, kind)
    sg = fpt_emulator.connect()  # its `info` call needs no auth and is not the call meant
    assert fpt_emulator.faults.pending == 1
    expected = shotgun_api3.AuthenticationFault if kind is FaultKind.AUTH else shotgun_api3.Fault
    with pytest.raises(expected):
        sg.find("Shot", [])
    assert sg.find("Shot", []) == []


def test_faults_scripted_for_info_by_name_apply_to_it(fpt_emulator: FptEmulator) -> None:
    fpt_emulator.faults.fail_next(1, FaultKind.ERROR, method="info", message="info is broken")
    with pytest.raises(shotgun_api3.Fault, match="info is broken"):
        fpt_emulator.connect()
    fpt_emulator.faults.fail_next(1, FaultKind.HTTP_503)  # transport faults hit any call
    with pytest.raises(ProtocolError):
        fpt_emulator.connect()
    assert fpt_emulator.connect().find("Shot", []) == []


def test_after_counts_only_calls_let_through(fpt_emulator: FptEmulator) -> None:
    faults = Faults()
    faults.fail_next(1, FaultKind.HTTP_503, after=1)
    faults.fail_next(1, FaultKind.HTTP_502)
    assert faults.decide("read").kind is FaultKind.HTTP_502  # faulted: does not count as "after"
    assert faults.decide("read").kind is None  # the one call let through
    assert faults.decide("read").kind is FaultKind.HTTP_503
    # Through the client: the dropped first try does not count; its silent retry does.
    sg = fpt_emulator.connect()
    fpt_emulator.clear_writes()
    fpt_emulator.faults.fail_next(1, FaultKind.DROP, method="read")
    fpt_emulator.faults.fail_next(1, FaultKind.HTTP_503, method="read", after=1)
    assert sg.find("Shot", []) == []
    assert fpt_emulator.calls == ["read", "read"]
    with pytest.raises(ProtocolError):
        sg.find("Shot", [])


def test_hang_rate_knob(fpt_emulator: FptEmulator) -> None:
    sg = fpt_emulator.connect(timeout=0.3)
    fpt_emulator.faults.set(hang_rate=1.0, hang_seconds=10.0)  # released when the emulator stops
    with pytest.raises(TimeoutError):
        sg.find("Shot", [])
    fpt_emulator.faults.hang_rate = 0.0
    sg.close()
    assert sg.find("Shot", []) == []


def test_rollback_rate_knob(fpt_emulator: FptEmulator, sg: Any) -> None:
    fpt_emulator.faults.rollback_rate = 1.0
    with pytest.raises(shotgun_api3.Fault, match="deadlock"):
        sg.create("Shot", {"code": "never", "project": PROJECT})
    assert sg.find("Shot", []) == []  # reads are not affected
    assert fpt_emulator.site.rolled_back_event_ids
    assert fpt_emulator.site.events() == [] and fpt_emulator.writes == []
    fpt_emulator.faults.rollback_rate = 0.0
    assert sg.create("Shot", {"code": "kept", "project": PROJECT})["code"] == "kept"


def test_error_504_rate_knob(fpt_emulator: FptEmulator, sg: Any) -> None:
    sg.BACKOFF = 0.01
    fpt_emulator.clear_writes()
    fpt_emulator.faults.error_504_rate = 1.0
    with pytest.raises(ProtocolError) as info:
        sg.find("Shot", [])
    assert info.value.errcode == 504
    assert fpt_emulator.calls == ["read", "read", "read"]  # the client's three attempts


def test_user_login_and_session_token_auth_are_rejected(fpt_emulator: FptEmulator) -> None:
    by_login = shotgun_api3.Shotgun(fpt_emulator.url, login="ada.moreau", password="secret", connect=False)
    by_token = shotgun_api3.Shotgun(fpt_emulator.url, session_token="abc123", connect=False)
    for client in (by_login, by_token):
        client.config.timeout_secs = 5
        with pytest.raises(shotgun_api3.AuthenticationFault, match="authenticate"):
            client.find("Shot", [])
