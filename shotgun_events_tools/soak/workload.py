"""The soak's studio: artists changing Shots, one transaction per change, as FPT sees them.

Each `act()` changes one field of one Shot (its status or its description) in its own transaction,
written in-process to the emulator as a HumanUser, so the event log is written exactly as for any
change. Most commit at once; `delay_rate` of them are held open for up to `max_delay` seconds (their
ids are a gap that fills later, as a slow transaction leaves one on a real site); `rollback_rate` of
them roll back (ids that never fill). A held Shot is not changed again until its commit (a browser's
second change would wait on the row lock anyway). `oversize_rate` of the changes write a description
too large for SNS, so the event travels as a reference and dispatch re-reads it from FPT.

`poison()` changes the one Shot the flaky soak plugin always fails on: its only event.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from fpt_emulator import FptEmulator, Transaction

STATUSES = ("wtg", "rdy", "ip", "hld", "fin")
POISON_SHOT = "SOAK_POISON"
OVERSIZE_CHARS = 300 * 1024  # an event carrying it as old or new value is over SNS's 256 KiB


@dataclass
class WorkloadStats:
    transactions: int = 0
    delayed: int = 0
    rolled_back: int = 0
    oversize: int = 0


class SoakStudio:
    def __init__(
        self,
        emulator: FptEmulator,
        *,
        shots: int,
        seed: int | str = 1,
        max_delay: float = 0.0,
        delay_rate: float = 0.0,
        rollback_rate: float = 0.0,
        oversize_rate: float = 0.0,
    ):
        self.site = emulator.site
        self.rng = random.Random(f"{seed}:soak-studio")
        self.max_delay = max_delay
        self.delay_rate = delay_rate
        self.rollback_rate = rollback_rate
        self.oversize_rate = oversize_rate
        self.stats = WorkloadStats()
        project = self.site.find_one("Project", [], ["id"])
        if project is None:
            raise RuntimeError("the emulator has no project (start it with its seeded studio)")
        self.project = {"type": "Project", "id": project["id"]}
        self.artists = [
            {"type": "HumanUser", "id": u["id"]}
            for u in self.site.find("HumanUser", [["sg_status_list", "is", "act"]], ["id"])
        ]
        # Arranged quietly (no events): the soak's events are the changes alone.
        self.shots = [self._shot(f"SOAK{i:05d}") for i in range(shots)]
        self.poison_shot = self._shot(POISON_SHOT)
        self._status = dict.fromkeys(self.shots, 0)
        self._big: set[int] = set()
        self._held: dict[int, Transaction] = {}

    def _shot(self, code: str) -> int:
        return int(self.site.create("Shot", {"code": code, "project": self.project}, events=False)["id"])

    def _free_shot(self) -> int:
        for shot, tx in list(self._held.items()):
            if not tx.is_open:
                del self._held[shot]
        while True:
            shot = self.rng.choice(self.shots)
            if shot not in self._held:
                return shot

    def _change(self, shot: int) -> dict[str, Any]:
        if shot in self._big or self.rng.random() < self.oversize_rate:
            big = shot not in self._big
            self._big.symmetric_difference_update({shot})
            self.stats.oversize += 1
            return {"description": "x" * OVERSIZE_CHARS if big else "back to a short brief"}
        if self.rng.random() < 0.5:
            return {"description": f"brief #{self.stats.transactions}"}
        self._status[shot] = (self._status[shot] + 1) % len(STATUSES)
        return {"sg_status_list": STATUSES[self._status[shot]]}

    def act(self) -> list[int]:
        """One change in its own transaction; the event ids it allocated."""
        shot = self._free_shot()
        tx = self.site.begin(user=self.rng.choice(self.artists))
        with tx.scope(self._finish):
            tx.update("Shot", shot, self._change(shot))
        if tx.is_open:
            self._held[shot] = tx
        self.stats.transactions += 1
        return list(tx.event_ids)

    def _finish(self, tx: Transaction) -> None:
        roll = self.rng.random()
        if roll < self.rollback_rate:
            tx.rollback()
            self.stats.rolled_back += 1
        elif roll < self.rollback_rate + self.delay_rate:
            tx.commit_after(self.rng.uniform(0, self.max_delay))
            self.stats.delayed += 1
        else:
            tx.commit()

    def poison(self) -> int:
        """The flaky plugin's poisoned event: the poison Shot's one change, committed at once."""
        with self.site.begin(user=self.rng.choice(self.artists)).scope() as tx:
            tx.update("Shot", self.poison_shot, {"sg_status_list": "ip"})
        (event_id,) = tx.event_ids
        return event_id
