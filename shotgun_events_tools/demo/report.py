"""The demo's verdict, checked against the emulator's own record of what committed.

For each plugin, `expected` is every (callback, event) whose `matchEvents` matches an event the site
committed during the run: computed from the event log itself, not from what the pipeline saw. Each
must have completed exactly once, or be parked in the plugin's DLQ; anything else is lost, doubled
or unexpected, and the demo says which and exits non-zero.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shotgun_events.plugins import matches
from shotgun_events.plugins.registrar import Registration


@dataclass
class PluginVerdict:
    name: str
    expected: int = 0
    delivered: int = 0  # (callback, event) pairs completed
    failed_attempts: int = 0  # callback runs that raised (retried, then parked)
    dead_letters: list[int] = field(default_factory=list)
    duplicated: list[tuple[str, int]] = field(default_factory=list)
    lost: list[tuple[str, int]] = field(default_factory=list)
    unexpected: list[tuple[str, int]] = field(default_factory=list)
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def ok(self) -> bool:
        return not (self.duplicated or self.lost or self.unexpected)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def verdict(
    plugin: str,
    registrations: Iterable[Registration],
    committed: Sequence[Mapping[str, Any]],
    started: Mapping[tuple[str, str], list[int]],
    completed: Mapping[tuple[str, str], list[int]],
    dead_letters: list[int],
    delays: list[float],
) -> PluginVerdict:
    result = PluginVerdict(plugin, dead_letters=dead_letters)
    parked = set(dead_letters)
    for registration in registrations:
        key = (plugin, registration.name)
        expected = {int(e["id"]) for e in committed if matches(registration.match_events, e)}
        done = Counter(completed.get(key, []))
        attempts = Counter(started.get(key, []))
        result.expected += len(expected)
        result.delivered += sum(1 for event_id in done if event_id in expected)
        result.failed_attempts += sum(attempts.values()) - sum(done.values())
        result.duplicated += [(registration.name, e) for e, n in sorted(done.items()) if n > 1]
        result.lost += [(registration.name, e) for e in sorted(expected) if e not in done and e not in parked]
        result.unexpected += [(registration.name, e) for e in sorted(done) if e not in expected]
    result.p50_ms = _ms(percentile(delays, 50))
    result.p99_ms = _ms(percentile(delays, 99))
    return result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def problems(verdicts: Iterable[PluginVerdict], poisoned: Mapping[str, int]) -> list[str]:
    """Every broken promise, one line each (empty when the run kept them all)."""
    lines: list[str] = []
    for v in verdicts:
        for what, items in (("lost", v.lost), ("doubled", v.duplicated), ("ran unexpectedly", v.unexpected)):
            if items:
                shown = ", ".join(f"event {e} ({callback})" for callback, e in items[:10])
                lines.append(f"{v.name}: {len(items)} {what}: {shown}")
        expected_dlq = [poisoned[v.name]] if v.name in poisoned else []
        if v.dead_letters != expected_dlq:
            lines.append(
                f"{v.name}: DLQ holds {v.dead_letters or 'nothing'}, expected {expected_dlq or 'nothing'}"
            )
    return lines
