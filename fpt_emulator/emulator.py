"""``FptEmulator``: a site, its HTTP server, fault knobs and studio activity in one object."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import studio
from .activity import Activity
from .api import Api
from .faults import Faults
from .preload import preload_events
from .schema import Schema
from .server import EmulatorHTTPServer
from .site_schema import load_site_schema
from .store import Site, Write
from .transaction import Transaction
from .webhooks import Webhook

if TYPE_CHECKING:
    import shotgun_api3

#: The script user every emulator knows (the name the project's own poller uses).
DEFAULT_SCRIPT_NAME = "shotgun_events"
#: Its key: fixed so demos and docs can show it. It protects nothing.
DEFAULT_SCRIPT_KEY = "emulator-demo-key-0123456789"
#: How many HTTP calls and committed writes an emulator remembers for :attr:`FptEmulator.calls`
#: and :attr:`FptEmulator.writes`: the oldest are forgotten beyond this, so a standalone emulator
#: that runs for days does not grow without bound. Tests never come close.
MAX_RECORDED = 100_000


class FptEmulator:
    """An FPT site emulator speaking the api3 JSON protocol.

    >>> with FptEmulator(seed=1) as emu:
    ...     sg = emu.connect()
    ...     sg.find("Shot", [])
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        scripts: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        populate: bool = True,
        first_event_id: int = 1,
        snapshot: str | Path | None = None,
        schema: Schema | str | Path | None = None,
        lock_timeout: float = 10.0,
    ) -> None:
        """``schema``: the site's schema (default: the stock site's), or the path of a site's
        schema files (see :func:`fpt_emulator.site_schema.load_site_schema`). A snapshot holds its
        own schema, which wins. A bad schema or snapshot path fails here, not when stopping."""
        self.seed = seed
        self.host = host
        self.port = port
        if isinstance(schema, str | Path):
            schema = load_site_schema(schema)
        self.site = Site(schema, first_event_id=first_event_id, lock_timeout=lock_timeout)
        self.faults = Faults(seed)
        self.scripts: dict[str, str] = {}
        self._script_users: dict[str, dict[str, Any]] = {}
        self._writes: deque[Write] = deque(maxlen=MAX_RECORDED)
        self._write_count = 0
        self._writes_lock = threading.Lock()
        self._calls: deque[str | None] = deque(maxlen=MAX_RECORDED)
        self.site.on_commit(self._collect_writes)
        self._stop = threading.Event()
        self._server: EmulatorHTTPServer | None = None
        self.webhooks: list[Webhook] = []
        self._thread: threading.Thread | None = None
        self.snapshot_path = Path(snapshot) if snapshot else None
        if self.snapshot_path:
            _check_snapshot_path(self.snapshot_path)
        if self.snapshot_path and self.snapshot_path.exists():
            self.site.load(json.loads(self.snapshot_path.read_text(encoding="utf-8")))
        self._bootstrap(populate and not (self.snapshot_path and self.snapshot_path.exists()), schema is None)
        self.add_script(DEFAULT_SCRIPT_NAME, DEFAULT_SCRIPT_KEY)
        for name, key in (scripts or {}).items():
            self.add_script(name, key)
        self.activity = Activity(self.site, seed)
        self.api = Api(
            self.site,
            scripts=self.scripts,
            script_users=self._script_users,
            auth_fails=self.faults.auth_fails,
            stop=self._stop,
        )

    # -- setup ---------------------------------------------------------------------------------

    def _bootstrap(self, populate: bool, stock: bool = False) -> None:
        """The admin every in-process write is credited to, the site's statuses, and (optionally)
        the demo studio (see :mod:`fpt_emulator.studio`)."""
        studio.seed(self.site, populate, reuse=stock)

    def add_script(self, name: str, key: str) -> dict[str, Any]:
        """Register a script user (an ApiUser) with its key; returns the ApiUser link."""
        found = self.site.find_one("ApiUser", [["firstname", "is", name]])
        if found is None or found.get("firstname") != name:
            found = self.site.create(
                "ApiUser",
                {"firstname": name, "lastname": "1.0", "description": f"Script user {name}"},
                events=False,
            )
        self.scripts[name] = key
        self._script_users[name] = {"type": "ApiUser", "id": found["id"]}
        return dict(self._script_users[name])

    def api_user(self, script_name: str = DEFAULT_SCRIPT_NAME) -> dict[str, Any]:
        """The ApiUser link a script's writes are credited to (the events' ``user``)."""
        return dict(self._script_users[script_name])

    # -- running -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The site URL to give ``shotgun_api3.Shotgun`` (valid once started)."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> FptEmulator:
        """Serve on ``host:port`` (port 0 picks a free one) in a background thread."""
        if self._server is not None:
            return self
        self._stop.clear()
        self.api.open()
        server = EmulatorHTTPServer(
            (self.host, self.port), self.api, self.faults, self._stop, on_call=self._record_call
        )
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fpt-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and settle every write before the snapshot is saved.

        HTTP writes in progress (waiting for a row lock, or holding their commit open) are rolled
        back and their callers get an error or a closed connection; no HTTP write commits after
        this returns. Hanging calls are released, the activity thread stops after its current
        action, and delayed in-process commits (``commit_after``) are committed now.
        """
        for webhook in self.webhooks:
            webhook.stop()
        self.api.close()
        self._stop.set()
        self.activity.stop()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.site.flush_timers()
        if self.snapshot_path:
            self.save_snapshot(self.snapshot_path)

    def add_webhook(self, url: str, token: str | None = None, **options: Any) -> Webhook:
        """Deliver committed events to ``url`` as an FPT webhook does (see :mod:`fpt_emulator.webhooks`
        for the ``options``); stopped with the emulator. Call it once started: it sends the site URL."""
        webhook = Webhook(self.site, url, token, site_url=self.url, **options).start()
        self.webhooks.append(webhook)
        return webhook

    def __enter__(self) -> FptEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def connect(
        self,
        script_name: str = DEFAULT_SCRIPT_NAME,
        key: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> shotgun_api3.Shotgun:
        """A real ``shotgun_api3.Shotgun`` client for a script, with a timeout set."""
        import shotgun_api3

        sg = shotgun_api3.Shotgun(
            self.url, script_name, key if key is not None else self.scripts[script_name], connect=False
        )
        sg.config.timeout_secs = timeout
        sg.config.rpc_attempt_interval = 50
        _ = sg.server_caps  # the `info` call a default Shotgun(...) makes, now with a timeout
        return sg

    # -- transactions --------------------------------------------------------------------------

    def begin(self, *, user: Mapping[str, Any] | None = None, session_uuid: str | None = None) -> Transaction:
        """``tx = emu.begin(); tx.create(...); tx.commit()`` (or ``tx.rollback()``)."""
        return self.site.begin(user=user, session_uuid=session_uuid)

    @contextmanager
    def transaction(
        self,
        *,
        commit_after: float | None = None,
        rollback: bool = False,
        user: Mapping[str, Any] | None = None,
        session_uuid: str | None = None,
    ) -> Iterator[Transaction]:
        """``with emu.transaction(commit_after=2.0) as tx: tx.update(...)``: a gap that fills."""
        with self.site.transaction(
            commit_after=commit_after, rollback=rollback, user=user, session_uuid=session_uuid
        ) as tx:
            yield tx

    def wait_for_commits(self, timeout: float = 30.0) -> bool:
        """Wait for every delayed commit (``commit_after``) to have run."""
        return self.site.wait_for_commits(timeout)

    # -- history and inspection ----------------------------------------------------------------

    def preload_events(
        self,
        n: int,
        *,
        start_at: dt.datetime | None = None,
        end_at: dt.datetime | None = None,
        projects: int = 3,
    ) -> tuple[int, int]:
        """Write ``n`` historical events (ids first..last, committed, ascending created_at)."""
        return preload_events(
            self.site, n, seed=self.seed, start_at=start_at, end_at=end_at, projects=projects
        )

    def _record_call(self, method: str | None) -> None:
        with self._writes_lock:
            self._calls.append(method)

    @property
    def calls(self) -> list[str | None]:
        """The ``method_name`` of every HTTP call received, in order (None: undecodable body).

        The latest ``MAX_RECORDED`` calls only.
        """
        with self._writes_lock:
            return list(self._calls)

    def _collect_writes(self, tx: Transaction) -> None:
        if tx.writes:
            with self._writes_lock:
                self._writes.extend(tx.writes)
                self._write_count += len(tx.writes)

    @property
    def writes(self) -> list[Write]:
        """Every committed write made over HTTP, in commit order (a copy).

        Fields are recorded as the site understood them (see :class:`Write`), so an assertion
        does not depend on how the plugin spelled a link or a datetime. The latest
        ``MAX_RECORDED`` writes only.
        """
        with self._writes_lock:
            return list(self._writes)

    def writes_by(
        self, script_name: str | None = None, method: str | Sequence[str] | None = None
    ) -> list[Write]:
        """:attr:`writes` filtered by script and/or method."""
        methods = {method} if isinstance(method, str) else set(method or ())
        return [
            w
            for w in self.writes
            if (script_name is None or w.script_name == script_name) and (not methods or w.method in methods)
        ]

    @property
    def write_count(self) -> int:
        """How many writes have been recorded in all (not bounded; :meth:`clear_writes` resets it).

        A mark for :meth:`writes_since`, which stays right when old writes have been forgotten.
        """
        with self._writes_lock:
            return self._write_count

    def writes_since(self, mark: int) -> list[Write]:
        """The writes recorded after :attr:`write_count` was ``mark`` (those still remembered)."""
        with self._writes_lock:
            newer = self._write_count - mark
            return list(self._writes)[-newer:] if newer > 0 else []

    def clear_writes(self) -> None:
        """Forget recorded writes and calls (e.g. after arranging state over HTTP)."""
        with self._writes_lock:
            self._writes.clear()
            self._calls.clear()
            self._write_count = 0

    @property
    def schema(self) -> Schema:
        """The site's schema (``schema_field_create`` and the like change it)."""
        return self.site.schema

    def save_snapshot(self, path: str | Path) -> None:
        """Write all committed data to a JSON file (script keys are not included)."""
        data = self.site.dump()
        Path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    def load_snapshot(self, path: str | Path) -> None:
        """Replace all data with a JSON snapshot; registered scripts keep working."""
        self.site.load(json.loads(Path(path).read_text(encoding="utf-8")))
        self._bootstrap(populate=False)
        for name, key in list(self.scripts.items()):
            self.add_script(name, key)


def _check_snapshot_path(path: Path) -> None:
    """A snapshot that exists must be a file; one that does not must be creatable on stop."""
    if path.exists():
        if not path.is_file():
            raise ValueError(f"snapshot {path} is not a file")
        return
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"snapshot {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"snapshot {path}: the folder {folder} is not writable")
