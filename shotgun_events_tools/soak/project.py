"""The soak's own project: a copy of `template.yaml` and two soak plugins, the template regenerated.

Both plugins record every effect as one line `<event id> <entity>` appended to their file in
`effects/`, so a callback that ran twice shows twice: the verdict counts real effects, not what
the pipeline reports.

- `soak_steady` takes every Shot change and never fails.
- `soak_flaky` takes Shot status changes only (its filter policy differs), fails `failure_rate` of
  its calls before doing anything (a transient error: the retry succeeds), and always fails on the
  poison Shot until the fix is deployed (`write_flaky(..., fixed=True)`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from shotgun_events_tools.stack.generate import Project, generate

STEADY = "soak_steady"
FLAKY = "soak_flaky"

PLUGIN = '''"""Soak plugin {name}: appends `<event id> <entity>` to its effects file for each event.

Script user: `SGDAEMON_{upper}_NAME` / `SGDAEMON_{upper}_KEY`.
"""

import os
import random

EFFECTS = {effects!r}
FAILURE_RATE = {failure_rate!r}
POISON_SHOT_ID = {poison_shot!r}
FIXED = {fixed!r}


def registerCallbacks(reg):
    reg.registerCallback(
        os.environ.get("SGDAEMON_{upper}_NAME"),
        os.environ.get("SGDAEMON_{upper}_KEY"),
        record,
        matchEvents={match!r},
    )


def record(sg, logger, event, args):
    entity = event.get("entity") or {{}}
    if entity.get("id") == POISON_SHOT_ID and not FIXED:
        raise RuntimeError("soak: the poisoned Shot always fails until the fix")
    if random.random() < FAILURE_RATE:
        raise ConnectionError("soak: a transient failure")
    with open(EFFECTS, "a") as effects:  # one short append: a whole line even across threads
        effects.write("%d %s:%s\\n" % (event["id"], entity.get("type"), entity.get("id")))
'''

STACK_TOML = """# The soak's plugins: short functions (the soak scales its timeouts down).
[defaults]
timeout = 10
memory = 256
max_concurrency = 10
batch_size = 10
"""


@dataclass(frozen=True)
class SoakProject(Project):
    """A project (template, plugins) made for one soak, with what its plugins were told."""

    poison_shot: int = 0
    failure_rate: float = 0.0

    def effects(self, plugin: str) -> Path:
        return self.root / "effects" / f"{plugin}.log"

    def write_plugin(
        self, name: str, match: dict[str, list[str] | None], failure_rate: float, fixed: bool
    ) -> None:
        source = PLUGIN.format(
            name=name,
            upper=name.upper(),
            effects=str(self.effects(name)),
            failure_rate=failure_rate,
            poison_shot=self.poison_shot,
            fixed=fixed,
            match=match,
        )
        (self.plugins_dir / f"{name}.py").write_text(source)

    def write_flaky(self, fixed: bool) -> None:
        self.write_plugin(FLAKY, {"Shotgun_Shot_Change": ["sg_status_list"]}, self.failure_rate, fixed)


def create_project(root: Path, template: Path, poison_shot: int, failure_rate: float) -> SoakProject:
    """Copy `template`, write the soak plugins and regenerate the per-plugin part of the template."""
    project = SoakProject(root, poison_shot, failure_rate)
    project.plugins_dir.mkdir(parents=True, exist_ok=True)
    (root / "effects").mkdir(exist_ok=True)
    shutil.copyfile(template, project.template)
    project.stack_config.write_text(STACK_TOML)
    project.write_plugin(STEADY, {"Shotgun_Shot_Change": None}, 0.0, fixed=True)
    project.write_flaky(fixed=False)
    for name in (STEADY, FLAKY):
        project.effects(name).touch()
    project.template.write_text(generate(project))
    return project
