"""The dispatch core with in-process fakes: matching, connections, stopOnError, effect once, logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import shotgun_api3
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from shotgun_events.dispatch import (
    CallbackSetupError,
    EffectLedger,
    EventFailed,
    InMemoryPersistenceLayer,
    PluginDispatcher,
)
from shotgun_events.events import MalformedEvent, encode_event
from shotgun_events.fpt import FptError, RetryPolicy
from shotgun_events.plugins import Plugin, RecordedMetrics, Registrar
from tests.dispatch.support import FakeConnections, LogLines
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


def test_the_callbacks_of_an_event_share_one_event_dict_with_an_aware_created_at() -> None:
    # GIVEN two callbacks, the first one changing the event it is given (as the daemon allowed)
    def mutate(sg: Any, logger: Any, event: dict[str, Any], args: Any) -> None:
        calls.seen.append(("mutate", sg, event, args))
        event["meta"]["new_value"] = "changed"

    calls, shared_args = Calls(), {"n": 0}
    plugin = make_plugin("p", cb("s", "k", mutate, None, shared_args), cb("s", "k", calls.make("after")))
    published = make_event(8, created_at=datetime(2026, 1, 1, 12, 0))  # naive: published as UTC

    # WHEN the event arrives as a message
    dispatcher(plugin).process_record(record(body_of(published)))

    # THEN both callbacks got the same dict (no copy per callback), created_at aware, args by reference
    (_, _, first, args), (_, _, second, _) = calls.seen
    assert first is second
    assert second["meta"]["new_value"] == "changed"
    assert first["created_at"] == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert args is shared_args


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


def test_stop_on_error_fails_the_record_and_the_later_callbacks_do_not_run(json_logs: LogLines) -> None:
    # GIVEN a stopOnError callback that raises, registered before another one
    calls, metrics = Calls(), RecordedMetrics()
    plugin = make_plugin(
        "p",
        cb("s", "k", calls.make("boom", ValueError("bad data"))),
        cb("s", "k", calls.make("after")),
    )
    # WHEN an event arrives THEN the record fails and, as in the daemon, the loop stops there
    with pytest.raises(EventFailed, match=r"event 11: callback\(s\) 0:boom of plugin p did not complete"):
        dispatcher(plugin, metrics=metrics).process_record(record(body_of(make_event(11))))
    assert calls.names == ["boom"]
    assert metrics.values[("p", "Failed")] == [1]
    assert metrics.values[("p", "RecordFailures")] == [1]
    (warning,) = json_logs.at("WARNING")
    assert (warning["failed_callbacks"], warning["not_run_callbacks"]) == (["0:boom"], ["1:after"])
    assert (warning["message_id"], warning["message_group"], warning["event_id"]) == ("m-1", "Shot:1", 11)
    (error,) = json_logs.at("ERROR")
    assert error["logger"] == "plugin.p.boom"
    assert (error["plugin"], error["callback"], error["event_id"]) == ("p", "boom", 11)
    assert error["stop_on_error"] is True
    assert "ValueError: bad data" in error["exception"]


def test_stop_on_error_false_logs_counts_and_the_loop_goes_on() -> None:
    # GIVEN a stopOnError=False callback that raises, registered before another one
    calls, metrics = Calls(), RecordedMetrics()
    plugin = make_plugin(
        "p",
        cb("s", "k", calls.make("flaky", KeyError("x")), stopOnError=False),
        cb("s", "k", calls.make("after")),
    )
    # WHEN an event is dispatched
    outcome = dispatcher(plugin, metrics=metrics).process_event(make_event(12))
    # THEN the error is counted, the next callback runs, and the event counts as processed
    assert calls.names == ["flaky", "after"]
    assert outcome.errors_ignored == ["0:flaky"] and outcome.completed == ["1:after"] and not outcome.failed
    assert metrics.values[("p", "Failed")] == [1]
    assert metrics.values[("p", "Processed")] == [1, 1]


def test_a_refused_script_key_fails_the_record_even_without_stop_on_error(json_logs: LogLines) -> None:
    # GIVEN a stopOnError=False callback whose script key FPT refuses (rotated, retired)
    calls, metrics = Calls(), RecordedMetrics()
    refused = shotgun_api3.AuthenticationFault("Can't authenticate script 's'")
    plugin = make_plugin(
        "p", cb("s", "k", calls.make("reads", refused), stopOnError=False), cb("s", "k", calls.make("after"))
    )
    subject = dispatcher(plugin, metrics=metrics)
    outcome = subject.process_event(make_event(15))
    # THEN it is not an ignored error: the record fails for a retry and the function is told to rebuild
    assert outcome.failed == ["0:reads"] and outcome.not_run == ["1:after"] and not outcome.errors_ignored
    assert subject.credentials_refused is True
    assert metrics.values[("p", "Failed")] == [1]
    (error,) = json_logs.at("ERROR")
    assert "FPT refused the script key of callback reads (s)" in error["message"]


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


class FailingStore(InMemoryPersistenceLayer):
    """An idempotency store that is down (DynamoDB throttled or unreachable)."""

    def _get_record(self, idempotency_key: str) -> DataRecord:
        raise ConnectionError("dynamodb unreachable")


class BusyStore(InMemoryPersistenceLayer):
    """Every effect is "in progress" in another execution (a record an earlier version wrote)."""

    def _get_record(self, idempotency_key: str) -> DataRecord:
        return DataRecord(
            idempotency_key=idempotency_key,
            status="INPROGRESS",
            expiry_timestamp=int(time.time() + 600),
            in_progress_expiry_timestamp=int((time.time() + 60) * 1000),
        )


@pytest.mark.parametrize(
    ("first", "store", "logged"),
    [
        (
            cb(None, None, Calls().make("unkeyed"), stopOnError=False),
            None,
            "registered without a script name",
        ),
        (cb("s", "k", Calls().make("busy")), BusyStore(), "already in progress"),
        (cb("s", "k", Calls().make("unstored")), FailingStore(), "dynamodb unreachable"),
    ],
    ids=["no_script_user", "in_progress", "store_error"],
)
def test_a_callback_run_that_cannot_happen_stops_the_loop_and_fails_the_record(
    first: Any, store: InMemoryPersistenceLayer | None, logged: str, json_logs: LogLines
) -> None:
    # GIVEN a first callback whose run fails for a reason outside the callback, then another one
    calls = Calls()
    plugin = make_plugin("p", first, cb("s", "k", calls.make("after")))
    ledger = ledger_for(plugin, store) if store is not None else None
    # WHEN an event arrives
    with pytest.raises(EventFailed):
        dispatcher(plugin, ledger=ledger).process_record(record(body_of(make_event(15))))
    # THEN the later callback did not run and the reason is logged
    assert calls.names == []
    assert any(logged in line["message"] for line in json_logs.records())
    (warning,) = [w for w in json_logs.at("WARNING") if "left in the queue" in w["message"]]
    assert warning["not_run_callbacks"] == ["1:after"]


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
    # The first try stops at flaky; the retry skips steady, runs flaky again, then the rest: in order.
    assert calls.names == ["steady", "flaky", "flaky", "ignored"]


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


def test_the_key_includes_the_site_so_two_sites_can_share_a_table() -> None:
    # GIVEN two sites' dispatchers of the same plugin sharing one idempotency store
    store, calls = InMemoryPersistenceLayer(), Calls()
    plugin = make_plugin("p", cb("s", "k", calls.make("cb")))
    for url in ("https://a.shotgrid.autodesk.com", "https://b.shotgrid.autodesk.com"):
        dispatch = PluginDispatcher(
            plugin, shotgun_url=url, connections=FakeConnections(), ledger=ledger_for(plugin, store)
        )
        # WHEN each site has its own event 32
        dispatch.process_event(make_event(32))
    # THEN both ran: the ids collide, the effects do not
    assert calls.names == ["cb", "cb"]
    assert len(store.records) == 2


def replay_record(body: str, replay: str, message_id: str = "m-r") -> SQSRecord:
    """A message `shotgun-events replay` sent: the replay id in its message attributes."""
    raw = dict(record(body, message_id))
    raw["messageAttributes"] = {"replay_id": {"stringValue": replay, "dataType": "String"}}
    return SQSRecord(raw)


def test_a_replay_runs_completed_callbacks_again_once_per_replay() -> None:
    # GIVEN an event whose callback completed when the poller delivered it
    calls, metrics, store = Calls(), RecordedMetrics(), InMemoryPersistenceLayer()
    plugin = make_plugin("p", cb("s", "k", calls.make("once")))
    dispatch = dispatcher(plugin, ledger=ledger_for(plugin, store), metrics=metrics)
    body = body_of(make_event(33))
    dispatch.process_record(record(body))
    # WHEN an operator replays it twice, and the first replay's message is delivered twice
    dispatch.process_record(replay_record(body, "r-1"))
    dispatch.process_record(replay_record(body, "r-1", message_id="m-r-again"))
    dispatch.process_record(replay_record(body, "r-2"))
    dispatch.process_record(record(body))  # and the poller's message comes again
    # THEN each replay ran it once, the redeliveries not at all
    assert calls.names == ["once", "once", "once"]
    assert metrics.total("p", "AlreadyProcessed") == 2
    assert len(store.records) == 3


class Killed(BaseException):
    """The Lambda dying mid-callback (timeout, out of memory): nothing after it runs."""


def test_a_crash_mid_callback_leaves_no_record_so_the_redelivery_runs_it_again() -> None:
    # GIVEN a callback whose function dies on its first run (timeout, out of memory)
    store, calls = InMemoryPersistenceLayer(), Calls()
    crashes = [Killed()]

    def fragile(sg: Any, logger: Any, event: dict[str, Any], args: Any) -> None:
        calls.seen.append(("fragile", sg, event, args))
        if crashes:
            raise crashes.pop()

    plugin = make_plugin("p", cb("s", "k", fragile))
    dispatch = dispatcher(plugin, ledger=ledger_for(plugin, store))
    with pytest.raises(Killed):
        dispatch.process_event(make_event(40))
    # THEN nothing is recorded (SQS FIFO redelivers only after the dead invocation's visibility
    # timeout), and the redelivery runs the callback again: at least once
    assert store.records == {}
    outcome = dispatch.process_event(make_event(40))
    assert outcome.completed == ["0:fragile"] and len(calls.seen) == 2


@pytest.mark.parametrize(("deadline_in", "runs"), [(60.0, False), (-1.0, True)])
def test_an_in_progress_record_holds_the_effect_until_its_deadline(deadline_in: float, runs: bool) -> None:
    # GIVEN the "in progress" record an earlier version wrote before running the callback
    store, calls = InMemoryPersistenceLayer(), Calls()
    plugin = make_plugin("p", cb("s", "k", calls.make("cb")))
    ledger = ledger_for(plugin, store)
    effect = {"site": URL, "plugin": "p", "callback": "0:cb", "event_id": 41}
    store.save_inprogress(effect, remaining_time_in_millis=int(deadline_in * 1000))
    # WHEN its event comes again
    outcome = dispatcher(plugin, ledger=ledger).process_event(make_event(41))
    # THEN it waits for the record's deadline, then runs
    assert (outcome.completed, outcome.failed) == ((["0:cb"], []) if runs else ([], ["0:cb"]))
    assert calls.names == (["cb"] if runs else [])


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
    local = timezone(timedelta(hours=-8))  # the client hands back aware datetimes in local time
    connections.get(URL, _creds("s")).events[60] = {**full, "created_at": T0.astimezone(local)}

    assert dispatcher(plugin, connections=connections).process_record(record(message.body)) == 60
    given = calls.seen[0][2]
    assert len(given["meta"]["new_value"]) == 300_000
    assert given["created_at"] == T0 and given["created_at"].utcoffset() == timedelta(0)  # as published
    (find,) = [c for c in connections.clients["s"].calls if c[0] == "find"]
    assert find[1][:2] == ("EventLogEntry", [["id", "in", [60]]])


REFERENCE_61 = json.dumps({"type": "EventLogEntryReference", "id": 61, "created_at": "2026-11-27T12:00:00Z"})


def test_a_reference_to_a_missing_event_fails_the_record_with_one_error_and_a_metric(
    json_logs: LogLines,
) -> None:
    # GIVEN a reference to an event FPT does not return
    metrics = RecordedMetrics()
    plugin = make_plugin("p", cb("s", "k", Calls().make("cb")))
    # WHEN it is processed THEN the record fails, and the log and the metrics say why
    with pytest.raises(LookupError, match="EventLogEntry 61"):
        dispatcher(plugin, metrics=metrics).process_record(record(REFERENCE_61, message_id="ref-61"))
    (error,) = json_logs.at("ERROR")
    assert (error["plugin"], error["event_id"], error["message_id"]) == ("p", 61, "ref-61")
    assert "EventNotFound" in error["message"] and "EventLogEntry 61" in error["message"]
    assert metrics.values[("p", "RecordFailures")] == [1]


class FlakyConnections(FakeConnections):
    """Clients whose event reads raise `errors` in turn before answering."""

    def __init__(self, errors: list[BaseException]) -> None:
        super().__init__()
        self.errors = errors

    def get(self, url: str, credentials: Any) -> Any:
        client = super().get(url, credentials)
        answer = type(client).find

        def find(*args: Any, **kwargs: Any) -> Any:
            if self.errors:
                raise self.errors.pop(0)
            return answer(client, *args, **kwargs)

        client.find = find  # type: ignore[method-assign]
        return client


def no_wait_retry(kinds: list[str]) -> RetryPolicy:
    return RetryPolicy(attempts=3, sleep=lambda seconds: None, on_error=kinds.append)


def test_a_transient_fpt_error_while_re_reading_is_retried_and_counted() -> None:
    # GIVEN FPT times out once on the re-read of an oversize event
    calls, kinds = Calls(), list[str]()
    connections = FlakyConnections([TimeoutError("read timed out")])
    connections.get(URL, _creds("s")).events[61] = make_event(61)
    plugin = make_plugin("p", cb("s", "k", calls.make("cb")))
    dispatch = PluginDispatcher(
        plugin,
        shotgun_url=URL,
        connections=connections,
        metrics=RecordedMetrics(),
        retry=no_wait_retry(kinds),
    )
    # WHEN the reference is processed THEN the read is retried (and counted) and the callback runs
    assert dispatch.process_record(record(REFERENCE_61)) == 61
    assert calls.names == ["cb"] and kinds == ["timeout"]


def test_fpt_failing_on_every_re_read_is_logged_and_counted(json_logs: LogLines) -> None:
    # GIVEN FPT keeps timing out
    kinds: list[str] = []
    metrics = RecordedMetrics()
    connections = FlakyConnections([TimeoutError("read timed out")] * 3)
    plugin = make_plugin("p", cb("s", "k", Calls().make("cb")))
    dispatch = PluginDispatcher(
        plugin, shotgun_url=URL, connections=connections, metrics=metrics, retry=no_wait_retry(kinds)
    )
    # WHEN the reference is processed THEN the record fails with one ERROR line naming the reason
    with pytest.raises(FptError):
        dispatch.process_record(record(REFERENCE_61, message_id="m-61", group="Shot:9"))
    assert kinds == ["timeout"] * 3
    (error,) = json_logs.at("ERROR")
    assert (error["plugin"], error["event_id"], error["message_id"], error["message_group"]) == (
        "p",
        61,
        "m-61",
        "Shot:9",
    )
    assert "FptError" in error["message"] and "read timed out" in error["message"]
    assert metrics.values[("p", "RecordFailures")] == [1]


def test_a_reference_for_a_plugin_without_script_user_is_logged_not_silent(json_logs: LogLines) -> None:
    # GIVEN a plugin whose only callback was registered without script name and key
    metrics = RecordedMetrics()
    plugin = make_plugin("p", cb(None, None, Calls().make("cb")))
    # WHEN a reference arrives THEN the record fails with one ERROR line and a metric
    with pytest.raises(CallbackSetupError):
        dispatcher(plugin, metrics=metrics).process_record(record(REFERENCE_61, message_id="m-61"))
    (error,) = json_logs.at("ERROR")
    assert (error["event_id"], error["message_id"]) == (61, "m-61")
    assert "no callback registered with a script name and key" in error["message"]
    assert metrics.values[("p", "RecordFailures")] == [1]


def test_an_unexpected_error_outside_the_callbacks_is_logged_with_its_traceback(json_logs: LogLines) -> None:
    # GIVEN a connection factory that breaks in a way nobody planned for
    class Broken(FakeConnections):
        def get(self, url: str, credentials: Any) -> Any:
            raise RuntimeError("connection cache corrupted")

    metrics = RecordedMetrics()
    plugin = make_plugin("p", cb("s", "k", Calls().make("cb")))
    # WHEN a reference is re-read THEN one ERROR line names the event, the message and the reason
    with pytest.raises(RuntimeError):
        dispatcher(plugin, metrics=metrics, connections=Broken()).process_record(
            record(REFERENCE_61, message_id="m-61")
        )
    (error,) = json_logs.at("ERROR")
    assert (error["event_id"], error["message_id"]) == (61, "m-61")
    assert "RuntimeError: connection cache corrupted" in error["message"]
    assert "Traceback" in error["exception"]
    assert metrics.values[("p", "RecordFailures")] == [1]


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
    assert metrics.values[("p", "RecordFailures")] == [1]
    (error,) = json_logs.at("ERROR")
    assert error["message_id"] == "bad-1" and why in error["message"]
    assert error["plugin"] == "p" and error["message_group"] == "Shot:1"


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


def test_records_held_back_behind_a_failure_are_each_logged_with_what_they_wait_for(
    json_logs: LogLines,
) -> None:
    # GIVEN a batch where shot 1's second event fails
    def picky(sg: Any, logger: Any, event: dict[str, Any], args: Any) -> None:
        if event["id"] == 2:
            raise ValueError("shot 1 is broken")

    metrics = RecordedMetrics()
    plugin = make_plugin("p", cb("s", "k", picky))
    # WHEN the batch is handled
    response = dispatcher(plugin, metrics=metrics).handle_batch(
        lambda_event(
            ("m1", "Shot:1", make_event(1, ("Shot", 1))),
            ("m2", "Shot:1", make_event(2, ("Shot", 1))),
            ("m3", "Shot:1", make_event(3, ("Shot", 1))),
            ("m4", "Shot:2", make_event(4, ("Shot", 2))),
            ("m5", "Shot:1", make_event(5, ("Shot", 1))),
        )
    )
    # THEN the records never run are failed too, and each is explained by one WARNING line
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m2", "m3", "m5"]
    held = [w for w in json_logs.at("WARNING") if "held back" in w["message"]]
    assert [(w["message_id"], w["event_id"], w["message_group"]) for w in held] == [
        ("m3", 3, "Shot:1"),
        ("m5", 5, "Shot:1"),
    ]
    assert all((w["held_back_by_message_id"], w["held_back_by_event_id"]) == ("m2", 2) for w in held)
    assert "behind failed message m2 (event 2)" in held[0]["message"]
    assert metrics.values[("p", "RecordsHeldBack")] == [1, 1]
    assert metrics.values[("p", "RecordFailures")] == [1]


def test_a_malformed_record_holds_back_only_its_own_group(json_logs: LogLines) -> None:
    # GIVEN a batch mixing good records with a non-JSON one (group Shot:1) and one without id (site)
    calls = Calls()
    plugin = make_plugin("p", cb("s", "k", calls.make("cb")))
    # WHEN the batch is handled
    response = dispatcher(plugin).handle_batch(
        lambda_event(
            ("m1", "Shot:1", make_event(1, ("Shot", 1))),
            ("m2", "Shot:1", "{not json"),
            ("m3", "Shot:2", make_event(3, ("Shot", 2))),
            ("m4", "site", json.dumps({"event_type": "Shotgun_User_Login"})),
            ("m5", "Shot:1", make_event(5, ("Shot", 1))),
            ("m6", "site", make_event(6, None, project_id=None)),
            ("m7", "Shot:2", make_event(7, ("Shot", 2))),
        )
    )
    # THEN the other group proceeds, and the held-back ones are logged as held back
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m2", "m4", "m5", "m6"]
    assert [s[2]["id"] for s in calls.seen] == [1, 3, 7]
    errors = json_logs.at("ERROR")
    assert [e["message_id"] for e in errors] == ["m2", "m4"]
    held = [w for w in json_logs.at("WARNING") if "held back" in w["message"]]
    assert [(w["message_id"], w["event_id"], w["held_back_by_message_id"]) for w in held] == [
        ("m5", 5, "m2"),
        ("m6", 6, "m4"),
    ]
    assert held[0].get("held_back_by_event_id") is None and "(event unknown)" in held[0]["message"]


def test_a_plugin_without_callbacks_consumes_its_events() -> None:
    # GIVEN a plugin that registered no callbacks (switched off by its own toggle)
    connections = FakeConnections()
    plugin = Plugin(name="p", path=Path("p.py"))
    # WHEN a batch arrives, an oversize reference included
    response = dispatcher(plugin, connections=connections).handle_batch(
        lambda_event(("m1", "Shot:1", make_event(1)), ("m2", "Shot:1", REFERENCE_61))
    )
    # THEN every record is processed (nothing to run, nothing re-read), none fails into the DLQ
    assert response == {"batchItemFailures": []}
    assert connections.requests == []


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
