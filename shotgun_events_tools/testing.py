"""Plugin authors' kit: "given this site state, when this happens, the plugin does X", in a few lines.

A `PluginHarness` runs one plugin file through the real dispatch core (matchEvents, its own
`shotgun_api3.Shotgun` per script user, stopOnError, effect once) against an `FptEmulator`: the
real client talks HTTP to it, every change writes EventLogEntry rows the way FPT does, and every
write the plugin makes is recorded.

Enable the fixtures in a conftest (or test module)::

    pytest_plugins = ["shotgun_events_tools.testing"]

then::

    def test_layout_final_readies_animation(plugin_harness):
        h = plugin_harness("plugins/layout_final_animation_ready.py")
        shot = h.given("Shot", {"code": "SH010", "project": h.project})
        layout = h.given("Task", {"content": "Layout", "entity": shot, "step": h.step("Layout"),
                                  "project": h.project, "sg_status_list": "ip"})
        anim = h.given("Task", {"content": "Animation", "entity": shot, "step": h.step("Animation"),
                                "project": h.project})

        h.update("Task", layout["id"], {"sg_status_list": "fin"})   # an artist's change: events
        h.deliver()                                                  # the plugin runs on them

        assert h.get("Task", anim["id"])["sg_status_list"] == "rdy"
        assert [w.entity_id for w in h.writes] == [anim["id"]]

`given(...)` arranges state silently (no events); `create`/`update`/`delete` act as an artist
(events written); `deliver()` dispatches every event committed since the last delivery, then the
events the plugin's own writes caused, like the deployed pipeline; `dispatch(event)` runs one
hand-made event. Outcomes, metrics and the plugin's writes are kept for assertions.

Script users: a plugin reads its script name and key from the environment
(`SGDAEMON_<X>_NAME` / `_KEY`). The harness sets every such variable named in the plugin's source
that is not set yet (or pass `env=`), and registers whatever name and key the plugin registered
with the emulator, so the plugin's client authenticates.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from fpt_emulator import FptEmulator, Write
from fpt_emulator.pytest_plugin import fpt_emulator, sg
from shotgun_events.dispatch import EffectLedger, EventOutcome, InMemoryPersistenceLayer, PluginDispatcher
from shotgun_events.events import EVENT_FIELDS, EVENT_TYPE, Event, decode_body, encode_event
from shotgun_events.fpt import FptConnections
from shotgun_events.plugins import Plugin, RecordedMetrics, load_plugin

__all__ = [
    "PluginHarness",
    "fpt_emulator",
    "plugin_harness",
    "script_env_names",
    "sg",
]

_SCRIPT_ENV = re.compile(r"""["']([A-Z][A-Z0-9_]*_(?:NAME|KEY))["']""")
HARNESS_TIMEOUT_SECONDS = 10.0


def script_env_names(source: str) -> list[str]:
    """Environment variable names ending in `_NAME` / `_KEY` quoted in a plugin's source."""
    return sorted(set(_SCRIPT_ENV.findall(source)))


def default_script_env(names: list[str]) -> dict[str, str]:
    """A script name / key for each variable: `SGDAEMON_X_NAME` -> `sgdaemon_x`, `_KEY` -> a test key."""
    env: dict[str, str] = {}
    for name in names:
        stem = name.rsplit("_", 1)[0].lower()
        env[name] = stem if name.endswith("_NAME") else f"test-key-{stem}"
    return env


class PluginHarness:
    """One plugin, dispatched the way the deployed function does it, against an FPT emulator."""

    def __init__(
        self,
        emulator: FptEmulator,
        plugin_path: str | Path,
        *,
        env: Mapping[str, str] | None = None,
        use_session_uuid: bool = False,
        setenv: Callable[[str, str], None] | None = None,
    ):
        self.emulator = emulator
        self.site = emulator.site
        path = Path(plugin_path)
        wanted = default_script_env(script_env_names(path.read_text(encoding="utf-8")))
        wanted = {k: v for k, v in wanted.items() if k not in os.environ}
        wanted.update(env or {})
        put = setenv or os.environ.__setitem__
        for name, value in wanted.items():
            put(name, value)

        self.metrics = RecordedMetrics()
        self.plugin: Plugin = load_plugin(path, self.metrics)
        if not self.plugin.active:
            raise AssertionError(f"plugin {self.plugin.name} did not load: {self.plugin.error}")
        self.script_names: set[str] = set()
        for registration in self.plugin.registrations:
            if isinstance(registration.script_name, str) and isinstance(registration.script_key, str):
                emulator.add_script(registration.script_name, registration.script_key)
                self.script_names.add(registration.script_name)

        self.store = InMemoryPersistenceLayer()
        self.dispatcher = PluginDispatcher(
            self.plugin,
            shotgun_url=emulator.url,
            connections=FptConnections(HARNESS_TIMEOUT_SECONDS),
            ledger=EffectLedger(self.store, key_prefix=f"plugin.{self.plugin.name}"),
            use_session_uuid=use_session_uuid,
            metrics=self.metrics,
        )
        self.outcomes: list[EventOutcome] = []
        self.delivered_up_to = self.site.last_event_id
        self._writes_before = emulator.write_count

    # -- given: state, silently ------------------------------------------------------------------

    def given(self, entity_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Create an entity without writing events (the site as it already was); returns its link."""
        created = self.site.create(entity_type, data, events=False)
        return {"type": entity_type, "id": created["id"]}

    @property
    def project(self) -> dict[str, Any]:
        """The emulator's demo project."""
        found = self.site.find_one("Project", [], ["id"])
        if found is None:
            found = self.site.create("Project", {"name": "Test Project", "tank_name": "test"}, events=False)
        return {"type": "Project", "id": found["id"]}

    def step(self, code: str) -> dict[str, Any]:
        """The pipeline Step named `code` (Layout, Animation, Lighting, Comp, Model, ...)."""
        found = self.site.find_one("Step", [["code", "is", code]], ["id"])
        if found is None:
            raise LookupError(f"no Step {code!r} on the emulated site")
        return {"type": "Step", "id": found["id"]}

    def person(self, login: str) -> dict[str, Any]:
        """A HumanUser by login (`ada.moreau`, `dana.kowalski`, ... on the demo site)."""
        found = self.site.find_one("HumanUser", [["login", "is", login]], ["id"])
        if found is None:
            raise LookupError(f"no HumanUser with login {login!r} on the emulated site")
        return {"type": "HumanUser", "id": found["id"]}

    # -- when: changes, as an artist (events are written) ----------------------------------------

    def _artist(self, user: Mapping[str, Any] | str | None) -> Mapping[str, Any] | None:
        return self.person(user) if isinstance(user, str) else user

    def create(
        self, entity_type: str, data: Mapping[str, Any], *, user: Mapping[str, Any] | str | None = None
    ) -> dict[str, Any]:
        created = self.site.create(entity_type, data, user=self._artist(user), session_uuid=_session())
        return {"type": entity_type, "id": created["id"]}

    def update(
        self,
        entity_type: str,
        entity_id: int,
        data: Mapping[str, Any],
        *,
        user: Mapping[str, Any] | str | None = None,
    ) -> dict[str, Any]:
        return self.site.update(
            entity_type, entity_id, data, user=self._artist(user), session_uuid=_session()
        )

    def delete(
        self, entity_type: str, entity_id: int, *, user: Mapping[str, Any] | str | None = None
    ) -> bool:
        return self.site.delete(entity_type, entity_id, user=self._artist(user), session_uuid=_session())

    # -- then: run the plugin, look at what it did --------------------------------------------------

    def new_events(self) -> list[Event]:
        """Events committed since the last delivery, as the plugin would receive them."""
        return [as_delivered(e) for e in self.site.events(self.delivered_up_to)]

    def dispatch(self, event: Mapping[str, Any]) -> EventOutcome:
        """Run one event (from the site or hand-made) through the plugin, as delivered over SQS."""
        outcome = self.dispatcher.process_event(as_delivered(event))
        self.outcomes.append(outcome)
        return outcome

    def deliver(self, *, follow: bool = True, max_rounds: int = 10) -> list[EventOutcome]:
        """Dispatch every event committed since the last delivery (then, with `follow`, the events
        the plugin's own writes caused, until none are left)."""
        outcomes: list[EventOutcome] = []
        for _ in range(max_rounds):
            events = self.site.events(self.delivered_up_to)
            if not events:
                return outcomes
            for event in events:
                outcomes.append(self.dispatch(event))
                self.delivered_up_to = max(self.delivered_up_to, int(event["id"]))
            if not follow:
                return outcomes
        raise AssertionError(f"plugin {self.plugin.name} still causing events after {max_rounds} rounds")

    @property
    def writes(self) -> list[Write]:
        """The writes this plugin's script users made since the harness was built, in order."""
        since = self.emulator.writes_since(self._writes_before)
        return [w for w in since if w.script_name in self.script_names]

    @property
    def failures(self) -> list[str]:
        """`<event id>:<callback key>` for every callback run that failed (record would retry)."""
        return [f"{o.event_id}:{key}" for o in self.outcomes for key in o.failed]

    def get(self, entity_type: str, entity_id: int, fields: list[str] | None = None) -> dict[str, Any] | None:
        return self.site.get(entity_type, entity_id, fields)

    def find(
        self, entity_type: str, filters: Any = None, fields: list[str] | None = None
    ) -> list[dict[str, Any]]:
        return self.site.find(entity_type, filters or [], fields)


def as_delivered(event: Mapping[str, Any]) -> Event:
    """An event exactly as a plugin receives it after the SNS/SQS trip (published fields only).

    An event too large to publish travels as a reference and dispatch re-reads it from FPT by id:
    the plugin then gets the same fields, in full, which is what this returns too.
    """
    message = encode_event(dict(event))
    if message.is_reference:
        reread = {name: event.get(name) for name in EVENT_FIELDS}
        return {**reread, "type": EVENT_TYPE, "created_at": decode_body(message.body)["created_at"]}
    return decode_body(message.body)


def _session() -> str:
    import uuid

    return str(uuid.uuid4())


@pytest.fixture
def plugin_harness(
    fpt_emulator: FptEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., PluginHarness]]:
    """`plugin_harness(path, env=None, use_session_uuid=False)` -> a `PluginHarness` on a fresh emulator."""

    def make(
        plugin_path: str | Path, *, env: Mapping[str, str] | None = None, use_session_uuid: bool = False
    ) -> PluginHarness:
        return PluginHarness(
            fpt_emulator,
            plugin_path,
            env=env,
            use_session_uuid=use_session_uuid,
            setenv=monkeypatch.setenv,
        )

    yield make
