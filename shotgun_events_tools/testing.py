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

A relative plugin path is taken from the project root (pytest's rootdir with the fixture), not
from the working directory. The emulator has the stock site's schema, or a studio's own when a
conftest defines an `fpt_schema` fixture (see `fpt_emulator.pytest_plugin`). The plugin's log
lines are kept in `logs` / `log_text` and reach pytest's `caplog`; each entry of `failures`
carries the exception that failed the callback, so a failed `assert h.failures == []` shows why.

Script users: a plugin reads its script name and key from the environment
(`SGDAEMON_<X>_NAME` / `_KEY`). The harness sets every such variable named in the plugin's source
that is not set yet (or pass `env=`), and registers whatever name and key the plugin registered
with the emulator, so the plugin's client authenticates.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from fpt_emulator import FptEmulator, Write
from fpt_emulator.pytest_plugin import fpt_emulator, sg
from shotgun_events.dispatch import EffectLedger, EventOutcome, InMemoryPersistenceLayer, PluginDispatcher
from shotgun_events.events import EVENT_FIELDS, EVENT_TYPE, Event, decode_body, encode_event
from shotgun_events.fpt import FptConnections
from shotgun_events.observability import logger as dispatch_logger
from shotgun_events.plugins import Plugin, RecordedMetrics, load_plugin
from shotgun_events.plugins.logs import ROOT as PLUGIN_LOGGERS
from shotgun_events_tools.project import find_project_root
from shotgun_events_tools.script_users import default_script_env, script_env_names

__all__ = [
    "Failure",
    "PluginHarness",
    "find_project_root",
    "fpt_emulator",
    "plugin_harness",
    "script_env_names",
    "sg",
]

HARNESS_TIMEOUT_SECONDS = 10.0


class Failure(str):
    """A callback run that failed: equal to ``"<event id>:<callback key>"``, and it says why.

    ``error`` is the exception (``"KeyError: 'entity'"``), ``traceback`` its traceback; the
    ``repr`` shows the error, so a failed ``assert h.failures == []`` prints the reason.
    """

    event_id: int
    callback: str
    error: str
    traceback: str | None

    def __new__(cls, event_id: int, callback: str, error: str, trace: str | None = None) -> Failure:
        failure = super().__new__(cls, f"{event_id}:{callback}")
        failure.event_id, failure.callback, failure.error, failure.traceback = (
            event_id,
            callback,
            error,
            trace,
        )
        return failure

    def __repr__(self) -> str:
        return f"<failure {str(self)!r}: {self.error}>"


class _Records(logging.Handler):
    """Keeps the records it is handed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _ToRoot(logging.Handler):
    """Hands plugin records to the root logger's handlers (where pytest's ``caplog`` listens):
    plugin loggers do not propagate, their lines go out as JSON."""

    def emit(self, record: logging.LogRecord) -> None:
        root = logging.getLogger()
        if root.handlers:  # none (outside pytest): logging's last resort would print it twice
            root.handle(record)


def _callback_of(record: logging.LogRecord) -> str | None:
    """The callback a record is about: its ``callback`` field, or ``plugin.<name>.<callback>``."""
    named = getattr(record, "callback", None)
    if isinstance(named, str):
        return named
    parts = record.name.split(".", 2)
    return parts[2] if len(parts) == 3 and parts[0] == PLUGIN_LOGGERS else None


def _reason(record: logging.LogRecord) -> tuple[str, str | None]:
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        return f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(*record.exc_info))
    return record.getMessage(), None


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
        root: str | Path | None = None,
    ):
        self.emulator = emulator
        self.site = emulator.site
        path = Path(plugin_path)
        if not path.is_absolute():
            base = Path(root) if root is not None else find_project_root()
            path = base / path
            if not path.is_file():
                raise FileNotFoundError(
                    f"plugin {plugin_path}: no such file {path} (a relative path is taken from the "
                    f"project root {base})"
                )
        wanted = default_script_env(script_env_names(path.read_text(encoding="utf-8")))
        wanted = {k: v for k, v in wanted.items() if k not in os.environ}
        wanted.update(env or {})
        put = setenv or os.environ.__setitem__
        for name, value in wanted.items():
            put(name, value)

        # The plugin's log lines: kept, and handed on to pytest's caplog.
        self._plugin_logger = logging.getLogger(f"{PLUGIN_LOGGERS}.{path.stem}")
        self._records = _Records()
        self._to_root = _ToRoot()
        self._plugin_logger.addHandler(self._records)
        self._plugin_logger.addHandler(self._to_root)
        self._failures: list[Failure] = []

        self.metrics = RecordedMetrics()
        self.plugin: Plugin = load_plugin(path, self.metrics)
        if not self.plugin.active:
            self.close()
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
        seen = _Records()
        loggers = (self._plugin_logger, logging.getLogger(dispatch_logger.name))
        for log in loggers:
            log.addHandler(seen)
        try:
            outcome = self.dispatcher.process_event(as_delivered(event))
        finally:
            for log in loggers:
                log.removeHandler(seen)
        self.outcomes.append(outcome)
        names = {r.key: r.name for r in self.plugin.registrations}
        for key in outcome.failed:
            why = [r for r in seen.records if r.levelno >= logging.WARNING and _callback_of(r) == names[key]]
            error, trace = _reason(why[-1]) if why else ("failed (nothing was logged)", None)
            self._failures.append(Failure(outcome.event_id, key, error, trace))
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
    def failures(self) -> list[Failure]:
        """Every callback run that failed (its record would retry): equal to
        `"<event id>:<callback key>"`, with `.error` (the exception) and `.traceback`."""
        return list(self._failures)

    @property
    def logs(self) -> list[logging.LogRecord]:
        """The plugin's log records (its `reg.logger` and its callbacks' loggers), in order."""
        return list(self._records.records)

    @property
    def log_text(self) -> str:
        """The plugin's log lines as `LEVEL logger: message`, one a line."""
        return "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in self._records.records)

    def close(self) -> None:
        """Stop collecting the plugin's log lines (the fixture does this after the test)."""
        self._plugin_logger.removeHandler(self._records)
        self._plugin_logger.removeHandler(self._to_root)

    def __enter__(self) -> PluginHarness:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

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
    fpt_emulator: FptEmulator, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Callable[..., PluginHarness]]:
    """`plugin_harness(path, env=None, use_session_uuid=False)` -> a `PluginHarness` on a fresh
    emulator; a relative `path` is taken from the project root (pytest's rootdir)."""
    made: list[PluginHarness] = []

    def make(
        plugin_path: str | Path, *, env: Mapping[str, str] | None = None, use_session_uuid: bool = False
    ) -> PluginHarness:
        harness = PluginHarness(
            fpt_emulator,
            plugin_path,
            env=env,
            use_session_uuid=use_session_uuid,
            setenv=monkeypatch.setenv,
            root=request.config.rootpath,
        )
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()
