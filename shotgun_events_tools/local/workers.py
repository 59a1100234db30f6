"""One worker per plugin: its local queue (the store's deliveries) run through the dispatch core.

The worker takes ready group heads and runs each group in a thread of its own pool, so a plugin
runs up to `concurrency` entities at once and one entity's events in order. Each delivery goes to
`PluginDispatcher.handle_batch` as a one-record SQS FIFO batch (the Lambda path, unchanged), with a
Lambda context stand-in. Then, in one transaction that also holds its callbacks' effect-once records,
it is removed (done) and the group's next ready event taken; or it waits `retry_delay *
2**(attempt-1)` (at most `max_retry_delay`) and holds its group back; or, after `max_attempts`, it
moves to the dead letters and its group goes on.

Workers share nothing but the store: a plugin that fails, hangs or is slow delays only itself.
A disabled plugin's worker is paused: its events wait in the store until the file loads again.
A plugin an operator paused (`shotgun-events pause --local`) has no ready heads in the store, so its
worker takes nothing and waits as an idle one does; resumed, its next look (within `LONGEST_WAIT`:
the operator's process cannot wake it) takes its events again, from where they stopped.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shotgun_events.dispatch import PluginDispatcher
from shotgun_events.fpt import FptConnections, ScriptCredentials
from shotgun_events.observability import logger
from shotgun_events_tools.local.event_source import InvocationContext, failed_ids, lambda_record
from shotgun_events_tools.local.logs import ErrorNotes
from shotgun_events_tools.local.store import Delivery, LocalStore

# The deadline of one batch's invocation (Lambda's longest timeout): what FPT re-reads retry within.
INVOCATION_SECONDS = 15 * 60
LONGEST_WAIT = 1.0  # the scheduler looks at the store at least this often


class LocalMetrics:
    """`MetricsSink` keeping totals per (plugin, name), for the run's status lines (no EMF)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.totals: dict[tuple[str, str], float] = defaultdict(float)

    def add(self, plugin: str, name: str, value: float, unit: MetricUnit) -> None:
        if unit == MetricUnit.Count:
            with self._lock:
                self.totals[(plugin, name)] += value

    def of(self, plugin: str) -> dict[str, int]:
        with self._lock:
            return {name: int(v) for (p, name), v in sorted(self.totals.items()) if p == plugin}


class ThreadConnections:
    """`Connections` with one FPT client per thread and script user: a `shotgun_api3.Shotgun` holds
    one HTTP connection and is not safe to share between threads."""

    def __init__(self, timeout_secs: float):
        self._timeout = timeout_secs
        self._local = threading.local()

    def get(self, url: str, credentials: ScriptCredentials) -> Any:
        connections = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = FptConnections(self._timeout)
        return connections.get(url, credentials)


def sqs_record(delivery: Delivery, source: str) -> dict[str, Any]:
    """A delivery as the record Lambda's SQS event would carry for it."""
    message = {
        "MessageId": delivery.message_id,
        "ReceiptHandle": f"{delivery.message_id}:{delivery.attempts}",
        "Body": delivery.body,
        "Attributes": {
            "ApproximateReceiveCount": str(delivery.attempts),
            "SentTimestamp": str(int(delivery.enqueued_at * 1000)),
            "MessageGroupId": delivery.group_id,
            "MessageDeduplicationId": str(delivery.event_id),
            "SequenceNumber": str(delivery.event_id),
        },
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value} for name, value in delivery.attributes.items()
        },
    }
    return lambda_record(message, source)


@dataclass(frozen=True)
class RetryRule:
    max_attempts: int = 8  # with the delays below: about 20 minutes of retries before a dead letter
    retry_delay: float = 10.0
    max_retry_delay: float = 600.0

    def delay(self, attempt: int) -> float:
        """Backoff before attempt `attempt + 1`, with jitter (never less than half of it)."""
        return min(self.max_retry_delay, self.retry_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


class PluginWorker:
    """Runs one plugin's deliveries (see the module docstring)."""

    def __init__(
        self,
        name: str,
        store: LocalStore,
        *,
        concurrency: int,
        retry: RetryRule,
        notes: ErrorNotes,
        on_fatal: Callable[[BaseException], None],
    ):
        self.name = name
        self._store = store
        self._concurrency = concurrency
        self._retry = retry
        self._notes = notes
        self._on_fatal = on_fatal
        self._source = f"local:{store.path}:{name}"
        self._dispatcher: PluginDispatcher | None = None
        self._cond = threading.Condition()
        self._busy: set[str] = set()
        self._woken = False
        self._stopping = False
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"plugin-{name}")
        self._thread = threading.Thread(target=self._schedule, name=f"schedule-{name}", daemon=True)
        self.finished = 0
        self.retried = 0
        self.dead_lettered = 0

    # -- control ---------------------------------------------------------------------------------------

    def use(self, dispatcher: PluginDispatcher | None) -> None:
        """Run deliveries with `dispatcher` from now on (None: pause; the deliveries wait)."""
        with self._cond:
            self._dispatcher = dispatcher
        self.wake()

    @property
    def paused(self) -> bool:
        return self._dispatcher is None

    def wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Take nothing more; wait for the deliveries under way (a callback is never cut off)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        self._pool.shutdown(wait=True)

    # -- scheduling --------------------------------------------------------------------------------------

    def _schedule(self) -> None:
        try:
            while True:
                with self._cond:
                    if self._stopping:
                        return
                    dispatcher, free = self._dispatcher, self._concurrency - len(self._busy)
                wait = LONGEST_WAIT
                if dispatcher is not None and free > 0:
                    for delivery in self._store.take_ready(self.name, free):
                        with self._cond:
                            self._busy.add(delivery.group_id)
                        self._pool.submit(self._run_group, dispatcher, delivery)
                    ready_at = self._store.next_ready_at(self.name)
                    if ready_at is not None:
                        wait = min(LONGEST_WAIT, max(0.0, ready_at - time.time()))
                with self._cond:
                    if not self._woken and not self._stopping:
                        self._cond.wait(wait)
                    self._woken = False
        except BaseException as exc:
            self._on_fatal(exc)

    def _run_group(self, dispatcher: PluginDispatcher, delivery: Delivery) -> None:
        current: Delivery | None = delivery
        try:
            while current is not None:
                current = self._run_one(dispatcher, current)
        except BaseException as exc:  # the store failed: nothing more can be recorded
            self._on_fatal(exc)
        finally:
            with self._cond:
                self._busy.discard(delivery.group_id)
            self.wake()

    def _run_one(self, dispatcher: PluginDispatcher, delivery: Delivery) -> Delivery | None:
        """Run one delivery and settle it; the group's next delivery to run, if it goes on. The
        effect-once records of its callbacks commit in the settling transaction (`local.ledger`)."""
        with self._store.deferring():
            return self._run_and_settle(dispatcher, delivery)

    def _run_and_settle(self, dispatcher: PluginDispatcher, delivery: Delivery) -> Delivery | None:
        record = sqs_record(delivery, self._source)
        context = InvocationContext(f"plugin-{self.name}", INVOCATION_SECONDS)
        with self._notes.watch() as last_error:
            try:
                response = dispatcher.handle_batch({"Records": [record]}, context)  # type: ignore[arg-type]
                failed = failed_ids(response, [delivery.message_id]) != set()
            except (Exception, SystemExit) as exc:  # the core answers failures; this is a plugin's exit()
                logger.error(
                    f"plugin {self.name} stopped the dispatch of event {delivery.event_id}: "
                    f"{type(exc).__name__}: {exc}",
                    extra={"plugin": self.name, "event_id": delivery.event_id},
                )
                failed = True
        with self._cond:
            go_on = not self._stopping and self._dispatcher is dispatcher
            if not failed:
                self.finished += 1
            elif delivery.attempts >= self._retry.max_attempts:
                self.dead_lettered += 1
            else:
                self.retried += 1
        if not failed:
            return self._store.complete(delivery, take_next=go_on)
        reason = last_error() or f"event {delivery.event_id} did not complete for plugin {self.name}"
        fields = {
            "plugin": self.name,
            "event_id": delivery.event_id,
            "message_group": delivery.group_id,
            "attempts": delivery.attempts,
        }
        if delivery.attempts >= self._retry.max_attempts:
            logger.error(
                f"event {delivery.event_id} moved to the dead letters of plugin {self.name} after "
                f"{delivery.attempts} attempts; its entity's next events go on",
                extra={**fields, "reason": reason},
            )
            return self._store.dead_letter(delivery, reason, take_next=go_on)
        delay = self._retry.delay(delivery.attempts)
        logger.warning(
            f"event {delivery.event_id} failed for plugin {self.name}; attempt {delivery.attempts + 1} of "
            f"{self._retry.max_attempts} in {delay:.3g} s (its entity's later events wait)",
            extra={**fields, "retry_in": round(delay, 3)},
        )
        self._store.retry_later(delivery, time.time() + delay, reason)
        return None
