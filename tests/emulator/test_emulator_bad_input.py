"""Bad requests get FPT's error payload (HTTP 200), never a crash or a hang of the server."""

from __future__ import annotations

import http.client
import json
import logging
import socket
from typing import Any

import pytest
import shotgun_api3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpt_emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator

AUTH = {"script_name": DEFAULT_SCRIPT_NAME, "script_key": DEFAULT_SCRIPT_KEY}


def _no_constants(name: str) -> Any:
    raise AssertionError(f"the emulator sent {name}, which is not JSON")


def post(emu: FptEmulator, body: bytes | str | dict[str, Any]) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    raw = raw.encode() if isinstance(raw, str) else raw
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    try:
        conn.request("POST", "/api3/json", raw, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read(), parse_constant=_no_constants)
    finally:
        conn.close()


def raw_exchange(emu: FptEmulator, request: bytes) -> bytes:
    """Send raw bytes and read everything until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def answers_in(received: bytes) -> list[dict[str, Any]]:
    """The JSON bodies of the HTTP responses in ``received`` (Content-Length framed)."""
    bodies = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        bodies.append(json.loads(rest[:length]))
        received = rest[length:]
    return bodies


def call(method: str, args: Any = None, auth: Any = AUTH) -> dict[str, Any]:
    params: list[Any] = [auth] if auth is not None else []
    if args is not None:
        params.append(args)
    return {"method_name": method, "params": params}


def assert_fault(answer: tuple[int, dict[str, Any]], code: int, text: str) -> None:
    status, body = answer
    assert status == 200
    assert body["exception"] is True
    assert body["error_code"] == code
    assert text in body["message"]


def test_malformed_json(fpt_emulator: FptEmulator) -> None:
    assert_fault(post(fpt_emulator, b"{not json"), 103, "Unable to parse JSON")
    assert_fault(post(fpt_emulator, b"\xff\xfe"), 103, "Unable to parse JSON")
    assert_fault(post(fpt_emulator, b""), 103, "Unable to parse JSON")
    assert_fault(post(fpt_emulator, b"[1, 2]"), 103, "method_name")
    assert_fault(post(fpt_emulator, {"method_name": "read", "params": "x"}), 103, "params")


def test_unknown_method_and_missing_auth(fpt_emulator: FptEmulator) -> None:
    assert_fault(post(fpt_emulator, call("frobnicate", {})), 103, "Unknown method: frobnicate")
    assert_fault(post(fpt_emulator, call("read", {"type": "Shot"}, auth=None)), 102, "authentication")
    assert_fault(post(fpt_emulator, call("read", None, auth="nope")), 102, "authentication")
    status, body = post(fpt_emulator, call("info", auth=None))
    assert status == 200 and body["results"]["version"] == [8, 50, 0]


def test_bad_read_arguments(fpt_emulator: FptEmulator) -> None:
    assert_fault(post(fpt_emulator, call("read", {"type": "Nope"})), 103, "Entity type 'Nope' does not exist")
    assert_fault(post(fpt_emulator, call("read", {"type": "Shot", "filters": "x"})), 103, "invalid filter")
    bad_group = {"type": "Shot", "filters": {"logical_operator": "xor", "conditions": []}}
    assert_fault(post(fpt_emulator, call("read", bad_group)), 103, "logical_operator")
    bad_condition = {
        "type": "Shot",
        "filters": {"logical_operator": "and", "conditions": [["code", "is", "x"]]},
    }
    assert_fault(post(fpt_emulator, call("read", bad_condition)), 103, "invalid filter condition")
    no_values = {"type": "Shot", "filters": {"logical_operator": "and", "conditions": [{"path": "code"}]}}
    assert_fault(post(fpt_emulator, call("read", no_values)), 103, "invalid filter condition")
    assert_fault(
        post(fpt_emulator, call("read", {"type": "Shot", "paging": {"current_page": 0}})), 103, "page"
    )
    assert_fault(post(fpt_emulator, call("read", {"type": "Shot", "sorts": "code"})), 103, "sorts")
    assert_fault(post(fpt_emulator, call("read", {"type": "Shot", "return_only": "all"})), 103, "return_only")
    assert_fault(post(fpt_emulator, call("read", [1, 2])), 103, "Hash")


def test_bad_writes(fpt_emulator: FptEmulator, sg: Any) -> None:
    fields = [{"field_name": "code", "value": "ok"}]
    assert_fault(
        post(fpt_emulator, call("create", {"type": "Nope", "fields": fields})), 103, "does not exist"
    )
    assert_fault(post(fpt_emulator, call("create", {"type": "Shot", "fields": {"code": 1}})), 103, "Array")
    assert_fault(
        post(fpt_emulator, call("create", {"type": "Shot", "fields": [{"value": 1}]})), 103, "field_name"
    )
    assert_fault(
        post(fpt_emulator, call("update", {"type": "Shot", "id": "1", "fields": fields})), 103, "Integer"
    )
    assert_fault(post(fpt_emulator, call("batch", {"not": "a list"})), 103, "Array")
    assert_fault(
        post(fpt_emulator, call("batch", [{"request_type": "explode", "type": "Shot"}])), 103, "explode"
    )
    project = {"type": "Project", "id": 1}
    cases = [
        ({"code": "x", "nope": 1}, "Shot.nope doesn't exist"),
        ({"code": 12}, "Invalid value 12"),
        ({"sg_cut_in": "12"}, "Invalid value '12'"),
        ({"sg_cut_in": True}, "Invalid value True"),
        ({"sg_status_list": "done"}, "not in the list of valid values"),
        ({"sg_sequence": {"type": "Sequence", "id": 9999}}, "does not exist"),
        ({"sg_sequence": {"type": "Asset", "id": 1}}, "not valid for this field"),
        ({"sg_sequence": "SQ010"}, "Invalid entity hash"),
        ({"assets": {"type": "Asset", "id": 1}}, "Invalid value"),
        ({"created_at": "2024-01-01T00:00:00Z"}, "is read only"),
        ({"project": project, "sg_shot_type": "Bogus"}, "not in the list"),
    ]
    for data, message in cases:
        with pytest.raises(shotgun_api3.Fault, match=message):
            sg.create("Shot", data)
    task = sg.create("Task", {"content": "x", "project": project})
    with pytest.raises(shotgun_api3.Fault, match="Invalid value"):
        sg.update("Task", task["id"], {"start_date": "03/04/2024"})
    with pytest.raises(shotgun_api3.Fault, match="Invalid value"):
        sg.update("Task", task["id"], {"est_in_mins": "high"})
    assert fpt_emulator.site.entity_count("Shot") == 0


def test_other_paths_and_verbs(fpt_emulator: FptEmulator) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", fpt_emulator.port, timeout=5)
    conn.request("GET", "/")
    response = conn.getresponse()
    assert response.status == 200 and b"emulator" in response.read()
    conn.request("POST", "/api2/whatever", b"{}")
    response = conn.getresponse()
    assert response.status == 404
    response.read()
    conn.close()
    # The unread body of a request to another path is never taken for a next request.
    smuggled = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    head = b"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(smuggled)
    received = raw_exchange(fpt_emulator, head + smuggled)
    assert received.startswith(b"HTTP/1.1 404") and received.count(b"HTTP/1.1") == 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["read", "create", "update", "delete", "revive", "batch", "schema_field_read"]),
    depth=st.sampled_from([0, 0, 0, 50, 99, 101, 3000]),
    args=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=-(10**400), max_value=10**400)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, 2**31, 2**63])
        | st.text(max_size=8)
        | st.sampled_from(["Shot", "Task", "code", "id", "sg_sort_order", "sg_cut_in", "is", "in_last"]),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "entities_per_page",
                        "current_page",
                        "type",
                        "id",
                        "fields",
                        "filters",
                        "paging",
                        "conditions",
                        "path",
                        "relation",
                        "values",
                        "logical_operator",
                        "return_fields",
                        "sorts",
                        "field_name",
                        "value",
                    ]
                ),
                children,
                max_size=5,
            )
        ),
        max_leaves=12,
    ),
)
def test_fuzzed_calls_never_break_the_server(
    fpt_emulator: FptEmulator, method: str, depth: int, args: Any
) -> None:
    # ``depth`` wraps the arguments in that many arrays, written out by hand (json.dumps itself
    # would recurse too deep); NaN and Infinity are sent as Python writes them.
    text = "[" * depth + json.dumps(args) + "]" * depth
    status, body = post(fpt_emulator, f'{{"method_name":"{method}","params":[{auth_json()},{text}]}}')
    assert status == 200  # and the answer parsed without NaN or Infinity in it
    assert ("results" in body) != ("exception" in body)
    if "exception" in body:
        assert "internal error" not in body["message"], body["message"]


def auth_json() -> str:
    return json.dumps(AUTH)


def test_deep_nesting_is_refused_not_a_dropped_connection(fpt_emulator: FptEmulator, sg: Any) -> None:
    # Deeper than the JSON decoder's recursion limit, and merely deeper than the emulator allows.
    assert_fault(post(fpt_emulator, b"[" * 100_000 + b"]" * 100_000), 103, "nested too deeply")
    meta = "[" * 150 + "1" + "]" * 150
    body = (
        f'{{"method_name":"create","params":[{auth_json()},{{"type":"EventLogEntry","fields":['
        f'{{"field_name":"event_type","value":"X"}},{{"field_name":"meta","value":{meta}}}]}}]}}'
    )
    assert_fault(post(fpt_emulator, body), 103, "nested deeper than")
    group: dict[str, Any] = {"path": "code", "relation": "is", "values": ["x"]}
    for _ in range(300):
        group = {"logical_operator": "and", "conditions": [group]}
    assert_fault(post(fpt_emulator, call("read", {"type": "Shot", "filters": group})), 103, "nested")
    assert sg.find("EventLogEntry", [], ["meta"]) == []  # nothing stored; the server still serves


def test_oversized_body_is_refused_without_reading_it(fpt_emulator: FptEmulator, sg: Any) -> None:
    request = (
        b"POST /api3/json HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000\r\n\r\n"
        b'{"method_name": "info", "params": []}'
    )
    (answer,) = answers_in(raw_exchange(fpt_emulator, request))  # then the server closed
    assert answer["exception"] is True and "too large" in answer["message"]
    assert sg.find("Shot", []) == []


def test_chunked_bodies_are_decoded_and_bad_framing_closes(fpt_emulator: FptEmulator) -> None:
    body = json.dumps(call("read", {"type": "Step", "return_fields": ["code"]})).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    head = b"POST /api3/json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    received = raw_exchange(
        fpt_emulator, head + b"\r\n" + chunked + head + b"Connection: close\r\n\r\n" + chunked
    )
    first, second = answers_in(received)  # two requests on one connection, both understood
    assert len(first["results"]["entities"]) == 8 and first == second
    # Bad chunk framing: one error answer, then the connection is closed, so what follows is
    # never taken for a next request.
    smuggled = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    received = raw_exchange(fpt_emulator, head + b"\r\nzz\r\n{}\r\n0\r\n\r\n" + smuggled)
    (answer,) = answers_in(received)
    assert answer["exception"] is True and "chunked" in answer["message"]


def test_an_unexpected_error_gets_a_generic_fault_and_is_logged(
    fpt_emulator: FptEmulator, sg: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(payload: Any, decision: Any = None) -> Any:
        raise RuntimeError("a bug in the emulator")

    monkeypatch.setattr(fpt_emulator.api, "handle", broken)
    with (
        caplog.at_level(logging.ERROR, logger="fpt_emulator.server"),
        pytest.raises(shotgun_api3.Fault, match="internal server error"),
    ):
        sg.find("Shot", [])
    assert any("a bug in the emulator" in (r.exc_text or "") for r in caplog.records)
    monkeypatch.undo()
    assert sg.find("Shot", []) == []


def read_with(condition: str) -> bytes:
    return (
        f'{{"method_name":"read","params":[{auth_json()},{{"type":"Shot","filters":'
        f'{{"logical_operator":"and","conditions":[{condition}]}}}}]}}'
    ).encode()


def create_with(entity_type: str, field: str, value: str, **more: Any) -> bytes:
    """A create whose ``field`` is set to the raw JSON text ``value``."""
    others = "".join(f',{{"field_name":"{k}","value":{json.dumps(v)}}}' for k, v in more.items())
    return (
        f'{{"method_name":"create","params":[{auth_json()},{{"type":"{entity_type}","fields":['
        f'{{"field_name":"{field}","value":{value}}}{others}]}}]}}'
    ).encode()


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (read_with('{"path":"id","relation":"is","values":[1e400]}'), 103, "invalid values [inf]"),
        (read_with('{"path":"id","relation":"greater_than","values":[-1e400]}'), 103, "invalid values"),
        (read_with('{"path":"id","relation":"between","values":[1, 1e400]}'), 103, "invalid values"),
        (read_with('{"path":"sg_cut_in","relation":"less_than","values":[1e999]}'), 103, "invalid values"),
        (read_with('{"path":"id","relation":"greater_than","values":[NaN]}'), 103, "NaN is not valid JSON"),
        (read_with('{"path":"id","relation":"in","values":[Infinity]}'), 103, "Infinity is not valid JSON"),
        (create_with("Version", "sg_movie_aspect_ratio", "1" + "0" * 400), 104, "out of range"),
        (create_with("Version", "sg_movie_aspect_ratio", "1e400"), 104, "out of range"),
        (create_with("Version", "sg_movie_aspect_ratio", "NaN"), 103, "NaN is not valid JSON"),
        (create_with("Version", "sg_movie_aspect_ratio", "-Infinity"), 103, "-Infinity is not valid JSON"),
        (create_with("Shot", "sg_cut_in", "1" + "0" * 400), 104, "out of range"),
        (create_with("EventLogEntry", "meta", '{"a": [1e400]}', event_type="X"), 104, "not a finite number"),
    ],
)
def test_invalid_numbers_get_fpts_validation_error(
    fpt_emulator: FptEmulator, body: bytes, code: int, message: str
) -> None:
    answer = post(fpt_emulator, body)
    assert_fault(answer, code, message)
    assert "internal error" not in answer[1]["message"]
    assert fpt_emulator.site.entity_count("Task") == fpt_emulator.site.entity_count("Shot") == 0


def test_null_paging_values_mean_the_defaults(fpt_emulator: FptEmulator) -> None:
    tx = fpt_emulator.site.begin(quiet=True)
    for i in range(501):
        tx.create("Version", {"code": f"v{i}", "project": {"type": "Project", "id": 1}})
    tx.commit()
    paging = {"entities_per_page": None, "current_page": None}
    status, body = post(fpt_emulator, call("read", {"type": "Version", "paging": paging}))
    assert status == 200
    assert len(body["results"]["entities"]) == 500 and body["results"]["paging_info"]["has_next_page"]
    args = {"type": "Version", "paging": paging, "return_paging_info": True}
    status, body = post(fpt_emulator, call("read", args))
    assert body["results"]["paging_info"] == {"entity_count": 501, "current_page": 1, "page_count": 2}


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        ({"script_name": [1], "script_key": DEFAULT_SCRIPT_KEY}, 102),
        ({"script_name": {"a": 1}, "script_key": DEFAULT_SCRIPT_KEY}, 102),
        ({"script_name": DEFAULT_SCRIPT_NAME, "script_key": 5}, 102),
        ({**AUTH, "sudo_as_login": ["admin"]}, 102),
        ({"user_login": ["x"], "user_password": "y"}, 102),
        ({"session_token": 7}, 102),
        ({**AUTH, "session_uuid": {"a": 1}}, 103),
    ],
)
def test_auth_values_of_the_wrong_type(fpt_emulator: FptEmulator, auth: dict[str, Any], code: int) -> None:
    answer = post(fpt_emulator, call("read", {"type": "Shot"}, auth=auth))
    assert_fault(answer, code, "")
    assert "internal error" not in answer[1]["message"]
