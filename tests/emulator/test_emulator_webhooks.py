"""The emulator's webhooks deliver committed events the way FPT does (shape, signature, 1 MB rule,
batching, failures)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fpt_emulator import FptEmulator
from fpt_emulator import webhooks as webhooks_module
from fpt_emulator.webhooks import MAX_DELIVERY_BYTES, webhook_created_at

PROJECT = {"type": "Project", "id": 1}
TOKEN = "emulator-webhook-token"


class Receiver:
    """A local HTTP endpoint that records what it receives and answers `status` after `delay` s."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.delay = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                owner.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(owner.delay)
                self.send_response(owner.status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_single_deliveries_have_fpt_shape_headers_and_signature(
    fpt_emulator: FptEmulator, sg: Any, receiver: Receiver
) -> None:
    hook = fpt_emulator.add_webhook(receiver.url, TOKEN)
    shot = sg.create("Shot", {"code": "SH010", "project": PROJECT, "description": "first"})
    sg.update("Shot", shot["id"], {"sg_status_list": "ip"})
    assert hook.wait_idle(5)

    events = {e["id"]: e for e in fpt_emulator.site.events()}
    new = next(e for e in events.values() if e["event_type"] == "Shotgun_Shot_New")
    change = next(
        e
        for e in events.values()
        if e["attribute_name"] == "sg_status_list" and e["meta"].get("new_value") == "ip"
    )
    in_create = [i for i, e in events.items() if (e["meta"] or {}).get("in_create")]
    assert in_create, "the create wrote in_create rows"
    delivered = [b["data"]["event_log_entry_id"] for b in receiver.bodies()]
    assert delivered == [new["id"], change["id"]]  # no webhook for the fields set by the create
    assert hook.delivered_ids() == delivered and hook.status == "active"

    headers, raw = receiver.requests[1]
    body = json.loads(raw)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])
    data = body["data"]
    assert data["event_type"] == "Shotgun_Shot_Change" and data["operation"] == "update"
    assert data["entity"] == {"type": "Shot", "id": shot["id"]}
    assert data["project"] == PROJECT
    assert data["user"] == fpt_emulator.api_user()
    assert data["attribute_name"] == "sg_status_list"
    assert data["meta"]["old_value"] == "wtg" and data["meta"]["new_value"] == "ip"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", data["created_at"])
    assert data["created_at"] == change["created_at"].strftime("%Y-%m-%d %H:%M:%S.000000")
    assert data["delivery_id"] == headers["x-sg-delivery-id"]
    assert receiver.bodies()[0]["data"]["operation"] == "create"

    expected = hmac.new(TOKEN.encode(), raw, hashlib.sha1).hexdigest()
    assert headers["x-sg-signature"] == f"sha1={expected}"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["x-sg-webhook-id"] == hook.webhook_id
    assert headers["x-sg-webhook-site-url"] == fpt_emulator.url + "/"
    assert {"x-sg-event-batch-id", "x-sg-event-batch-size", "x-sg-event-batch-index"} <= set(headers)


def test_without_a_token_deliveries_are_unsigned(
    fpt_emulator: FptEmulator, sg: Any, receiver: Receiver
) -> None:
    hook = fpt_emulator.add_webhook(receiver.url)
    sg.create("Shot", {"code": "SH011", "project": PROJECT})
    assert hook.wait_idle(5)
    assert receiver.requests and all("x-sg-signature" not in h for h, _ in receiver.requests)


def test_batched_deliveries_carry_up_to_50_events(fpt_emulator: FptEmulator, receiver: Receiver) -> None:
    hook = fpt_emulator.add_webhook(receiver.url, TOKEN, batched=True)
    shots = [
        fpt_emulator.site.create("Shot", {"code": f"B{i}", "project": PROJECT}, events=False)
        for i in range(60)
    ]
    with fpt_emulator.transaction() as tx:
        for shot in shots:
            tx.update("Shot", shot["id"], {"sg_status_list": "ip"})
    assert hook.wait_idle(5)
    bodies = receiver.bodies()
    assert [len(b["data"]["deliveries"]) for b in bodies] == [50, 10]
    ids = [d["event_log_entry_id"] for b in bodies for d in b["data"]["deliveries"]]
    assert ids == sorted(tx.event_ids) and ids == hook.delivered_ids()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", bodies[0]["timestamp"])
    assert receiver.requests[0][0]["x-sg-event-batch-size"] == "50"
    one = fpt_emulator.site.create("Shot", {"code": "B-one", "project": PROJECT})
    assert hook.wait_idle(5)
    assert receiver.bodies()[-1]["data"]["deliveries"][0]["entity"]["id"] == one["id"]  # a list even for one


def test_over_1_mb_the_values_are_dropped_and_a_warning_added(
    fpt_emulator: FptEmulator, sg: Any, receiver: Receiver
) -> None:
    hook = fpt_emulator.add_webhook(receiver.url, TOKEN)
    shot = fpt_emulator.site.create("Shot", {"code": "BIG", "project": PROJECT}, events=False)
    text = "storyboard " * (MAX_DELIVERY_BYTES // 10)
    sg.update("Shot", shot["id"], {"description": text})
    sg.update("Shot", shot["id"], {"sg_status_list": "ip"})
    assert hook.wait_idle(10)
    big, small = (b["data"] for b in receiver.bodies())
    assert "old_value" not in big["meta"] and "new_value" not in big["meta"]
    assert f"EventLogEntry {big['event_log_entry_id']}" in big["warning"]
    assert big["meta"]["attribute_name"] == "description"
    assert small["meta"]["new_value"] == "ip" and "warning" not in small
    stored = fpt_emulator.site.find("EventLogEntry", [["id", "is", big["event_log_entry_id"]]], ["meta"])
    assert stored[0]["meta"]["new_value"] == text  # the event log keeps the whole event


def test_a_slow_receiver_or_an_error_is_a_failed_delivery_never_retried(
    fpt_emulator: FptEmulator, sg: Any, receiver: Receiver
) -> None:
    hook = fpt_emulator.add_webhook(receiver.url, TOKEN, timeout=0.3)
    receiver.delay = 0.8
    sg.create("Shot", {"code": "SLOW", "project": PROJECT})
    assert hook.wait_idle(5)
    receiver.delay, receiver.status = 0.0, 500
    sg.create("Shot", {"code": "ERR", "project": PROJECT})
    assert hook.wait_idle(5)
    receiver.status = 302
    sg.create("Shot", {"code": "REDIRECT", "project": PROJECT})
    assert hook.wait_idle(5)
    slow, error, redirect = hook.deliveries
    assert not slow.delivered and slow.status is None and "timed out" in str(slow.error)
    assert not error.delivered and error.status == 500
    assert redirect.delivered and redirect.status == 302  # under 400: a success, not followed
    assert len(receiver.requests) == 3  # nothing retried
    assert hook.status == "unstable"


def test_an_unreachable_receiver_fails_and_enough_failures_mark_the_webhook_failed(
    fpt_emulator: FptEmulator, sg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks_module, "FAILURES_TO_FAIL", 3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    hook = fpt_emulator.add_webhook(f"http://127.0.0.1:{port}/", TOKEN)
    for i in range(5):
        sg.create("Shot", {"code": f"DOWN{i}", "project": PROJECT})
    assert hook.wait_idle(10)
    assert len(hook.deliveries) == 3 and not any(a.delivered for a in hook.deliveries)
    assert "Connection refused" in str(hook.deliveries[0].error)
    assert hook.status == "failed"


def test_subscription_narrows_to_event_types_and_stop_ends_deliveries(
    fpt_emulator: FptEmulator, sg: Any, receiver: Receiver
) -> None:
    hook = fpt_emulator.add_webhook(receiver.url, TOKEN, event_types={"Shotgun_Shot_Change"})
    shot = sg.create("Shot", {"code": "SUB", "project": PROJECT})
    sg.update("Shot", shot["id"], {"sg_status_list": "ip"})
    assert hook.wait_idle(5)
    assert [b["data"]["event_type"] for b in receiver.bodies()] == ["Shotgun_Shot_Change"]
    hook.stop()
    sg.update("Shot", shot["id"], {"sg_status_list": "fin"})
    time.sleep(0.2)
    assert len(receiver.requests) == 1


def test_a_late_commit_is_delivered_when_it_commits(fpt_emulator: FptEmulator, receiver: Receiver) -> None:
    hook = fpt_emulator.add_webhook(receiver.url, TOKEN)
    shot = fpt_emulator.site.create("Shot", {"code": "LATE", "project": PROJECT}, events=False)
    with fpt_emulator.transaction(commit_after=0.3) as late:
        late.update("Shot", shot["id"], {"sg_status_list": "hld"})
    assert hook.wait_idle(5) and receiver.requests == []  # nothing before the commit
    assert fpt_emulator.wait_for_commits(5) and hook.wait_idle(5)
    assert hook.delivered_ids() == late.event_ids


def test_preloaded_history_is_not_delivered(fpt_emulator: FptEmulator, receiver: Receiver) -> None:
    hook = fpt_emulator.add_webhook(receiver.url, TOKEN)
    fpt_emulator.preload_events(300)
    assert hook.wait_idle(5) and receiver.requests == []


def test_created_at_form() -> None:
    assert webhook_created_at("2022-02-01T20:53:08Z") == "2022-02-01 20:53:08.000000"
