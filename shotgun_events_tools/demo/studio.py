"""The demo's studio: artists doing the work every example plugin reacts to, and one poisoned Shot.

Each `act()` is one artist's action in a browser (in-process writes to the emulator as a HumanUser,
so FPT's events are written exactly as for any change):

- a Shot is created with Layout, Animation, Lighting and Comp tasks (init_entity,
  create_shot_directories),
- its Layout task goes `fin` (layout_final_animation_ready readies Animation; nobody else touches
  Animation, so the plugin finds it `wtg` however late it runs),
- its Lighting task goes `ip` (datestamp stamps `start_date`),
- its Comp task goes `na` (field_to_field clears the bid),
- the Shot goes on hold `hld` with artists assigned (notify_on_hold writes them a Note),
- a Version for it is approved `apr` (datestamp), then client-approved (clientApproval).

`poison()` creates a Shot whose directory is blocked by a file: create_shot_directories fails on
that event every time, so it ends in the plugin's DLQ while everything else flows.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpt_emulator import FptEmulator

POISON_SHOT = "SH_POISON"


class DemoStudio:
    def __init__(self, emulator: FptEmulator, shot_root: Path, seed: int = 1):
        self.site = emulator.site
        self.shot_root = shot_root
        self.rng = random.Random(f"{seed}:demo-studio")
        self.project = self.site.find_one("Project", [["tank_name", "is", "demo"]], ["name"]) or {}
        if not self.project:
            raise RuntimeError("the emulator has no demo project (start it with its seeded studio)")
        self.project = {"type": "Project", "id": self.project["id"]}
        self.artists = [
            {"type": "HumanUser", "id": u["id"]}
            for u in self.site.find("HumanUser", [["sg_status_list", "is", "act"]], ["login"])
        ]
        self.steps = {
            s["code"]: {"type": "Step", "id": s["id"]} for s in self.site.find("Step", [], ["code"])
        }
        self.actions = 0
        self._pending: deque[Callable[[], None]] = deque()
        self._shots = 0

    def _artist(self) -> dict[str, Any]:
        return self.rng.choice(self.artists)

    def act(self) -> None:
        """One action: the next step of a Shot's story, or a new Shot when none is under way."""
        if not self._pending:
            self._new_shot()
        else:
            self._pending.popleft()()
        self.actions += 1

    def _new_shot(self) -> None:
        self._shots += 1
        user = self._artist()
        shot = self.site.create("Shot", {"code": f"SH{self._shots:03d}0", "project": self.project}, user=user)
        link = {"type": "Shot", "id": shot["id"]}
        tasks = {}
        for step, status in (("Layout", "ip"), ("Animation", "wtg"), ("Lighting", "wtg"), ("Comp", "wtg")):
            task = self.site.create(
                "Task",
                {
                    "content": step,
                    "entity": link,
                    "project": self.project,
                    "step": self.steps.get(step),
                    "sg_status_list": status,
                    "est_in_mins": 480,
                    "task_assignees": [self._artist()],
                },
                user=user,
            )
            tasks[step] = task["id"]

        def update(entity_type: str, entity_id: int, data: dict[str, Any]) -> Callable[[], None]:
            def act() -> None:
                self.site.update(entity_type, entity_id, data, user=self._artist())

            return act

        def approve_version() -> None:
            version = self.site.create(
                "Version",
                {"code": f"SH{self._shots:03d}0_v001", "entity": link, "project": self.project},
                user=self._artist(),
            )
            self.site.update("Version", version["id"], {"sg_status_list": "apr"}, user=self._artist())
            # The client ticks "Client Approved" in review (clientApproval, a daemon-style plugin).
            self.site.update("Version", version["id"], {"client_approved": True}, user=self._artist())

        self._pending.extend(
            [
                update("Task", tasks["Layout"], {"sg_status_list": "fin"}),
                update("Task", tasks["Lighting"], {"sg_status_list": "ip"}),
                update("Task", tasks["Comp"], {"sg_status_list": "na"}),
                update("Shot", shot["id"], {"sg_status_list": "hld"}),
                approve_version,
            ]
        )

    def poison(self) -> int:
        """Create the Shot create_shot_directories always fails on; its id."""
        blocked = self.shot_root / "demo" / "no_sequence" / POISON_SHOT
        blocked.parent.mkdir(parents=True, exist_ok=True)
        blocked.write_text("a file where the Shot's directory should be: the plugin cannot create it\n")
        shot = self.site.create("Shot", {"code": POISON_SHOT, "project": self.project}, user=self._artist())
        return int(shot["id"])
