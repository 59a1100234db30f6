"""Bad requests get FPT's error payload (HTTP 200), never a crash or a hang of the server."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
import shotgun_api3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shotgun_events.emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator

AUTH = {"script_name": DEFAULT_SCRIPT_NAME, "script_key": DEFAULT_SCRIPT_KEY}


def post(emu: FptEmulator, body: bytes | str | dict[str, Any]) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    raw = raw.encode() if isinstance(raw, str) else raw
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    try:
        conn.request("POST", "/api3/json", raw, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


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
        sg.update("Task", task["id"], {"sg_sort_order": "high"})
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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["read", "create", "update", "delete", "revive", "batch", "schema_field_read"]),
    args=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=8)
        | st.sampled_from(["Shot", "code", "id"]),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
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
def test_fuzzed_calls_never_break_the_server(fpt_emulator: FptEmulator, method: str, args: Any) -> None:
    status, body = post(fpt_emulator, call(method, args))
    assert status == 200
    assert ("results" in body) != ("exception" in body)
    if "exception" in body:
        assert "internal error" not in body["message"], body["message"]
