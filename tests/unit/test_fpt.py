"""FPT client construction and the retry policy's classification of the client's errors."""

from __future__ import annotations

import http.client
import json

import pytest
import shotgun_api3

from shotgun_events.fpt import FptError, RetryPolicy, ScriptCredentials, classify, connect


def test_every_client_gets_a_timeout_and_no_network_until_used() -> None:
    sg = connect("https://studio.example.com", ScriptCredentials("poller", "k3y"), timeout_secs=12.5)
    assert sg.config.timeout_secs == 12.5


def test_credentials_never_show_the_key() -> None:
    assert "k3y" not in repr(ScriptCredentials("poller", "k3y"))


def protocol_error(code: int) -> shotgun_api3.ProtocolError:
    return shotgun_api3.ProtocolError("https://x/api3/json", code, "status", {})


@pytest.mark.parametrize(
    ("exc", "kind", "transient"),
    [
        (shotgun_api3.AuthenticationFault("Can't authenticate script 'x'"), "auth", False),
        (protocol_error(503), "http_5xx", True),
        (protocol_error(502), "http_5xx", True),
        (protocol_error(429), "throttled", True),
        (protocol_error(404), "http_4xx", False),
        (TimeoutError("timed out"), "timeout", True),
        (http.client.RemoteDisconnected("closed"), "disconnected", True),
        (ConnectionResetError(), "disconnected", True),
        (ConnectionRefusedError(), "unreachable", True),
        (json.JSONDecodeError("Expecting value", "<html>", 0), "bad_response", True),
        (shotgun_api3.Fault("API read() invalid filter"), "fault", False),
    ],
)
def test_classify(exc: Exception, kind: str, transient: bool) -> None:
    assert classify(exc) == (kind, transient)


def test_retry_stops_when_another_attempt_could_not_finish_in_time() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def hang() -> None:
        calls.append(1)
        raise TimeoutError("timed out")

    policy = RetryPolicy(attempt_timeout=5.0, sleep=sleeps.append)
    with pytest.raises(FptError, match="timeout"):
        policy.call("read", hang, time_left=lambda: 5.2)  # room for one attempt, not for a wait too
    assert len(calls) == 1 and sleeps == []


def test_retry_counts_every_error_by_kind_and_gives_up_after_attempts() -> None:
    kinds: list[str] = []

    def refuse() -> None:
        raise ConnectionRefusedError()

    policy = RetryPolicy(attempts=3, sleep=lambda s: None, on_error=kinds.append)
    with pytest.raises(FptError) as raised:
        policy.call("read", refuse)
    assert raised.value.kind == "unreachable" and kinds == ["unreachable"] * 3
