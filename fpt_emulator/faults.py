"""Fault knobs: how the emulated site misbehaves, deterministically under a seed.

Rates draw from a seeded RNG; ``fail_next`` scripts exact faults for the next matching calls so a
test can break, say, the third page of a paged read. Every HTTP request to ``/api3/json`` is one
call (the client's own retries are separate calls). All knobs are safe to change from any thread
while the server runs.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

WRITE_METHODS = frozenset({"create", "update", "delete", "revive", "batch"})


class FaultKind(StrEnum):
    """What a faulty call does, as the client sees it."""

    #: HTTP 503: the client raises ``ProtocolError`` at once (no retry).
    HTTP_503 = "503"
    #: HTTP 502: the client retries (3 attempts, ``Shotgun.BACKOFF`` apart) then ``ProtocolError``.
    HTTP_502 = "502"
    #: HTTP 504: as 502.
    HTTP_504 = "504"
    #: Close the socket after reading the request, before doing anything: the client sees
    #: ``http.client.RemoteDisconnected`` (its HTTP layer silently retries the first one once).
    DROP = "drop"
    #: Do the work and commit, then close without answering: the client cannot know it succeeded.
    DROP_AFTER_COMMIT = "drop_after_commit"
    #: Answer nothing for ``Faults.hang_seconds`` (the client's ``timeout_secs`` fires first).
    HANG = "hang"
    #: FPT's authentication error (HTTP 200, ``error_code`` 102): ``AuthenticationFault``.
    AUTH = "auth"
    #: A generic FPT error (HTTP 200, ``exception``): ``Fault``.
    ERROR = "error"
    #: Writes only: the change starts (event ids allocated), then rolls back with an error.
    ROLLBACK = "rollback"
    #: Writes only: hold the commit open ``seconds`` before answering (ids gap, then fill).
    HOLD = "hold"


_WRITE_ONLY = frozenset({FaultKind.ROLLBACK, FaultKind.HOLD, FaultKind.DROP_AFTER_COMMIT})
#: Faults that make sense for any request, ``info`` and undecodable bodies included: they happen
#: before the request is understood. Others (auth, errors) apply to calls that are run with
#: credentials, so an unscoped scripted fault never lands on ``info`` (which needs no auth).
_TRANSPORT = frozenset(
    {FaultKind.HTTP_502, FaultKind.HTTP_503, FaultKind.HTTP_504, FaultKind.DROP, FaultKind.HANG}
)


@dataclass
class Decision:
    """What to do with one call."""

    kind: FaultKind | None = None
    latency: float = 0.0
    seconds: float = 0.0
    message: str = ""


@dataclass
class _Scripted:
    kind: FaultKind
    count: int
    methods: frozenset[str] | None
    skip: int
    seconds: float
    message: str

    def matches(self, method: str | None) -> bool:
        if self.kind in _WRITE_ONLY and method not in WRITE_METHODS:
            return False
        if self.methods is not None:
            return method in self.methods
        return self.kind in _TRANSPORT or method not in (None, "info")


class _Knob:
    """A float knob guarded by the owner's lock and checked on assignment."""

    def __init__(self, default: float, upper: float | None = None) -> None:
        self.default = default
        self.upper = upper
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = "_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> float:
        if obj is None:
            return self.default
        with obj._lock:
            return float(getattr(obj, self.name, self.default))

    def __set__(self, obj: Any, value: float) -> None:
        value = float(value)
        if value < 0 or (self.upper is not None and value > self.upper):
            raise ValueError(f"{self.name[1:]} must be between 0 and {self.upper or 'inf'}, got {value}")
        with obj._lock:
            setattr(obj, self.name, value)


class Faults:
    """Runtime-settable fault knobs of one emulator."""

    #: Seconds added to every call.
    latency = _Knob(0.0)
    #: Up to this many extra seconds, drawn per call.
    latency_jitter = _Knob(0.0)
    #: Fraction of calls answered with HTTP 503 / 502 / 504.
    error_503_rate = _Knob(0.0, 1.0)
    error_502_rate = _Knob(0.0, 1.0)
    error_504_rate = _Knob(0.0, 1.0)
    #: Fraction of calls whose connection is closed with no answer.
    drop_rate = _Knob(0.0, 1.0)
    #: Fraction of calls that hang (for ``hang_seconds``).
    hang_rate = _Knob(0.0, 1.0)
    #: How long a hang lasts before the server closes the socket (bounded: never forever).
    hang_seconds = _Knob(30.0)
    #: Fraction of writes that start, then roll back with an error.
    rollback_rate = _Knob(0.0, 1.0)
    #: Every write over HTTP holds its commit open this many seconds.
    commit_delay = _Knob(0.0)

    def __init__(self, seed: int | str = 1) -> None:
        self._lock = threading.RLock()
        self._rng = random.Random(f"{seed}:faults")
        self._scripted: list[_Scripted] = []
        self._auth_fail: set[str] = set()

    def set(self, **knobs: float) -> None:
        """Set several knobs at once: ``faults.set(latency=0.01, error_503_rate=0.2)``."""
        for name, value in knobs.items():
            if not isinstance(vars(type(self)).get(name), _Knob):
                raise AttributeError(f"unknown fault knob {name!r}")
            setattr(self, name, value)

    def reset(self) -> None:
        """Back to a well-behaved site (knobs, scripted faults and auth failures)."""
        with self._lock:
            for name, knob in vars(type(self)).items():
                if isinstance(knob, _Knob):
                    setattr(self, name, knob.default)
            self._scripted.clear()
            self._auth_fail.clear()

    def fail_next(
        self,
        n: int = 1,
        kind: FaultKind | str = FaultKind.HTTP_503,
        *,
        method: str | Iterable[str] | None = None,
        after: int = 0,
        seconds: float = 0.0,
        message: str = "",
    ) -> None:
        """Fault the next ``n`` calls (of ``method``, if given) after letting ``after`` through.

        ``after`` counts matching calls that were let through: a call faulted by another knob
        does not count. Without ``method``, an ``AUTH`` or ``ERROR`` fault skips ``info`` (which
        needs no auth); name ``method="info"`` to fault it anyway. ``seconds`` is the hold time
        for ``HOLD`` (and overrides ``hang_seconds`` for ``HANG``).
        """
        kind = FaultKind(kind)
        methods = None if method is None else frozenset([method] if isinstance(method, str) else method)
        with self._lock:
            self._scripted.append(_Scripted(kind, n, methods, after, seconds, message))

    def hold_next_writes(self, n: int, seconds: float) -> None:
        """Hold the commit of the next ``n`` HTTP writes open for ``seconds``."""
        self.fail_next(n, FaultKind.HOLD, seconds=seconds)

    def fail_auth(self, script_name: str) -> None:
        """Reject this script's calls with FPT's authentication error until restored."""
        with self._lock:
            self._auth_fail.add(script_name)

    def restore_auth(self, script_name: str) -> None:
        with self._lock:
            self._auth_fail.discard(script_name)

    def auth_fails(self, script_name: str | None) -> bool:
        with self._lock:
            return script_name in self._auth_fail

    @property
    def pending(self) -> int:
        """Scripted faults not yet used up."""
        with self._lock:
            return sum(s.count for s in self._scripted)

    def decide(self, method: str | None) -> Decision:
        """The fault (if any) and latency for one call; consumes scripted faults and RNG draws."""
        with self._lock:
            decision = Decision(latency=self.latency)
            if self.latency_jitter:
                decision.latency += self._rng.uniform(0, self.latency_jitter)
            matching = [s for s in self._scripted if s.matches(method)]
            chosen = next((s for s in matching if s.skip <= 0), None)
            if chosen is not None:
                decision.kind = chosen.kind
                decision.seconds = chosen.seconds
                decision.message = chosen.message
                chosen.count -= 1
                self._scripted = [s for s in self._scripted if s.count > 0]
            else:
                decision.kind = self._random_kind(method)
            if decision.kind is None:
                # Let through: this call counts toward every waiting fault's ``after``.
                for scripted in matching:
                    scripted.skip -= 1
            if decision.kind is FaultKind.HANG and not decision.seconds:
                decision.seconds = self.hang_seconds
            if decision.kind is None and method in WRITE_METHODS and self.commit_delay:
                decision.kind, decision.seconds = FaultKind.HOLD, self.commit_delay
            return decision

    def _random_kind(self, method: str | None) -> FaultKind | None:
        rates = [
            (self.drop_rate, FaultKind.DROP),
            (self.hang_rate, FaultKind.HANG),
            (self.error_503_rate, FaultKind.HTTP_503),
            (self.error_502_rate, FaultKind.HTTP_502),
            (self.error_504_rate, FaultKind.HTTP_504),
        ]
        if method in WRITE_METHODS:
            rates.append((self.rollback_rate, FaultKind.ROLLBACK))
        for rate, kind in rates:
            if rate and self._rng.random() < rate:
                return kind
        return None
