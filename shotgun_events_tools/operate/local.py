"""`Deployment` on the local runtime's store (`shotgun-events run --store PATH`).

Reads open the store read-only, so they work while `run` holds it. Changes take the store's
write lock, which a running `run` holds: they ask to stop it first (one clear line), and every
change is one transaction, so it is done entirely or not at all: an interrupted redrive or replay
loses and doubles nothing.

Pause and resume are the exception: they write the plugin's pause flag beside a running `run`
(without the lock), which reads it whenever a worker takes deliveries: paused, the plugin takes
nothing new and its events wait in the store, in order; resumed, it goes on within a second. With
no `run` holding the store they take the lock like any change (and upgrade an older store).

The plugins are those of the plugin folders (`--plugins`, as given to `run`) and those the store
has events for. The local runtime has no alarms and no record of the poller's last run.
"""

from __future__ import annotations

import getpass
import json
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from shotgun_events.events import EventMessage
from shotgun_events.plugins import plugin_files
from shotgun_events.poller.state_store import StateStore
from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.local.store import DeadLetter, LocalStore, StoreError, StoreInUse
from shotgun_events_tools.operate.deployment import LoggedError, ParkedEvent, PluginStatus, PollerStatus
from shotgun_events_tools.operate.redrive import MoveResult, Progress
from shotgun_events_tools.operate.site import Site

_MOVED_COLUMNS = "plugin, event_id, group_id, message_id, body, attributes, enqueued_at"


def store_site(path: Path) -> str:
    """The site a store belongs to (its `meta`), read without knowing it first."""
    if not path.is_file():
        raise CommandError(
            f"no local store at {path} (`shotgun-events run --store {path} --from-id N` creates one "
            "that starts at event N)"
        )
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'site'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        raise CommandError(f"{path} is not a shotgun-events local store") from None
    if row is None:
        raise CommandError(f"local store {path} names no site: it is damaged")
    return str(row[0])


class LocalDeployment:
    """The local runtime's store (see the module docstring)."""

    def __init__(self, path: str | Path, plugin_dirs: Sequence[str | Path] = ("plugins",)):
        self.path = Path(path)
        self._site = store_site(self.path)
        self._plugin_dirs = [Path(d) for d in plugin_dirs]
        self.label = f"local store {self.path}"
        try:
            self._reader = LocalStore(self.path, self._site, readonly=True)
        except StoreError as exc:
            raise CommandError(str(exc)) from None

    @contextmanager
    def _writer(self, beside_run: bool = False) -> Iterator[LocalStore]:
        """The store with its lock; with `beside_run`, without it when a `run` holds it (for the
        pause flags, which that run reads)."""
        try:
            store = LocalStore(self.path, self._site)
        except StoreInUse as exc:
            if not beside_run:
                raise CommandError(f"{exc}: stop it first (changes take the store's lock)") from None
            try:
                store = LocalStore(self.path, self._site, shared=True)
            except StoreError as shared_exc:
                raise CommandError(str(shared_exc)) from None
        except StoreError as exc:
            raise CommandError(f"{exc}: stop it first (changes take the store's lock)") from None
        try:
            yield store
        finally:
            store.close()

    def who(self) -> str:
        return f"{getpass.getuser()}@{socket.gethostname()}"

    def plugins(self) -> list[str]:
        names = {p.stem for d in self._plugin_dirs for p in plugin_files(d)}
        names |= {r[0] for r in self._reader.query("SELECT DISTINCT plugin FROM deliveries")}
        names |= {r[0] for r in self._reader.query("SELECT DISTINCT plugin FROM dead_letters")}
        return sorted(names)

    def require_plugin(self, name: str) -> None:
        known = self.plugins()
        if name not in known:
            folders = ", ".join(str(d) for d in self._plugin_dirs)
            raise CommandError(
                f"{self.label} has no plugin {name!r} (none in {folders} nor in the store; it has: "
                f"{', '.join(known) or 'none'})"
            )

    def site_url(self) -> str:
        return self._site

    def site(self, credentials_file: str | Path | None = None) -> Site:
        from shotgun_events_tools.commands.run import read_credentials

        return Site(self._site, read_credentials(str(credentials_file) if credentials_file else None))

    def state_store(self) -> AbstractContextManager[StateStore]:
        return self._writer()

    def check_changeable(self) -> None:
        with self._writer():  # the lock taken and let go: a `run` holding it is named now
            pass

    def poller_status(self) -> PollerStatus:
        loaded = self._reader.load()
        if loaded is None:
            return PollerStatus(self._site, None, runs_recorded=False)
        backlog = loaded.state.backlog
        oldest = min(backlog) if backlog else None
        rows = self._reader.query("SELECT updated_at FROM poller_state")
        return PollerStatus(
            self._site,
            loaded.state.cursor,
            len(backlog),
            oldest,
            backlog[oldest] if oldest is not None else None,
            str(rows[0]["updated_at"]) if rows else None,
            runs_recorded=False,
        )

    def plugin_statuses(self) -> list[PluginStatus]:
        pending = self._reader.pending_counts()
        in_flight: dict[str, int] = {}
        for delivery in self._reader.in_flight():
            in_flight[delivery.plugin] = in_flight.get(delivery.plugin, 0) + 1
        paused = self._reader.paused_plugins()
        load_errors = self._load_errors()
        now = time.time()
        statuses = []
        for name in self.plugins():
            dead = self._reader.dead_letters(name)
            # Failed at least once and waiting for the next attempt (not the one under way now).
            retrying = [d for d in self._reader.pending(name) if d.last_error is not None]
            error = load_errors.get(name)
            statuses.append(
                PluginStatus(
                    name=name,
                    queued=pending.get(name, 0) - in_flight.get(name, 0),
                    in_flight=in_flight.get(name, 0),
                    parked=len(dead),
                    paused=name in paused,
                    state="Disabled" if name in paused or error else "Enabled",
                    oldest_parked_age=now - min(d.dead_at for d in dead) if dead else None,
                    retrying=len(retrying),
                    retry_attempts=max((d.attempts for d in retrying), default=0),
                    parked_last_hour=sum(1 for d in dead if d.dead_at > now - 3600),
                    load_error=error,
                )
            )
        return statuses

    def _load_errors(self) -> dict[str, str]:
        """Why each plugin of the folders that does not load is disabled, loaded as `run` loads it."""
        from shotgun_events.plugins import RecordedMetrics, load_plugins
        from shotgun_events_tools.operate.replay import quiet_logs

        with quiet_logs():
            loaded = load_plugins(self._plugin_dirs, RecordedMetrics())
        return {p.name: p.error for p in loaded if p.error is not None}

    def firing_alarms(self) -> list[str]:
        return []  # the local runtime has no alarms: status shows the parked events instead

    def set_paused(self, name: str, paused: bool) -> bool:
        with self._writer(beside_run=True) as store:
            return store.set_paused(name, paused)

    def parked(self, name: str, limit: int) -> tuple[list[ParkedEvent], int]:
        dead = self._reader.dead_letters(name)
        rows = self._reader.query(
            "SELECT event_id, attributes, enqueued_at FROM dead_letters WHERE plugin = ?", (name,)
        )
        by_id = {int(r["event_id"]): r for r in rows}
        listed = [
            _parked(d, json.loads(by_id[d.event_id]["attributes"]), by_id[d.event_id]["enqueued_at"])
            for d in dead[:limit]
        ]
        return listed, len(dead)

    def last_error(self, name: str, event_id: int) -> LoggedError | None:
        for dead in self._reader.dead_letters(name):
            if dead.event_id == event_id:
                return LoggedError(dead.dead_at, dead.reason, {"attempts": dead.attempts})
        return None

    def plugin_environment(self, name: str) -> Mapping[str, str] | None:
        return None  # plugins read this machine's environment, as under the daemon

    def redrive(self, name: str, progress: Progress, method: str = "auto") -> MoveResult:
        if method == "move-task":
            raise CommandError("the local store has no move tasks: use --method copy (or auto)")
        now = time.time()
        with self._writer() as store, store.write() as db:
            total = db.execute("SELECT count(*) FROM dead_letters WHERE plugin = ?", (name,)).fetchone()[0]
            progress(0, total)
            # One transaction: back in the plugin's queue with fresh attempts, out of its dead letters.
            db.execute(
                f"INSERT OR IGNORE INTO deliveries ({_MOVED_COLUMNS}, not_before) "
                f"SELECT {_MOVED_COLUMNS}, ? FROM dead_letters WHERE plugin = ?",
                (now, name),
            )
            moved = db.execute(
                "DELETE FROM dead_letters WHERE plugin = ? AND EXISTS (SELECT 1 FROM deliveries AS d"
                " WHERE d.plugin = dead_letters.plugin AND d.event_id = dead_letters.event_id)",
                (name,),
            ).rowcount
        progress(moved, total)
        return MoveResult("copy", moved)

    def deliver(
        self, name: str, messages: Sequence[EventMessage], dedup_prefix: str, progress: Progress
    ) -> int:
        # An event already waiting for (or parked by) this plugin is not queued twice: it runs once.
        with self._writer() as store:
            added = store.enqueue([(name, m) for m in messages])
        progress(added, len(messages))
        return added


def _parked(dead: DeadLetter, attributes: Mapping[str, str], enqueued_at: float) -> ParkedEvent:
    # The store records when the event was queued for the plugin, not when its first attempt started:
    # the queued time stands for its first delivery (later only behind its entity's events or a pause).
    return ParkedEvent.of(
        f"{dead.plugin}:{dead.event_id}",
        dead.body,
        attributes,
        first_delivery=enqueued_at,
        receive_count=dead.attempts,
    )
