"""Running one plugin's callbacks on events, the daemon's way, one SQS FIFO batch at a time.

For each event the callbacks whose `matchEvents` match run in registration order, each with its own
`shotgun_api3.Shotgun` (its script user) and its logger `plugin.<name>.<callback>`. As in the
daemon, the event's callbacks share one event dict (`created_at` an aware datetime) and each gets
its `args` by reference.

- A callback with `stopOnError=True` (the default) that raises stops the event there, as the daemon
  did (it deactivated the plugin and broke out of its loop): the later callbacks of the plugin do
  not run on this attempt and the record fails. SQS redelivers it; the ledger skips the callbacks
  that already completed, the failed one runs again, then the rest, so registration order is kept.
  After the queue's `maxReceiveCount` the record moves to the plugin's DLQ. Only its entity's
  later events wait (message group).
- With `stopOnError=False` the error is logged and counted and the loop goes on.
- FPT refusing the script key is never the event's fault (a rotated key, a script user retired):
  whatever `stopOnError` says, the record fails and is retried, and `credentials_refused` tells the
  function to read the plugin's secret and load the plugin again before its next batch.
- Any other failure of a callback run (no script name/key, "already in progress" elsewhere, the
  ledger's store failing) also stops the loop and fails the record.
- Each (site, plugin, callback, event id) that completed is recorded (`EffectLedger`): a redelivered
  or re-published event does not run a completed callback again.
- A message an operator replayed (`shotgun-events replay`) carries its replay id in the message
  attribute `REPLAY_ATTRIBUTE`; the id joins the effect key, so the replay runs the callbacks again
  even where they completed before, and still once per replay.
- Every record that fails is explained in the log: one ERROR line (or, for a callback failure, the
  callback's ERROR line and a WARNING naming the message), and one WARNING for each record the
  batch processor held back behind a failed record of its message group without running it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from shotgun_events.event_log import FptEventLog
from shotgun_events.events import (
    REPLAY_ATTRIBUTE,
    Event,
    MalformedEvent,
    decode_body,
    event_id_of,
    format_created_at,
    parse_created_at,
)
from shotgun_events.events import is_reference as is_reference_event
from shotgun_events.fpt import FptError, RetryPolicy, ScriptCredentials, classify
from shotgun_events.observability import count_fpt_error, logger
from shotgun_events.plugins.loader import Plugin
from shotgun_events.plugins.logs import log_context
from shotgun_events.plugins.matching import matches
from shotgun_events.plugins.metrics import MetricsSink, emf_metrics, flush_metrics
from shotgun_events.plugins.registrar import Registration

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shotgun_events.dispatch.ledger import EffectLedger

BODY_PREVIEW_CHARS = 500
# Time kept back from the invocation's deadline when retrying an FPT read (the call itself takes time).
READ_SAFETY_SECONDS = 5.0

COMPLETED = "completed"
ERROR_IGNORED = "error_ignored"
ALREADY_DONE = "already_done"
FAILED = "failed"


class Connections(Protocol):
    """Where clients come from: `shotgun_events.fpt.FptConnections` or a test's fake."""

    def get(self, url: str, credentials: ScriptCredentials) -> Any: ...


class CallbackError(RuntimeError):
    """A `stopOnError=True` callback raised; the original exception is the `__cause__`."""


class CallbackSetupError(RuntimeError):
    """A callback could not be given its connection (no script name/key); not the callback's fault."""


class CredentialsRefused(RuntimeError):
    """FPT refused a callback's script name and key: not the event's fault, so it is retried."""


class EventFailed(RuntimeError):
    """The record fails: a callback did not complete and must run again on redelivery."""


class EventNotFound(LookupError):
    """A reference message names an event FPT does not return (yet)."""


@dataclass
class EventOutcome:
    """What happened to one event, callback by callback (keys `<index>:<name>`).

    `not_run` lists the callbacks after a failure: they did not run on this attempt (the retry runs
    them, after the failed one).
    """

    event_id: int
    completed: list[str] = field(default_factory=list)
    errors_ignored: list[str] = field(default_factory=list)
    already_done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)


def _peek_event_id(body: Any) -> int | None:
    """The event id of a message body, when it has one (for log lines about records that failed)."""
    try:
        return event_id_of(decode_body(body))
    except MalformedEvent:
        return None


def _replay_of(record: Mapping[str, Any]) -> str | None:
    """The replay id an operator's replay put on the message (None for the poller's messages)."""
    attributes = record.get("messageAttributes")
    value = attributes.get(REPLAY_ATTRIBUTE) if isinstance(attributes, Mapping) else None
    replay = value.get("stringValue") if isinstance(value, Mapping) else None
    return replay if isinstance(replay, str) and replay else None


def _sqs_attributes(record: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """(message group, receive count) of a raw or wrapped SQS record, whatever it is missing."""
    attributes = record.get("attributes")
    if not isinstance(attributes, Mapping):
        return None, None
    count = attributes.get("ApproximateReceiveCount")
    group = attributes.get("MessageGroupId")
    return (
        group if isinstance(group, str) else None,
        int(count) if isinstance(count, str) and count.isdigit() else None,
    )


@dataclass
class _Failure:
    message_id: str
    event_id: int | None


@dataclass
class _BatchState:
    """What one batch's record handler saw: the records it was called for, the first failure per group."""

    handled: set[str] = field(default_factory=set)
    first_failure: dict[str | None, _Failure] = field(default_factory=dict)


class PluginDispatcher:
    """Dispatches events to the callbacks of one loaded, active plugin."""

    def __init__(
        self,
        plugin: Plugin,
        *,
        shotgun_url: str,
        connections: Connections,
        ledger: EffectLedger | None = None,
        use_session_uuid: bool = False,
        metrics: MetricsSink | None = None,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy | None = None,
    ):
        if not plugin.active:
            raise ValueError(f"plugin {plugin.name} is disabled: {plugin.error}")
        self.plugin = plugin
        self._url = shotgun_url
        self._connections = connections
        self._ledger = ledger
        self._use_session_uuid = use_session_uuid
        self._metrics = metrics or emf_metrics()
        self._clock = clock
        self._retry = retry or RetryPolicy(on_error=lambda kind: count_fpt_error(kind, plugin.name))
        self._context: LambdaContext | None = None
        self.credentials_refused = False  # FPT refused a script key: rebuild from the secret

    # -- batch ---------------------------------------------------------------------------------------

    def handle_batch(
        self, batch: dict[str, Any], context: LambdaContext | None = None
    ) -> PartialItemFailureResponse:
        """An SQS FIFO batch from Lambda's event source mapping -> `{"batchItemFailures": [...]}`.

        A failed record holds back the later records of its message group (its entity) only; each
        record held back is logged with the failed record it waits behind.
        """
        self._context = context
        state = _BatchState()

        def record_handler(record: SQSRecord) -> int:
            state.handled.add(record.message_id)
            try:
                return self.process_record(record)
            except Exception:
                group, _ = _sqs_attributes(record)
                state.first_failure.setdefault(
                    group, _Failure(record.message_id, _peek_event_id(record.body))
                )
                raise

        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # Always answer with the partial-failure shape, even when every record failed.
        processor.raise_on_entire_batch_failure = False
        try:
            response = process_partial_response(
                event=batch, record_handler=record_handler, processor=processor, context=context
            )
            self._report_held_back(batch, response, state)
        finally:
            flush_metrics(self._metrics)  # one EMF document for the batch
        return response

    def _report_held_back(
        self, batch: Mapping[str, Any], response: PartialItemFailureResponse, state: _BatchState
    ) -> None:
        """One WARNING per record failed without our handler being called (held back by its group)."""
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        held_back = failed - state.handled
        if not held_back:
            return
        for raw in batch.get("Records", []):
            message_id = raw.get("messageId") if isinstance(raw, Mapping) else None
            if message_id not in held_back:
                continue
            group, receive_count = _sqs_attributes(raw)
            event_id = _peek_event_id(raw.get("body"))
            blocker = state.first_failure.get(group)
            behind = (
                f"failed message {blocker.message_id} (event {blocker.event_id or 'unknown'})"
                if blocker
                else "a failed message"
            )
            self._count("RecordsHeldBack")
            logger.warning(
                f"message {message_id} (event {event_id or 'unknown'}) of plugin {self.plugin.name} was "
                f"not run: held back behind {behind} of its message group {group}; it is retried after "
                "it (and follows it to the DLQ after maxReceiveCount)",
                extra={
                    "plugin": self.plugin.name,
                    "event_id": event_id,
                    "message_id": message_id,
                    "message_group": group,
                    "receive_count": receive_count,
                    "held_back_by_message_id": blocker.message_id if blocker else None,
                    "held_back_by_event_id": blocker.event_id if blocker else None,
                },
            )

    def process_record(self, record: SQSRecord) -> int:
        """One SQS record: decode (SNS-wrapped or raw), re-read a reference, run the callbacks.

        Returns the event id; raises (after logging why, naming the message) when the record fails.
        """
        event_id: int | None = None
        try:
            event = decode_body(record.body)
        except MalformedEvent as exc:
            self._count("MalformedMessages")
            body = record.body if isinstance(record.body, str) else repr(record.body)
            self._record_failed(
                record,
                None,
                f"malformed message for plugin {self.plugin.name}: {exc}",
                None,
                body_preview=body[:BODY_PREVIEW_CHARS],
            )
            raise
        try:
            event_id = event_id_of(event)
            if is_reference_event(event):
                if not self.plugin.registrations:
                    return event_id  # nothing would run on it: no need to read it
                event = self.read_event(event_id)
            outcome = self.process_event(event, replay=_replay_of(record))
        except Exception as exc:
            expected = isinstance(exc, EventNotFound | FptError | CallbackSetupError)
            self._record_failed(
                record,
                event_id,
                f"event {event_id or 'unknown'} failed for plugin {self.plugin.name} before its callbacks "
                f"ran: {type(exc).__name__}: {exc}",
                None if expected else exc,
            )
            raise
        if outcome.failed:
            self._count("RecordFailures")
            group, receive_count = _sqs_attributes(record)
            logger.warning(
                "event left in the queue for a retry (the plugin's DLQ after maxReceiveCount)",
                extra={
                    "plugin": self.plugin.name,
                    "event_id": outcome.event_id,
                    "failed_callbacks": outcome.failed,
                    "not_run_callbacks": outcome.not_run,
                    "message_id": record.message_id,
                    "message_group": group,
                    "receive_count": receive_count,
                },
            )
            raise EventFailed(
                f"event {outcome.event_id}: callback(s) {', '.join(outcome.failed)} of plugin "
                f"{self.plugin.name} did not complete"
            )
        return outcome.event_id

    def _record_failed(
        self,
        record: SQSRecord,
        event_id: int | None,
        message: str,
        exc: BaseException | None,
        **extra: Any,
    ) -> None:
        self._count("RecordFailures")
        group, receive_count = _sqs_attributes(record)
        logger.error(
            f"{message}; message {record.message_id} is left in the queue for a retry",
            exc_info=exc,
            extra={
                "plugin": self.plugin.name,
                "event_id": event_id,
                "message_id": record.message_id,
                "message_group": group,
                "receive_count": receive_count,
                **extra,
            },
        )

    def read_event(self, event_id: int) -> Event:
        """The full event for a reference message, read from FPT by id (transient errors retried).

        Read as the plugin's first script user; `created_at` comes back as the published event's
        would (aware, UTC).
        """
        registration = next((r for r in self.plugin.registrations if r.has_script_user), None)
        if registration is None:
            raise CallbackSetupError(
                f"plugin {self.plugin.name} has no callback registered with a script name and key to "
                f"re-read event {event_id} with (is its environment variable set, e.g. in the plugin secret?)"
            )
        event_log = FptEventLog(self._connection(registration), self._retry, self._time_left())
        found = event_log.by_ids([event_id])
        if not found:
            raise EventNotFound(f"EventLogEntry {event_id} (sent as a reference) is not in FPT")
        event = dict(found[0])
        event["created_at"] = parse_created_at(format_created_at(event.get("created_at")))
        logger.info(
            "re-read oversize event from FPT", extra={"plugin": self.plugin.name, "event_id": event_id}
        )
        return event

    def _time_left(self) -> Callable[[], float] | None:
        context = self._context
        if context is None:
            return None
        return lambda: context.get_remaining_time_in_millis() / 1000 - READ_SAFETY_SECONDS

    # -- one event -----------------------------------------------------------------------------------

    def process_event(self, event: Event, *, replay: str | None = None) -> EventOutcome:
        """Run the matching callbacks in order on one event (as decoded: `created_at` aware).

        Stops at the first callback run that failed and must be retried (see the module docstring);
        failures are collected in the outcome, not raised (see `process_record`). `replay` is the
        operator's replay id the message carried: the effects are then that replay's own.
        """
        event_id = event_id_of(event)
        created_at = event.get("created_at")
        outcome = EventOutcome(event_id)
        registrations = self.plugin.registrations
        for position, registration in enumerate(registrations):
            if not matches(registration.match_events, event):
                outcome.skipped.append(registration.key)
                self._count("SkippedByMatch")
                continue
            status = self._attempt(registration, event, event_id, created_at, replay)
            if status == FAILED:
                outcome.failed.append(registration.key)
                outcome.not_run = [r.key for r in registrations[position + 1 :]]
                break
            if status == ERROR_IGNORED:
                outcome.errors_ignored.append(registration.key)
            elif status == ALREADY_DONE:
                outcome.already_done.append(registration.key)
            else:
                outcome.completed.append(registration.key)
        return outcome

    def _attempt(
        self, registration: Registration, event: Event, event_id: int, created_at: Any, replay: str | None
    ) -> str:
        """One callback run, through the ledger: its status; `FAILED` once the failure is logged."""
        try:
            return self._run_once(registration, event, event_id, created_at, replay)
        except CallbackError:
            return FAILED  # logged by the callback's logger
        except IdempotencyAlreadyInProgressError:
            logger.warning(
                "callback is already in progress for this event elsewhere; will retry",
                extra=self._fields(registration, event_id),
            )
        except Exception as exc:
            self._count("Failed")
            logger.error(
                f"could not run callback {registration.name}: {type(exc).__name__}: {exc}",
                exc_info=exc,
                extra=self._fields(registration, event_id),
            )
        return FAILED

    def _run_once(
        self, registration: Registration, event: Event, event_id: int, created_at: Any, replay: str | None
    ) -> str:
        def run() -> dict[str, Any]:
            return self._invoke(registration, event, event_id, created_at)

        if self._ledger is None:
            return str(run()["status"])
        effect: dict[str, Any] = {
            "site": self._url,
            "plugin": self.plugin.name,
            "callback": registration.key,
            "event_id": event_id,
        }
        if replay is not None:
            effect["replay"] = replay  # a replay's effects are its own (the poller's keys are unchanged)
        ran, result = self._ledger.run(effect, run)
        if ran:
            return str(result.get("status", COMPLETED))
        self._count("AlreadyProcessed")
        logger.info(
            "callback already completed for this event; not run again",
            extra={**self._fields(registration, event_id), "replay": replay},
        )
        return ALREADY_DONE

    def _invoke(
        self, registration: Registration, event: Event, event_id: int, created_at: Any
    ) -> dict[str, Any]:
        sg = self._connection(registration)
        if self._use_session_uuid:
            sg.set_session_uuid(event.get("session_uuid"))
        callback_logger = registration.logger
        started = self._clock()
        if isinstance(created_at, datetime):
            delay = max(0.0, started - created_at.timestamp()) * 1000
            self._count(
                "ProcessingDelay", round(delay, 1), MetricUnit.Milliseconds
            )  # 0.1 ms: fewer log bytes
        with log_context(plugin=self.plugin.name, callback=registration.name, event_id=event_id):
            try:
                registration.callback(sg, callback_logger, event, registration.args)
            except Exception as exc:
                if classify(exc)[0] == "auth":  # counted and logged as a failed run, in `_attempt`
                    self.credentials_refused = True
                    raise CredentialsRefused(
                        f"FPT refused the script key of callback {registration.name} "
                        f"({registration.script_name}): {type(exc).__name__}"
                    ) from None
                self._count("Failed")
                callback_logger.error(
                    f"callback {registration.name} failed on event {event_id}: {type(exc).__name__}: {exc}",
                    exc_info=exc,
                    extra={"stop_on_error": registration.stop_on_error},
                )
                if registration.stop_on_error:
                    raise CallbackError(f"{registration.key} raised {type(exc).__name__}") from exc
                self._count("Processed")
                return {"status": ERROR_IGNORED}
        # No duration metric: the plugin's function is its own, so Lambda's free Duration is it.
        self._count("Processed")
        return {"status": COMPLETED}

    def _connection(self, registration: Registration) -> Any:
        if not registration.has_script_user:
            raise CallbackSetupError(
                f"callback {registration.name} of plugin {self.plugin.name} was registered without a "
                "script name and key (is its environment variable set, e.g. in the plugin secret?)"
            )
        credentials = ScriptCredentials(registration.script_name, registration.script_key)
        return self._connections.get(self._url, credentials)

    def _fields(self, registration: Registration, event_id: int) -> dict[str, Any]:
        return {"plugin": self.plugin.name, "callback": registration.name, "event_id": event_id}

    def _count(self, name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
        self._metrics.add(self.plugin.name, name, value, unit)
