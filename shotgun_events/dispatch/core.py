"""Running one plugin's callbacks on events, the daemon's way, one SQS FIFO batch at a time.

For each event every callback whose `matchEvents` matches runs in registration order, with its own
`shotgun_api3.Shotgun` (its script user), its logger `plugin.<name>.<callback>`, a copy of the
event (`created_at` an aware datetime) and its `args` (by reference, as the daemon).

- A callback with `stopOnError=True` (the default) that raises fails the record: SQS redelivers it
  and, after the queue's `maxReceiveCount`, moves it to the plugin's DLQ. Only its entity's later
  events wait (message group); the other callbacks of the event still run, as in the daemon.
- With `stopOnError=False` the error is logged and counted and the event counts as processed.
- Each (plugin, callback, event id) that completed is recorded (`EffectLedger`): a redelivered or
  re-published event does not run a completed callback again.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from shotgun_events.events import EVENT_FIELDS, EVENT_TYPE, Event, MalformedEvent, decode_body, event_id_of
from shotgun_events.events import is_reference as is_reference_event
from shotgun_events.fpt import ScriptCredentials
from shotgun_events.observability import logger
from shotgun_events.plugins.loader import Plugin
from shotgun_events.plugins.logs import log_context
from shotgun_events.plugins.matching import matches
from shotgun_events.plugins.metrics import MetricsSink, emf_metrics
from shotgun_events.plugins.registrar import Registration

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shotgun_events.dispatch.ledger import EffectLedger

BODY_PREVIEW_CHARS = 500


class Connections(Protocol):
    """Where clients come from: `shotgun_events.fpt.FptConnections` or a test's fake."""

    def get(self, url: str, credentials: ScriptCredentials) -> Any: ...


class CallbackError(RuntimeError):
    """A `stopOnError=True` callback raised; the original exception is the `__cause__`."""


class CallbackSetupError(RuntimeError):
    """A callback could not be given its connection (no script name/key); not the callback's fault."""


class EventFailed(RuntimeError):
    """The record fails: at least one callback did not complete and must run again on redelivery."""


class EventNotFound(LookupError):
    """A reference message names an event FPT does not return (yet)."""


@dataclass
class EventOutcome:
    """What happened to one event, callback by callback (keys `<index>:<name>`)."""

    event_id: int
    completed: list[str] = field(default_factory=list)
    errors_ignored: list[str] = field(default_factory=list)
    already_done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _aware(value: Any) -> Any:
    """created_at as the daemon handed it to plugins: an aware datetime (naive is taken as UTC)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


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

    # -- batch ---------------------------------------------------------------------------------------

    def handle_batch(
        self, batch: dict[str, Any], context: LambdaContext | None = None
    ) -> PartialItemFailureResponse:
        """An SQS FIFO batch from Lambda's event source mapping -> `{"batchItemFailures": [...]}`.

        A failed record holds back the later records of its message group (its entity) only.
        """
        if self._ledger is not None:
            self._ledger.start_invocation(context)
        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # Always answer with the partial-failure shape, even when every record failed.
        processor.raise_on_entire_batch_failure = False
        return process_partial_response(
            event=batch, record_handler=self.process_record, processor=processor, context=context
        )

    def process_record(self, record: SQSRecord) -> int:
        """One SQS record: decode (SNS-wrapped or raw), re-read a reference, run the callbacks."""
        try:
            event = decode_body(record.body)
        except MalformedEvent as exc:
            self._count("MalformedMessages")
            body = record.body if isinstance(record.body, str) else repr(record.body)
            logger.error(
                f"malformed message for plugin {self.plugin.name}: {exc}",
                extra={
                    "plugin": self.plugin.name,
                    "message_id": record.message_id,
                    "body_preview": body[:BODY_PREVIEW_CHARS],
                },
            )
            raise
        if is_reference_event(event):
            event = self.read_event(event_id_of(event))
        outcome = self.process_event(event)
        if outcome.failed:
            logger.warning(
                "event left in the queue for a retry (the plugin's DLQ after maxReceiveCount)",
                extra={
                    "plugin": self.plugin.name,
                    "event_id": outcome.event_id,
                    "failed_callbacks": outcome.failed,
                    "message_id": record.message_id,
                    "message_group": record.attributes.message_group_id,
                    "receive_count": record.attributes.approximate_receive_count,
                },
            )
            raise EventFailed(
                f"event {outcome.event_id}: callback(s) {', '.join(outcome.failed)} of plugin "
                f"{self.plugin.name} did not complete"
            )
        return outcome.event_id

    def read_event(self, event_id: int) -> Event:
        """The full event for a reference message, read from FPT by id with the plugin's first script user."""
        sg = self._connection(self.plugin.registrations[0])
        found = sg.find_one(EVENT_TYPE, [["id", "is", event_id]], list(EVENT_FIELDS))
        if not found:
            raise EventNotFound(f"EventLogEntry {event_id} (sent as a reference) is not in FPT")
        event = dict(found)
        event["created_at"] = _aware(event.get("created_at"))
        logger.info(
            "re-read oversize event from FPT", extra={"plugin": self.plugin.name, "event_id": event_id}
        )
        return event

    # -- one event -----------------------------------------------------------------------------------

    def process_event(self, event: Event) -> EventOutcome:
        """Run every matching callback once; failures are collected, not raised (see `process_record`)."""
        event_id = event_id_of(event)
        event = {**event, "created_at": _aware(event.get("created_at"))}
        outcome = EventOutcome(event_id)
        for registration in self.plugin.registrations:
            if not matches(registration.match_events, event):
                outcome.skipped.append(registration.key)
                self._count("SkippedByMatch")
                continue
            try:
                status = self._run_once(registration, event)
            except CallbackError:
                outcome.failed.append(registration.key)  # logged by the callback's logger
                continue
            except IdempotencyAlreadyInProgressError:
                outcome.failed.append(registration.key)
                logger.warning(
                    "callback is already in progress for this event elsewhere; will retry",
                    extra=self._fields(registration, event_id),
                )
                continue
            except Exception as exc:
                outcome.failed.append(registration.key)
                self._count("Failed")
                logger.error(
                    f"could not run callback {registration.name}: {type(exc).__name__}: {exc}",
                    exc_info=exc,
                    extra=self._fields(registration, event_id),
                )
                continue
            done = {"error_ignored": outcome.errors_ignored, "already_done": outcome.already_done}
            done.get(status, outcome.completed).append(registration.key)
        return outcome

    def _run_once(self, registration: Registration, event: Event) -> str:
        def run() -> dict[str, Any]:
            return self._invoke(registration, event)

        if self._ledger is None:
            return str(run()["status"])
        effect = {"plugin": self.plugin.name, "callback": registration.key, "event_id": event["id"]}
        ran, result = self._ledger.run(effect, run)
        if ran:
            return str(result.get("status", "completed"))
        self._count("AlreadyProcessed")
        logger.info(
            "callback already completed for this event; not run again",
            extra=self._fields(registration, event["id"]),
        )
        return "already_done"

    def _invoke(self, registration: Registration, event: Event) -> dict[str, Any]:
        sg = self._connection(registration)
        if self._use_session_uuid:
            sg.set_session_uuid(event.get("session_uuid"))
        callback_logger = registration.logger
        started = self._clock()
        created_at = event.get("created_at")
        if isinstance(created_at, datetime):
            self._count(
                "ProcessingDelay", max(0.0, started - created_at.timestamp()) * 1000, MetricUnit.Milliseconds
            )
        with log_context(plugin=self.plugin.name, callback=registration.name, event_id=event["id"]):
            try:
                registration.callback(sg, callback_logger, copy.deepcopy(event), registration.args)
            except Exception as exc:
                self._count("Failed")
                callback_logger.error(
                    f"callback {registration.name} failed on event {event['id']}: "
                    f"{type(exc).__name__}: {exc}",
                    exc_info=exc,
                    extra={"stop_on_error": registration.stop_on_error},
                )
                if registration.stop_on_error:
                    raise CallbackError(f"{registration.key} raised {type(exc).__name__}") from exc
                self._count("Processed")
                return {"status": "error_ignored"}
            finally:
                self._count("CallbackDuration", (self._clock() - started) * 1000, MetricUnit.Milliseconds)
        self._count("Processed")
        return {"status": "completed"}

    def _connection(self, registration: Registration) -> Any:
        name, key = registration.script_name, registration.script_key
        if not isinstance(name, str) or not name or not isinstance(key, str) or not key:
            raise CallbackSetupError(
                f"callback {registration.name} of plugin {self.plugin.name} was registered without a "
                "script name and key (is its environment variable set, e.g. in the plugin secret?)"
            )
        return self._connections.get(self._url, ScriptCredentials(name, key))

    def _fields(self, registration: Registration, event_id: int) -> dict[str, Any]:
        return {"plugin": self.plugin.name, "callback": registration.name, "event_id": event_id}

    def _count(self, name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
        self._metrics.add(self.plugin.name, name, value, unit)
