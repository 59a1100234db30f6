"""The soak's verdict per plugin, from real effects checked against what the site committed.

`expected` is every event the emulator committed during the soak (rolled-back ids never are) that
the plugin's `matchEvents` match: computed from the site's own event log, not from anything the
pipeline saw. `delivered` counts those with an effect line; an event with two lines is
`duplicated`, one with none that is not parked in the DLQ is `lost`, a line for an event not
expected is `unexpected`, and an effect that follows a later event's effect of the same entity is
`out_of_order`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shotgun_events.plugins import matches
from shotgun_events.plugins.registrar import Registration


@dataclass
class Effect:
    event_id: int
    entity: str


@dataclass
class SoakVerdict:
    plugin: str
    expected: int = 0
    delivered: int = 0
    failed_attempts: int = 0  # callback runs that raised, later retried (or parked)
    duplicated: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    unexpected: list[int] = field(default_factory=list)
    out_of_order: list[int] = field(default_factory=list)
    in_dlq: list[int] = field(default_factory=list)

    @property
    def broken(self) -> list[str]:
        """Each promise this plugin's run broke, one line each."""
        return [
            f"{self.plugin}: {len(ids)} {what}: {', '.join(map(str, ids[:10]))}"
            for what, ids in (
                ("lost", self.lost),
                ("duplicated", self.duplicated),
                ("unexpected", self.unexpected),
                ("out of order", self.out_of_order),
                ("still in its DLQ", self.in_dlq),
            )
            if ids
        ]


def read_effects(path: Path) -> list[Effect]:
    effects = []
    for line in path.read_text().splitlines():
        event_id, entity = line.split(" ", 1)
        effects.append(Effect(int(event_id), entity))
    return effects


def expected_ids(registrations: Iterable[Registration], committed: Sequence[Mapping[str, Any]]) -> set[int]:
    """Committed events any of the plugin's callbacks match (the soak plugins have one callback each)."""
    callbacks = list(registrations)
    return {int(e["id"]) for e in committed if any(matches(r.match_events, e) for r in callbacks)}


def out_of_order(effects: Sequence[Effect]) -> list[int]:
    """Events whose effect came after the effect of a later event of the same entity."""
    latest: dict[str, int] = {}
    late: list[int] = []
    for effect in effects:
        if effect.event_id < latest.get(effect.entity, 0):
            late.append(effect.event_id)
        latest[effect.entity] = max(effect.event_id, latest.get(effect.entity, 0))
    return late


def verdict(
    plugin: str,
    expected: set[int],
    effects: Sequence[Effect],
    dead_letters: Sequence[int],
    failed_attempts: int = 0,
) -> SoakVerdict:
    done = Counter(e.event_id for e in effects)
    parked = set(dead_letters)
    return SoakVerdict(
        plugin,
        expected=len(expected),
        delivered=len(expected & set(done)),
        failed_attempts=failed_attempts,
        duplicated=sorted(e for e, n in done.items() if n > 1),
        lost=sorted(expected - set(done) - parked),
        unexpected=sorted(set(done) - expected),
        out_of_order=out_of_order(effects),
        in_dlq=sorted(parked),
    )


def failed_attempts(started: Mapping[Any, list[int]], completed: Mapping[Any, list[int]], plugin: str) -> int:
    runs: defaultdict[str, int] = defaultdict(int)
    for (name, _), ids in started.items():
        runs[name] += len(ids)
    for (name, _), ids in completed.items():
        runs[name] -= len(ids)
    return runs[plugin]
