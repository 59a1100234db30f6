"""The dispatch core with in-process fakes: matching, connections, stopOnError, effect once, logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shotgun_events.dispatch import (
    EffectLedger,
    EventFailed,
    InMemoryPersistenceLayer,
    PluginDispatcher,
)
from shotgun_events.events import MalformedEvent, encode_event
from shotgun_events.plugins import Plugin, RecordedMetrics, Registrar
from tests.dispatch.support import FakeConnections, FakeLambdaContext, LogLines
from tests.helpers import T0, make_event

URL = "https://studio.shotgrid.autodesk.com"
STATUS = {"Shotgun_Shot_Change": ["sg_status_list"]}


Registration = tuple[tuple[Any, ...], dict[str, Any]]


def cb(*args: Any, **kwargs: Any) -> Registration:
    """The arguments of one `reg.registerCallback(...)` call."""
    return args, kwargs


def make_plugin(name: str, *registrations: Registration) -> Plugin:
    """A loaded plugin whose registerCallbacks made these calls, in order."""
    reg = Registrar(name)
    for args, kwargs in registrations:
        reg.registerCallback(*args, **kwargs)
    return Plugin(name=name, path=Path(f"{name}.py"), registrations=reg.registrations)


class Calls:
    """Callbacks that record what they were given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, dict[str, Any], Any]] = []

    def make(self, name: str, fail: BaseException | None = None) -> Callable[..., None]:
        def callback(sg: Any, logger: logging.Logger, event: dict[str, Any], args: Any) -> None:
            self.seen.append((name, sg, event, args))
            if fail is not None:
                raise fail

        callback.__name__ = name
        return callback

    @property
    def names(self) -> list[str]:
        return [s[0] for s in self.seen]


def dispatcher(
    plugin: Plugin,
    *,
    ledger: EffectLedger | None = None,
    use_session_uuid: bool = False,
    metrics: RecordedMetrics | None = None,
    connections: FakeConnections | None = None,
    clock: Callable[[], float] = lambda: (T0 + timedelta(seconds=3)).timestamp(),
) -> PluginDispatcher:
    return PluginDispatcher(
        plugin,
        shotgun_url=URL,
        connections=connections or FakeConnections(),
        ledger=ledger,
        use_session_uuid=use_session_uuid,
        metrics=metrics or RecordedMetrics(),
        clock=clock,
    )


def record(body: str | dict[str, Any], message_id: str = "m-1", group: str = "Shot:1") -> SQSRecord:
    return SQSRecord(
        {
            "messageId": message_id,
            "receiptHandle": f"rh-{message_id}",
            "body": body if isinstance(body, str) else json.dumps(body),
            "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }
    )


def body_of(event: dict[str, Any]) -> str:
    return encode_event(event).body


# --- matching, order, arguments ------------------------------------------------------------------


def test_matching_callbacks_run_in_registration_order_with_their_args() -> None:
    calls, shared_args = Calls(), {"count": 0}
    plugin = make_plugin(
        "studio",
        cb("s1", "k1", calls.make("first"), STATUS, shared_args),
        cb("s2", "k2", calls.make("not_matching"), {"Shotgun_Task_New": None}),
        cb("s1", "k1", calls.make("last"), None, shared_args),
    )
    metrics = RecordedMetrics()
    outcome = dispatcher(plugin, metrics=metrics).process_event(make_event(7))

    assert calls.names == ["first", "last"]
    assert outcome.completed == ["0:first", "2:last"]
    assert outcome.skipped == ["1:not_matching"]
    assert calls.seen[0][3] is shared_args and calls.seen[1][3] is shared_args  # by reference
    assert metrics.values[("studio", "Processed")] == [1, 1]
    assert metrics.values[("studio", "SkippedByMatch")] == [1]
    assert metrics.values[("studio", "ProcessingDelay")] == [3000.0, 3000.0]


def test_callbacks_get_an_aware_created_at_and_their_own_copy_of_the_event() -> None:
    def mutate(sg: Any, logger: Any, event: dict[str, Any], args: Any) -> None:
        event["meta"]["new_value"] = "changed"

    calls = Calls()
    plugin = make_plugin(
        "p",
        cb("s", "k", mutate),
        cb("s", "k", calls.make("after")),
    )
    event = make_event(8, created_at=datetime(2026, 1, 1, 12, 0))  # naive: taken as UTC
    dispatcher(plugin).process_event(event)

    given = calls.seen[0][2]
    assert given["created_at"] == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert given["meta"]["new_value"] == "fin"
    assert event["meta"]["new_value"] == "fin"


def test_each_callback_gets_the_connection_of_its_script_user() -> None:
    calls, connections = Calls(), FakeConnections()
    plugin = make_plugin(
        "p",
        cb("script_a", "key_a", calls.make("a")),
        cb("script_b", "key_b", calls.make("b")),
    )
    dispatcher(plugin, connections=connections).process_event(make_event(9))
    assert [s[1].script_name for s in calls.seen] == ["script_a", "script_b"]
    assert connections.requests == [(URL, "script_a"), (URL, "script_b")]


@pytest.mark.parametrize("use_session_uuid", [True, False])
def test_session_uuid_is_set_before_each_callback_when_configured(use_session_uuid: bool) -> None:
    calls, connections = Calls(), FakeConnections()
    plugin = make_plugin("p", cb("s", "k", calls.make("a")))
    dispatcher(plugin, connections=connections, use_session_uuid=use_session_uuid).process_event(
        make_event(10)
    )
    expected = [("set_session_uuid", make_event(10)["session_uuid"])] if use_session_uuid else []
    assert connections.clients["s"].calls == expected


# --- errors -------------------------------------------------------------------------------------------


def test_stop_on_error_fails_the_record_but_the_other_callbacks_still_run(json_logs: LogLines) -> None:
    calls, metrics = Calls(), RecordedMetrics()
    plugin = make_plugin(
        "p",
        cb("s", "k", calls.make("boom", ValueError("bad data"))),
        cb("s", "k", calls.make("after")),
    )
    with pytest.raises(EventFailed, match=r"event 11: callback\(s\) 0:boom of plugin p did not complete"):
        dispatcher(plugin, metrics=metrics).process_record(record(body_of(make_event(11))))
    assert calls.names == ["boom", "after"]
    assert metrics.values[("p", "Failed")] == [1]
    (error,) = json_logs.at("ERROR")
    assert error["logger"] == "plugin.p.boom"
    assert (error["plugin"], error["callback"], error["event_id"]) == ("p", "boom", 11)
    assert error["stop_on_error"] is True
    assert "ValueError: bad data" in error["exception"]


def test_stop_on_error_false_logs_counts_and_treats_the_event_as_processed() -> None:
    metrics = RecordedMetrics()
    plugin = make_plugin(
        "p",
        cb("s", "k", Calls().make("flaky", KeyError("x")), stopOnError=False),
    )
    outcome = dispatcher(plugin, metrics=metrics).process_event(make_event(12))
    assert outcome.errors_ignored == ["0:flaky"] and not outcome.failed
    assert metrics.values[("p", "Failed")] == [1]
    assert metrics.values[("p", "Processed")] == [1]


def test_a_crash_logs_the_traceback_but_never_local_variables(json_logs: LogLines) -> None:
    def leaky(sg: Any, logger: Any, event: dict[str, Any], args: Any) -> None:
        api_key = args["key"]
        raise RuntimeError(f"failed after {len(api_key)} chars")

    secret = "s3cr3t-api-key-value"
    plugin = make_plugin("p", cb("s", "k", leaky, args={"key": secret}))
    outcome = dispatcher(plugin).process_event(make_event(13))
    assert outcome.failed == ["0:leaky"]
    assert secret not in json_logs.text
    (error,) = json_logs.at("ERROR")
    assert "Traceback" in error["exception"] and "RuntimeError: failed after 20 chars" in error["exception"]
    assert all(
        set(frame) == {"file", "line", "function", "statement"} for frame in error["stack_trace"]["frames"]
    )


def test_a_callback_without_script_credentials_fails_the_record_even_without_stop_on_error(
    json_logs: LogLines,
) -> None:
    calls = Calls()
    plugin = make_plugin("p", cb(None, None, calls.make("cb"), stopOnError=False))
    outcome = dispatcher(plugin).process_event(make_event(14))
    assert outcome.failed == ["0:cb"] and calls.names == []
    (error,) = json_logs.at("ERROR")
    assert "registered without a script name and key" in error["message"]


# --- effect once -------------------------------------------------------------------------------------


def ledger_for(plugin: Plugin, store: InMemoryPersistenceLayer) -> EffectLedger:
    return EffectLedger(store, key_prefix=f"plugin.{plugin.name}")


def test_a_redelivered_event_does_not_run_a_completed_callback_again() -> None:
    calls, metrics, store = Calls(), RecordedMetrics(), InMemoryPersistenceLayer()
    plugin = make_plugin("p", cb("s", "k", calls.make("once")))
    dispatch = dispatcher(plugin, ledger=ledger_for(plugin, store), metrics=metrics)

    first = dispatch.process_event(make_event(20))
    again = dispatch.process_event(make_event(20))

    assert calls.names == ["once"]
    assert (first.completed, again.already_done) == (["0:once"], ["0:once"])
    assert metrics.values[("p", "AlreadyProcessed")] == [1]
    assert len(store.records) == 1
    (key,) = store.records
    assert key.startswith("plugin.p#")


def test_a_retry_runs_only_the_callbacks_that_did_not_complete() -> None:
    calls, store = Calls(), InMemoryPersistenceLayer()
    failures = [ValueError("first try")]

    def flaky(sg: Any, logger: Any, event: dict[str, Any], args: Any) -> None:
        calls.seen.append(("flaky", sg, event, args))
        if failures:
            raise failures.pop()

    plugin = make_plugin(
        "p",
        cb("s", "k", calls.make("steady")),
        cb("s", "k", flaky),
        cb("s", "k", calls.make("ignored", KeyError("x")), stopOnError=False),
    )
    dispatch = dispatcher(plugin, ledger=ledger_for(plugin, store))
    with pytest.raises(EventFailed):
        dispatch.process_record(record(body_of(make_event(21))))
    assert dispatch.process_record(record(body_of(make_event(21)))) == 21
    assert calls.names == ["steady", "flaky", "ignored", "flaky"]


def test_the_key_is_per_plugin_callback_and_event() -> None:
    store = InMemoryPersistenceLayer()
    calls = Calls()
    a = make_plugin("a", cb("s", "k", calls.make("cb")))
    b = make_plugin("b", cb("s", "k", calls.make("cb")))
    dispatcher(a, ledger=ledger_for(a, store)).process_event(make_event(30))
    dispatcher(b, ledger=ledger_for(b, store)).process_event(make_event(30))
    dispatcher(a, ledger=ledger_for(a, store)).process_event(make_event(31))
    assert calls.names == ["cb", "cb", "cb"]
    assert len(store.records) == 3


class Killed(BaseException):
    """The Lambda dying mid-callback (timeout, out of memory): nothing after it runs."""


@pytest.mark.parametrize(("remaining_ms", "runs_again"), [(60_000, False), (0, True)])
def test_in_progress_after_a_crash_blocks_until_the_invocation_deadline(
    remaining_ms: int, runs_again: bool
) -> None:
    store, calls = InMemoryPersistenceLayer(), Calls()
    crashes = [Killed()]

    def fragile(sg: Any, logger: Any, event: dict[str, Any], args: Any) -> None:
        calls.seen.append(("fragile", sg, event, args))
        if crashes:
            raise crashes.pop()

    plugin = make_plugin("p", cb("s", "k", fragile))
    ledger = ledger_for(plugin, store)
    dispatch = dispatcher(plugin, ledger=ledger)
    ledger.start_invocation(FakeLambdaContext(remaining_ms=remaining_ms))  # type: ignore[arg-type]
    with pytest.raises(Killed):
        dispatch.process_event(make_event(40))

    time.sleep(0.01)  # past the crashed invocation's deadline when it had no time left
    ledger.start_invocation(FakeLambdaContext())  # type: ignore[arg-type]
    outcome = dispatch.process_event(make_event(40))
    if runs_again:
        assert outcome.completed == ["0:fragile"] and len(calls.seen) == 2
    else:
        assert outcome.failed == ["0:fragile"] and len(calls.seen) == 1


# --- messages ----------------------------------------------------------------------------------------


def test_sns_wrapped_and_raw_bodies_are_both_accepted() -> None:
    calls = Calls()
    plugin = make_plugin("p", cb("s", "k", calls.make("cb")))
    dispatch = dispatcher(plugin)
    raw = body_of(make_event(50))
    wrapped = json.dumps({"Type": "Notification", "MessageId": "x", "Message": body_of(make_event(51))})
    assert dispatch.process_record(record(raw)) == 50
    assert dispatch.process_record(record(wrapped)) == 51
    assert [s[2]["id"] for s in calls.seen] == [50, 51]
    assert all(isinstance(s[2]["created_at"], datetime) and s[2]["created_at"].tzinfo for s in calls.seen)


def test_a_reference_is_re_read_from_fpt_by_id() -> None:
    calls, connections = Calls(), FakeConnections()
    plugin = make_plugin("p", cb("s", "k", calls.make("cb")))
    full = make_event(60)
    full["meta"] = {"type": "attribute_change", "new_value": "x" * 300_000}
    message = encode_event(full)
    assert message.is_reference
    connections.get(URL, _creds("s")).events[60] = {**full, "created_at": T0.replace(tzinfo=None)}

    assert dispatcher(plugin, connections=connections).process_record(record(message.body)) == 60
    given = calls.seen[0][2]
    assert len(given["meta"]["new_value"]) == 300_000
    assert given["created_at"] == T0
    (find,) = [c for c in connections.clients["s"].calls if c[0] == "find_one"]
    assert find[1][:2] == ("EventLogEntry", [["id", "is", 60]])


def test_a_reference_to_a_missing_event_fails_the_record() -> None:
    plugin = make_plugin("p", cb("s", "k", Calls().make("cb")))
    body = json.dumps({"type": "EventLogEntryReference", "id": 61, "created_at": "2026-11-27T12:00:00Z"})
    with pytest.raises(LookupError, match="EventLogEntry 61"):
        dispatcher(plugin).process_record(record(body))


def _creds(name: str) -> Any:
    from shotgun_events.fpt import ScriptCredentials

    return ScriptCredentials(name, "k")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"event_type": "Shotgun_Shot_Change"}), "no positive integer id"),
        (json.dumps({"id": "12"}), "no positive integer id"),
        (json.dumps([1, 2]), "not an object"),
        (json.dumps({"Type": "Notification", "Message": "{oops"}), "not JSON"),
    ],
)
def test_malformed_bodies_fail_with_a_clear_error(body: str, why: str, json_logs: LogLines) -> None:
    calls, metrics = Calls(), RecordedMetrics()
    plugin = make_plugin("p", cb("s", "k", calls.make("cb")))
    with pytest.raises(MalformedEvent, match=why):
        dispatcher(plugin, metrics=metrics).process_record(record(body, message_id="bad-1"))
    assert calls.names == []
    assert metrics.values[("p", "MalformedMessages")] == [1]
    (error,) = json_logs.at("ERROR")
    assert error["message_id"] == "bad-1" and why in error["message"]


def test_unknown_fields_and_odd_meta_are_passed_through() -> None:
    calls = Calls()
    plugin = make_plugin("p", cb("s", "k", calls.make("cb")))
    event = {**json.loads(body_of(make_event(70))), "meta": ["not", "a", "dict"], "x_custom": {"a": 1}}
    dispatcher(plugin).process_record(record(json.dumps(event)))
    given = calls.seen[0][2]
    assert given["meta"] == ["not", "a", "dict"] and given["x_custom"] == {"a": 1}


# --- batches -----------------------------------------------------------------------------------------


def lambda_event(*items: tuple[str, str, dict[str, Any] | str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": mid,
                "receiptHandle": f"rh-{mid}",
                "body": body if isinstance(body, str) else body_of(body),
                "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for mid, group, body in items
        ]
    }


def test_a_failure_holds_back_only_its_entity() -> None:
    calls = Calls()

    def picky(sg: Any, logger: Any, event: dict[str, Any], args: Any) -> None:
        calls.seen.append(("picky", sg, event, args))
        if event["id"] == 2:
            raise ValueError("shot 1 is broken")

    plugin = make_plugin("p", cb("s", "k", picky))
    response = dispatcher(plugin).handle_batch(
        lambda_event(
            ("m1", "Shot:1", make_event(1, ("Shot", 1))),
            ("m2", "Shot:1", make_event(2, ("Shot", 1))),
            ("m3", "Shot:2", make_event(3, ("Shot", 2))),
            ("m4", "Shot:1", make_event(4, ("Shot", 1))),
            ("m5", "Shot:2", make_event(5, ("Shot", 2))),
        )
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m4"}]}
    assert [s[2]["id"] for s in calls.seen] == [1, 2, 3, 5]


def test_an_all_failed_batch_still_answers_with_partial_failures() -> None:
    plugin = make_plugin("p", cb("s", "k", Calls().make("cb", ValueError())))
    response = dispatcher(plugin).handle_batch(lambda_event(("m1", "Shot:1", make_event(1))))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_one_bad_record_does_not_affect_the_others() -> None:
    calls = Calls()
    plugin = make_plugin("p", cb("s", "k", calls.make("cb")))
    response = dispatcher(plugin).handle_batch(
        lambda_event(
            ("m1", "Shot:1", make_event(1, ("Shot", 1))),
            ("m2", "Shot:2", "{not json"),
            ("m3", "Shot:3", make_event(3, ("Shot", 3))),
        )
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert [s[2]["id"] for s in calls.seen] == [1, 3]


def test_plugin_logs_are_structured_with_event_plugin_and_callback(json_logs: LogLines) -> None:
    def chatty(sg: Any, logger: logging.Logger, event: dict[str, Any], args: Any) -> None:
        logger.info("looking at %s", event["entity"]["name"])
        logger.getChild("detail").warning("deeper")

    plugin = make_plugin("studio", cb("s", "k", chatty))
    dispatcher(plugin).process_event(make_event(80))
    info, warning = (r for r in json_logs.records() if r.get("logger", "").startswith("plugin."))
    assert info["message"] == "looking at Shot_1"
    assert (info["logger"], info["plugin"], info["callback"], info["event_id"]) == (
        "plugin.studio.chatty",
        "studio",
        "chatty",
        80,
    )
    assert (warning["logger"], warning["event_id"]) == ("plugin.studio.chatty.detail", 80)


def test_a_disabled_plugin_cannot_be_dispatched() -> None:
    with pytest.raises(ValueError, match="disabled: broken"):
        dispatcher(Plugin(name="p", path=Path("p.py"), error="broken"))
