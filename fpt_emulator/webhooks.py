"""FPT webhooks, emulated: committed events POSTed to a URL the way FPT delivers them.

What FPT does, and so what this does:

* Each committed event the webhook subscribes to is delivered once, after its commit. FPT sends
  no webhook for the field changes written while an entity is created (``in_create``): those are
  never delivered, nor is history loaded by ``preload_events``. ``event_types`` narrows the
  subscription (default: every event type).
* Body ``{"data": {...}, "timestamp": "2022-02-01T20:53:09Z"}``. ``data`` holds
  ``event_log_entry_id``, ``event_type``, ``operation`` (create, update, delete, revive; None for
  custom events), ``user``/``entity``/``project`` as ``{"type", "id"}``, ``meta``,
  ``attribute_name``, ``session_uuid``, ``delivery_id``, an ``id``, and ``created_at`` as
  ``"2022-02-01 20:53:08.000000"`` (space, no zone; the emulator keeps whole seconds). Batched
  webhooks send up to 50 deliveries per request under ``data.deliveries`` (always a list, even
  with one), with a millisecond ``timestamp``.
* A delivery over 1 MB loses ``meta.old_value`` and ``meta.new_value`` and gains a ``warning``.
* Headers: ``x-sg-webhook-id``, ``x-sg-delivery-id``, ``x-sg-event-batch-id``/``-size``/``-index``
  (here: the events of one commit, or of one batched request), ``x-sg-webhook-site-url``, and
  ``X-SG-SIGNATURE: sha1=<HMAC-SHA1 of the body with the token>`` when the webhook has a token.
* An answer under 400 is a success. An answer of 400 or more, a refused connection, or no answer
  within 6 s (batched: the larger of 6 s and 1 s per event) is a failed delivery. FPT never
  retries one. After 100 failures within 24 hours the webhook is ``failed`` and delivers nothing
  more; with fewer failures it is ``unstable``.

Not emulated: FPT's site-wide throttling (one minute of receiver time per minute) and its freedom
to deliver out of order. Here deliveries go out one at a time, in commit order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shotgun_events.events import EVENT_FIELDS

from .values import to_wire

if TYPE_CHECKING:
    from .store import Site
    from .transaction import Transaction

MAX_DELIVERY_BYTES = 1_000_000
BATCH_LIMIT = 50
RESPONSE_TIMEOUT = 6.0
SECONDS_PER_BATCHED_EVENT = 1.0
FAILURES_TO_FAIL = 100
FAILURE_WINDOW = 24 * 3600.0
OPERATIONS = {"New": "create", "Change": "update", "Retirement": "delete", "Revival": "revive"}
OVERSIZE_WARNING = (
    "This delivery was over 1 MB, so meta.old_value and meta.new_value were removed. "
    "Read EventLogEntry {id} through the API for the whole event."
)


@dataclass(frozen=True)
class DeliveryAttempt:
    """One request to the receiver and how it ended."""

    delivery_id: str
    event_ids: tuple[int, ...]
    delivered: bool
    status: int | None  # the HTTP status; None when there was no answer
    error: str | None
    seconds: float


def signature(body: bytes, token: str) -> str:
    """``X-SG-SIGNATURE``: ``sha1=`` and the hex HMAC-SHA1 of the body, keyed by the token.

    Written here on its own (not imported from the receiver) so a receiver bug cannot hide behind it.
    """
    return "sha1=" + hmac.new(token.encode("utf-8"), body, hashlib.sha1).hexdigest()


def webhook_created_at(value: Any) -> str:
    """``created_at`` as webhooks write it: ``2022-02-01 20:53:08.523887`` (UTC, no zone)."""
    if isinstance(value, str):
        value = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _bare(value: Any) -> Any:
    return {"type": value["type"], "id": value["id"]} if isinstance(value, dict) else value


def delivery_data(row: dict[str, Any], delivery_id: str, ordinal: str) -> dict[str, Any]:
    """One event as FPT puts it in a delivery, with the 1 MB rule applied."""
    event_type = str(row.get("event_type") or "")
    custom = not event_type.startswith("Shotgun_")
    data: dict[str, Any] = {
        "id": ordinal,
        "event_log_entry_id": row["id"],
        "event_type": event_type,
        "operation": None if custom else OPERATIONS.get(event_type.rsplit("_", 1)[-1]),
        "user": _bare(row.get("user")),
        "entity": _bare(row.get("entity")),
        "project": _bare(row.get("project")),
        "meta": row.get("meta"),
        "created_at": webhook_created_at(row["created_at"]),
        "attribute_name": row.get("attribute_name"),
        "session_uuid": row.get("session_uuid"),
        "delivery_id": delivery_id,
    }
    if len(json.dumps(data).encode()) > MAX_DELIVERY_BYTES and isinstance(data["meta"], dict):
        data["meta"] = {k: v for k, v in data["meta"].items() if k not in ("old_value", "new_value")}
        data["warning"] = OVERSIZE_WARNING.format(id=row["id"])
    return data


def _timestamp(now: float, millis: bool) -> str:
    stamp = datetime.fromtimestamp(now, UTC)
    if millis:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer under 400: delivered, not followed


class Webhook:
    """Delivers a site's committed events to ``url`` from a background thread.

    >>> hook = emu.add_webhook(url, token="s3cret")   # or Webhook(emu.site, url, ...).start()
    >>> ...                                          # commits happen
    >>> hook.wait_idle(5); hook.deliveries, hook.status
    """

    def __init__(
        self,
        site: Site,
        url: str,
        token: str | None = None,
        *,
        site_url: str = "",
        batched: bool = False,
        event_types: Collection[str] | None = None,
        timeout: float = RESPONSE_TIMEOUT,
        seconds_per_batched_event: float = SECONDS_PER_BATCHED_EVENT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.site = site
        self.url = url
        self.token = token
        self.site_url = site_url.rstrip("/") + "/"
        self.batched = batched
        self.event_types = frozenset(event_types) if event_types is not None else None
        self.timeout = timeout
        self.seconds_per_batched_event = seconds_per_batched_event
        self.webhook_id = str(uuid.uuid4())
        self._clock = clock
        self._commits: queue.Queue[list[int] | None] = queue.Queue()
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._lock = threading.Condition()
        self._busy = 0  # commits seen and not yet delivered
        self._batches = 0
        self._attempts: list[DeliveryAttempt] = []
        self._failures: deque[float] = deque()
        self._failed = False
        self._closed = False
        self._thread: threading.Thread | None = None
        site.on_commit(self._on_commit)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Webhook:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fpt-webhook", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Deliver nothing more (the request in flight, if any, finishes)."""
        self._closed = True
        self._commits.put(None)
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 5)
            self._thread = None

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every commit seen so far has been delivered (or has failed); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._busy == 0, timeout)

    # -- what happened -----------------------------------------------------------------------------

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        with self._lock:
            return list(self._attempts)

    @property
    def status(self) -> str:
        """``active``, ``unstable`` (failures in the last 24 h) or ``failed`` (delivers nothing)."""
        with self._lock:
            self._forget_old_failures()
            if self._failed:
                return "failed"
            return "unstable" if self._failures else "active"

    def delivered_ids(self) -> list[int]:
        """The event ids of successful deliveries, in delivery order."""
        return [i for a in self.deliveries if a.delivered for i in a.event_ids]

    # -- delivery ----------------------------------------------------------------------------------

    def _on_commit(self, tx: Transaction) -> None:
        # Runs in the committing thread: only note the ids, the worker does the rest. Direct
        # transactions load history (`preload_events`): already committed, never delivered.
        if self._closed or tx.direct or not tx.event_ids:
            return
        with self._lock:
            self._busy += 1
        self._commits.put(list(tx.event_ids))

    def _run(self) -> None:
        while (ids := self._commits.get()) is not None:
            try:
                if not self._closed and not self._failed:
                    self._deliver_commit(ids)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._lock.notify_all()

    def _deliver_commit(self, ids: list[int]) -> None:
        rows = [to_wire(r) for r in self.site.find("EventLogEntry", [["id", "in", ids]], list(EVENT_FIELDS))]
        rows = sorted((r for r in rows if self._subscribed(r)), key=lambda r: r["id"])
        if self.batched:
            for start in range(0, len(rows), BATCH_LIMIT):
                self._post_batch(rows[start : start + BATCH_LIMIT])
            return
        self._batches += 1
        for index, row in enumerate(rows):
            if self._closed or self._failed:
                return
            delivery_id = str(uuid.uuid4())
            body = {
                "data": delivery_data(row, delivery_id, f"{self._batches}.{index}.0"),
                "timestamp": _timestamp(self._clock(), millis=False),
            }
            headers = self._batch_headers(delivery_id, len(rows), index)
            self._post(body, headers, (row["id"],), delivery_id, self.timeout)

    def _post_batch(self, rows: list[dict[str, Any]]) -> None:
        if self._closed or self._failed or not rows:
            return
        self._batches += 1
        request_id = str(uuid.uuid4())
        deliveries = [
            delivery_data(row, str(uuid.uuid4()), f"{self._batches}.{i}.0") for i, row in enumerate(rows)
        ]
        body = {"timestamp": _timestamp(self._clock(), millis=True), "data": {"deliveries": deliveries}}
        allowance = max(self.timeout, self.seconds_per_batched_event * len(rows))
        headers = self._batch_headers(request_id, len(rows), 0)
        self._post(body, headers, tuple(r["id"] for r in rows), request_id, allowance)

    def _subscribed(self, row: dict[str, Any]) -> bool:
        meta = row.get("meta")
        if isinstance(meta, dict) and meta.get("in_create"):
            return False  # FPT sends no webhook for the fields set while an entity is created
        return self.event_types is None or row.get("event_type") in self.event_types

    def _batch_headers(self, delivery_id: str, size: int, index: int) -> dict[str, str]:
        return {
            "accept": "application/json",
            "content-type": "application/json; charset=utf-8",
            "x-sg-webhook-id": self.webhook_id,
            "x-sg-delivery-id": delivery_id,
            "x-sg-event-batch-id": str(self._batches),
            "x-sg-event-batch-size": str(size),
            "x-sg-event-batch-index": str(index),
            "x-sg-webhook-site-url": self.site_url,
        }

    def _post(
        self,
        body: dict[str, Any],
        headers: dict[str, str],
        event_ids: tuple[int, ...],
        delivery_id: str,
        allowance: float,
    ) -> None:
        raw = json.dumps(body).encode("utf-8")
        if self.token:
            headers["X-SG-SIGNATURE"] = signature(raw, self.token)
        request = urllib.request.Request(self.url, data=raw, headers=headers, method="POST")
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            with self._opener.open(request, timeout=allowance) as answer:
                status = answer.status
                answer.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (OSError, urllib.error.URLError) as exc:  # refused, reset, or no answer in time
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - started
        if status is not None and seconds > allowance:
            error = f"answered after {seconds:.1f} s (allowed {allowance:.1f} s)"
        delivered = status is not None and status < 400 and error is None
        if status is not None and status >= 400:
            error = f"HTTP {status}"
        with self._lock:
            self._attempts.append(DeliveryAttempt(delivery_id, event_ids, delivered, status, error, seconds))
            if not delivered:
                self._failures.append(self._clock())
                self._forget_old_failures()
                if len(self._failures) >= FAILURES_TO_FAIL:
                    self._failed = True

    def _forget_old_failures(self) -> None:
        horizon = self._clock() - FAILURE_WINDOW
        while self._failures and self._failures[0] < horizon:
            self._failures.popleft()
