"""`shotgun-events run`: the daemon's drop-in on one machine, no AWS.

The poller core (`shotgun_events.poller.poll`) reads the event log into the local store through a
`LocalPublisher`, one thread; a `PluginWorker` per plugin runs the dispatch core on its deliveries.
The plugin folders are looked at every `reload_interval`: a file added, changed or removed is
loaded, reloaded or dropped, as the daemon did. Everything durable is in the `LocalStore`.

Stopping (SIGTERM, Ctrl-C): the poller ends after its pass, the workers take nothing more and let
the callbacks under way finish, then the store is closed. Killed instead, nothing is lost either:
the next start re-runs the deliveries that were under way (see `local.store` and `local.ledger`).
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shotgun_events.config import PollerConfig
from shotgun_events.dispatch import EffectLedger, PluginDispatcher
from shotgun_events.event_log import FptEventLog
from shotgun_events.fpt import FptConnections, FptError, RetryPolicy, ScriptCredentials
from shotgun_events.observability import count_fpt_error, logger
from shotgun_events.plugins import Plugin, load_plugin, plugin_files
from shotgun_events.poller import PollerDeps, initialise, poll
from shotgun_events.poller.cursor import PollState
from shotgun_events.poller.state_store import StateConflict, StateCorrupt
from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.local.ledger import SqlitePersistenceLayer, clear_in_progress, prune_expired
from shotgun_events_tools.local.logs import error_notes
from shotgun_events_tools.local.publisher import LocalPublisher, Route
from shotgun_events_tools.local.store import LocalStore, StoreError
from shotgun_events_tools.local.workers import LocalMetrics, PluginWorker, RetryRule, ThreadConnections

FATAL_ERRORS = (sqlite3.Error, StoreError, StateCorrupt, StateConflict)
MAX_POLL_BACKOFF = 60.0
PRUNE_INTERVAL = 3600.0


@dataclass(frozen=True)
class RunOptions:
    site: str
    credentials: ScriptCredentials
    plugin_dirs: tuple[Path, ...]
    store_path: Path
    start: PollState | None = None  # --from-id / --daemon-state; None: the stored cursor, else the newest
    force_start: bool = False
    concurrency: int = 4
    retry: RetryRule = field(default_factory=RetryRule)
    poll_interval: float = 2.0
    backlog_timeout: float = 300.0
    page_size: int = 500
    max_backlog: int = 10_000
    fpt_timeout: float = 30.0
    use_session_uuid: bool = False
    reload_interval: float = 2.0
    status_interval: float = 60.0


@dataclass
class _LoadedPlugin:
    plugin: Plugin
    signature: tuple[int, int]

    @property
    def route(self) -> Route | None:
        if not self.plugin.active:
            return Route(self.plugin.name, None)  # rules unknown until it loads: keep every event
        if not self.plugin.registrations:
            return None
        return Route(self.plugin.name, tuple(self.plugin.match_events))


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def find_plugin_files(directories: tuple[Path, ...]) -> dict[str, Path]:
    """Plugin name -> file; a name in several folders is taken from the first (as `load_plugins`)."""
    found: dict[str, Path] = {}
    for directory in directories:
        for path in plugin_files(directory):
            found.setdefault(path.stem, path)
    return found


class LocalRuntime:
    """One `run`: `run()` until `stop` is set; the exit status."""

    def __init__(self, options: RunOptions, stop: threading.Event):
        self.options = options
        self.stop = stop
        self.metrics = LocalMetrics()
        self._notes = error_notes()
        self._connections = ThreadConnections(options.fpt_timeout)
        self._plugins: dict[str, _LoadedPlugin] = {}
        self._workers: dict[str, PluginWorker] = {}
        self._lock = threading.Lock()
        self._fatal: BaseException | None = None
        self._store: LocalStore | None = None
        self._poller: threading.Thread | None = None

    # -- the run -------------------------------------------------------------------------------------

    def run(self) -> int:
        files = self._plugin_files()
        for name, path in files.items():
            self._plugins[name] = self._load(path, _signature(path))
        if not any(p.plugin.active for p in self._plugins.values()):
            reasons = "; ".join(f"{n}: {p.plugin.error}" for n, p in sorted(self._plugins.items()))
            raise CommandError(f"no plugin could be loaded ({reasons})")
        # FPT first: a site that does not answer (or refuses the key) leaves no store bound to it.
        event_log = self._connect()
        try:
            self._store = store = LocalStore(self.options.store_path, self.options.site)
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        try:
            self._set_start(store)
            self._recover(store)
            for name in sorted(self._plugins):
                self._add_worker(name)
            self._warn_orphans(store)
            self._warn_paused(store)
            self._poller = threading.Thread(
                target=self._poll_forever, args=(event_log,), name="poller", daemon=True
            )
            self._poller.start()
            self._watch()
        finally:
            self._shutdown()
        if self._fatal is not None:
            logger.error(
                f"shotgun-events run stopped on an error: {type(self._fatal).__name__}: {self._fatal}"
            )
            return 1
        return 0

    def _plugin_files(self) -> dict[str, Path]:
        for directory in self.options.plugin_dirs:
            if not directory.is_dir():
                raise CommandError(f"plugin folder {directory} does not exist")
        files = find_plugin_files(self.options.plugin_dirs)
        if not files:
            folders = ", ".join(str(d) for d in self.options.plugin_dirs)
            raise CommandError(
                f"no plugins in {folders} (a plugin is a .py file with registerCallbacks(reg))"
            )
        return files

    def _connect(self) -> FptEventLog:
        """The poller's event log, after one read proves the site answers and takes the credentials."""
        options = self.options
        sg = FptConnections(options.fpt_timeout).get(options.site, options.credentials)
        check = RetryPolicy(attempts=2, attempt_timeout=options.fpt_timeout, on_error=count_fpt_error)
        try:
            newest = FptEventLog(sg, check).newest_id()
        except FptError as exc:
            if exc.kind == "auth":
                raise CommandError(
                    f"FPT at {options.site} refused script {options.credentials.script_name!r} "
                    f"(wrong script name or key?): {exc}"
                ) from None
            raise CommandError(f"cannot read FPT at {options.site}: {exc}") from None
        logger.info("connected to FPT", extra={"site": options.site, "newest_event_id": newest})
        retry = RetryPolicy(attempt_timeout=options.fpt_timeout, on_error=count_fpt_error)
        return FptEventLog(sg, retry, self._time_left)

    def _set_start(self, store: LocalStore) -> None:
        start = self.options.start
        if start is None:
            return
        try:
            initialise(store, start, force=self.options.force_start)
        except StateConflict:
            loaded = store.load()
            cursor = loaded.state.cursor if loaded else "?"
            raise CommandError(
                f"store {store.path} already goes on after event {cursor}: drop --from-id/--daemon-state to "
                "continue from there, or add --force to start from the one given"
            ) from None
        logger.info(
            "start set",
            extra={"cursor": start.cursor, "backlog": len(start.backlog), "store": str(store.path)},
        )

    def _recover(self, store: LocalStore) -> None:
        again, dead = store.recover_interrupted(self.options.retry.max_attempts)
        for delivery in again:
            logger.warning(
                f"event {delivery.event_id} was being run by plugin {delivery.plugin} when the last run "
                "stopped: it runs again (a callback cut off mid-run may repeat what it had written)",
                extra={
                    "plugin": delivery.plugin,
                    "event_id": delivery.event_id,
                    "attempts": delivery.attempts,
                },
            )
        for delivery in dead:
            logger.error(
                f"event {delivery.event_id} moved to the dead letters of plugin {delivery.plugin}: "
                f"the process stopped while it ran its last attempt (of {delivery.attempts})",
                extra={
                    "plugin": delivery.plugin,
                    "event_id": delivery.event_id,
                    "attempts": delivery.attempts,
                },
            )
        clear_in_progress(store)
        prune_expired(store)

    def _warn_orphans(self, store: LocalStore) -> None:
        for plugin, count in store.pending_counts().items():
            if plugin not in self._plugins:
                logger.warning(
                    f"the store holds {count} events for plugin {plugin}, which is in no plugin folder: "
                    "they wait there until it is back",
                    extra={"plugin": plugin, "count": count},
                )

    def _warn_paused(self, store: LocalStore) -> None:
        # A pause outlives the run that was running when it was set: say so, or a restart hides it.
        for plugin in sorted(store.paused_plugins()):
            logger.warning(
                f"plugin {plugin} is paused: its events wait in the store until "
                f"`shotgun-events resume {plugin} --local {store.path}`",
                extra={"plugin": plugin},
            )

    # -- plugins ---------------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        with self._lock:
            return [r for r in (p.route for p in self._plugins.values()) if r is not None]

    def _load(self, path: Path, signature: tuple[int, int]) -> _LoadedPlugin:
        """The plugin at `path`, loaded; a warning, once, for each callback without a script user
        (its events would fail until its variables are set)."""
        plugin = load_plugin(path, self.metrics)
        for registration in plugin.registrations:
            if not registration.has_script_user:
                logger.warning(
                    f"callback {registration.name} of plugin {plugin.name} has no script name and key in "
                    "this environment: its events will fail and retry until they are set "
                    "(`shotgun-events validate-plugins` names the variables it reads)",
                    extra={"plugin": plugin.name, "callback": registration.name},
                )
        return _LoadedPlugin(plugin, signature)

    def _dispatcher(self, plugin: Plugin) -> PluginDispatcher | None:
        if not plugin.active:
            return None
        assert self._store is not None
        return PluginDispatcher(
            plugin,
            shotgun_url=self.options.site,
            connections=self._connections,
            ledger=EffectLedger(SqlitePersistenceLayer(self._store), key_prefix=f"plugin.{plugin.name}"),
            use_session_uuid=self.options.use_session_uuid,
            metrics=self.metrics,
        )

    def _add_worker(self, name: str) -> None:
        assert self._store is not None
        worker = PluginWorker(
            name,
            self._store,
            concurrency=self.options.concurrency,
            retry=self.options.retry,
            notes=self._notes,
            on_fatal=self._on_fatal,
        )
        worker.use(self._dispatcher(self._plugins[name].plugin))
        self._workers[name] = worker
        worker.start()

    def _watch(self) -> None:
        """Until stopped: reload changed plugins, log a status line now and then, forget expired
        effect-once records hourly."""
        assert self._store is not None
        next_status = time.monotonic() + self.options.status_interval
        next_prune = time.monotonic() + PRUNE_INTERVAL
        while not self.stop.wait(self.options.reload_interval):
            try:
                self._reload()
                now = time.monotonic()
                if now >= next_status:
                    next_status = now + self.options.status_interval
                    self._log_status()
                if now >= next_prune:
                    next_prune = now + PRUNE_INTERVAL
                    prune_expired(self._store)
            except FATAL_ERRORS as exc:
                self._on_fatal(exc)

    def _reload(self) -> None:
        files = find_plugin_files(self.options.plugin_dirs)
        for name, path in sorted(files.items()):
            try:
                signature = _signature(path)
            except OSError:
                continue  # removed while we looked: the next look sees it gone
            known = self._plugins.get(name)
            if known is not None and known.plugin.path == path and known.signature == signature:
                continue
            loaded = self._load(path, signature)
            with self._lock:
                self._plugins[name] = loaded
            if name in self._workers:
                if loaded.plugin.active:
                    logger.info(
                        f"plugin {name} changed on disk: reloaded", extra={"plugin": name, "path": str(path)}
                    )
                else:
                    logger.warning(
                        f"plugin {name} changed on disk and no longer loads: its events wait until it does",
                        extra={"plugin": name, "path": str(path)},
                    )
                self._workers[name].use(self._dispatcher(loaded.plugin))
            else:
                logger.info(f"plugin {name} added", extra={"plugin": name, "path": str(path)})
                self._add_worker(name)
        for name in sorted(set(self._plugins) - set(files)):
            with self._lock:
                del self._plugins[name]
            self._workers[name].use(None)
            logger.warning(
                f"plugin {name} was removed from its folder: it gets no new events, and the ones it has not "
                "run yet wait in the store",
                extra={"plugin": name},
            )

    def _log_status(self) -> None:
        assert self._store is not None
        pending = self._store.pending_counts()
        dead = self._store.dead_letters()
        paused = self._store.paused_plugins()  # by an operator (`pause --local`)
        for name, worker in sorted(self._workers.items()):
            logger.info(
                f"plugin {name}: {worker.finished} events finished, {pending.get(name, 0)} waiting",
                extra={
                    "plugin": name,
                    "finished": worker.finished,
                    "retried": worker.retried,
                    "waiting": pending.get(name, 0),
                    "dead_letters": sum(1 for d in dead if d.plugin == name),
                    "paused": worker.paused or name in paused,
                    "metrics": self.metrics.of(name),
                },
            )

    # -- the poller ------------------------------------------------------------------------------------

    def _time_left(self) -> float:
        return 0.0 if self.stop.is_set() else math.inf

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _poll_forever(self, event_log: FptEventLog) -> None:
        assert self._store is not None
        options = self.options
        config = PollerConfig(
            shotgun_url=options.site,
            secret_id="",
            state_table=str(options.store_path),
            topic_arn="",
            poll_interval=options.poll_interval,
            backlog_timeout=options.backlog_timeout,
            page_size=options.page_size,
            max_backlog=options.max_backlog,
            fpt_timeout=options.fpt_timeout,
            safety_margin=0.0,
        )
        publisher = LocalPublisher(self._store, self.routes, self._wake)
        deps = PollerDeps(event_log=event_log, store=self._store, publisher=publisher, sleep=self._sleep)
        failures = 0
        while not self.stop.is_set():
            try:
                summary = poll(deps, config, self._time_left)
                if summary.stopped_by == "conflict":
                    raise StateConflict("another poller wrote the store's state")
                failures = 0
            except FATAL_ERRORS as exc:
                self._on_fatal(exc)
                return
            except Exception as exc:  # FPT down or answering oddly: the daemon retried forever too
                failures += 1
                delay = min(MAX_POLL_BACKOFF, options.poll_interval * 2**failures)
                logger.error(
                    f"reading FPT failed: {exc}; trying again in {delay:.0f} s",
                    exc_info=not isinstance(exc, FptError),
                    extra={"error_type": type(exc).__name__, "retry_in": delay},
                )
                self.stop.wait(delay)

    def _wake(self, plugins: set[str]) -> None:
        for name in plugins:
            worker = self._workers.get(name)
            if worker is not None:
                worker.wake()

    # -- stopping --------------------------------------------------------------------------------------

    def _on_fatal(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
            logger.error(f"stopping: {type(exc).__name__}: {exc}", exc_info=exc)
        self.stop.set()

    def _shutdown(self) -> None:
        self.stop.set()
        if self._poller is not None:
            self._poller.join()
        for worker in self._workers.values():
            worker.stop()
        store = self._store
        if store is None:
            return
        try:
            if self._fatal is None and self._poller is not None:
                logger.info(
                    "stopped",
                    extra={
                        "finished_through_event_id": store.finished_through(),
                        "waiting": store.pending_total(),
                        "dead_letters": len(store.dead_letters()),
                        "store": str(store.path),
                    },
                )
        finally:
            store.close()
