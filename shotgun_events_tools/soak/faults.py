"""What the soak breaks on the AWS side, through botocore's event hooks on real clients.

- `AwsFaults`: at `rate`, a call fails as a whole with `ClientError` (`Throttling` or
  `InternalError`), raised before the request leaves: an error that outlasted the SDK's own retries,
  so the product's code has to deal with it. A `PublishBatch` may instead lose some of its entries:
  they are not sent, and the answer lists them under `Failed`, as SNS answers 200 with per-entry
  failures.
- `PollerKiller`: the poller dies at a chosen point of its pass (before or after reading its state,
  publishing a batch, committing its cursor) with `PollerCrash`, a `BaseException` that no code of the
  product catches: to the product it is a process that stopped there, not a clean stop.

Both are attached to clients (`client.meta.events`) or to a boto3 `Session` before its clients are
made (`session.events`), and count what they did.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

# (service, operation) that fail at the fault rate: the poller's publishes, the event source's
# receives, deletes and visibility changes, the operator's sends when redriving.
FAULTED_OPERATIONS = (
    ("sns", "PublishBatch"),
    ("sqs", "ReceiveMessage"),
    ("sqs", "DeleteMessageBatch"),
    ("sqs", "ChangeMessageVisibilityBatch"),
    ("sqs", "SendMessage"),
    ("sqs", "DeleteMessage"),
)
ERROR_CODES = ("Throttling", "InternalError")

# Where the poller can die: the name, the client (sns or dynamodb) and the botocore event.
KILL_POINTS = {
    "before reading its state": ("dynamodb", "before-call.dynamodb.GetItem"),
    "before a publish": ("sns", "before-call.sns.PublishBatch"),
    "after a publish": ("sns", "after-call.sns.PublishBatch"),
    "before committing": ("dynamodb", "before-call.dynamodb.PutItem"),
    "after committing": ("dynamodb", "after-call.dynamodb.PutItem"),
}


class PollerCrash(BaseException):
    """The poller's process died here (a `BaseException`: nothing in the product catches it)."""


def client_error(code: str, operation: str) -> ClientError:
    """The error botocore raises for an AWS error answer (the parts of the answer it reads)."""
    response: Any = {
        "Error": {"Code": code, "Message": f"soak: injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": 400 if code == "Throttling" else 500},
    }
    return ClientError(response, operation)


class AwsFaults:
    """Fail `operations` at `rate` (see the module docstring); off until `enabled`."""

    def __init__(
        self,
        rate: float,
        seed: int | str = 1,
        operations: Iterable[tuple[str, str]] = FAULTED_OPERATIONS,
    ):
        self.rate = rate
        self.operations = tuple(operations)
        self.enabled = False
        self.counts: Counter[str] = Counter()  # "<operation> <code>" -> how many
        self._rng = random.Random(f"{seed}:aws-faults")
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """No faults for this thread's calls meanwhile (the soak's own inspection of the queues)."""
        self._local.suspended = True
        try:
            yield
        finally:
            self._local.suspended = False

    def _active(self) -> bool:
        return self.enabled and not getattr(self._local, "suspended", False)

    def attach(self, events: Any) -> None:
        """Register on a botocore event emitter: `session.events` or `client.meta.events`."""
        for service, operation in self.operations:
            events.register(
                f"before-call.{service}.{operation}", self._before_call, unique_id=f"soak-{operation}"
            )
        events.register("provide-client-params.sns.PublishBatch", self._drop_entries, unique_id="soak-drop")
        events.register("after-call.sns.PublishBatch", self._report_dropped, unique_id="soak-report")

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if not self._active() or context.get("soak_dropped") or self._draw() >= self.rate:
            return
        code = ERROR_CODES[int(self._draw() * len(ERROR_CODES))]
        self._count(f"{model.name} {code}")
        raise client_error(code, model.name)

    def _drop_entries(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """Some entries of a batch fail (not sent; reported as `Failed` by `_report_dropped`)."""
        entries = params.get("PublishBatchRequestEntries", [])
        if not self._active() or len(entries) < 2 or self._draw() >= self.rate:
            return
        with self._lock:
            dropped = self._rng.sample(entries, self._rng.randint(1, len(entries) - 1))
        params["PublishBatchRequestEntries"] = [e for e in entries if e not in dropped]
        context["soak_dropped"] = [e["Id"] for e in dropped]
        self._count(f"PublishBatch entries failed ({len(dropped)} of {len(entries)})")

    @staticmethod
    def _report_dropped(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        for entry_id in context.get("soak_dropped", []):
            parsed.setdefault("Failed", []).append(
                {"Id": entry_id, "Code": "InternalError", "SenderFault": False, "Message": "soak: injected"}
            )


@dataclass
class _Armed:
    point: str
    skip: int  # matching calls let through first


class PollerKiller:
    """Kills the poller once per `arm()`, at a random point of `KILL_POINTS` (module docstring)."""

    def __init__(self, seed: int | str = 1):
        self.fired: list[str] = []
        self._rng = random.Random(f"{seed}:poller-kills")
        self._armed: _Armed | None = None
        self._lock = threading.Lock()

    @property
    def armed(self) -> bool:
        with self._lock:
            return self._armed is not None

    @property
    def armed_at(self) -> str | None:
        with self._lock:
            return self._armed.point if self._armed else None

    def arm(self, point: str | None = None, skip: int | None = None) -> str:
        """The next matching call at `point` (default: a random one), after `skip` let through
        (default: up to three), kills the poller. Replaces a kill armed before."""
        with self._lock:
            chosen = point or self._rng.choice(sorted(KILL_POINTS))
            self._armed = _Armed(chosen, self._rng.randint(0, 3) if skip is None else skip)
            return chosen

    def attach(self, sns: Any, dynamodb: Any) -> None:
        """Register on the poller's own clients (again after each cold start: they are new)."""
        clients = {"sns": sns, "dynamodb": dynamodb}
        for point, (client, event) in KILL_POINTS.items():
            clients[client].meta.events.register(event, self._hook(point), unique_id=f"soak-kill-{point}")

    def _hook(self, point: str) -> Any:
        def maybe_kill(**_: Any) -> None:
            with self._lock:
                armed = self._armed
                if armed is None or armed.point != point:
                    return
                if armed.skip > 0:
                    armed.skip -= 1
                    return
                self._armed = None
                self.fired.append(point)
            raise PollerCrash(f"the poller was killed {point}")

        return maybe_kill
