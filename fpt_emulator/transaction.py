"""Transactions: staged changes, row locks, and event ids that fill in at commit time.

On a real site an event id comes from a database sequence when the change starts, and the row
becomes readable when the transaction commits. A slow transaction therefore leaves a gap in the
ids other readers see, which fills later (or never, if it rolls back). Row locks make a second
change to the same entity wait for the first, so one entity's events always appear in id order.
This module reproduces exactly that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from . import events
from .errors import ERR_CRUD, ERR_READ, ApiError
from .filters import Record
from .schema import COMPUTED_TYPES, SYSTEM_FIELDS, Connection, FieldDef
from .store import View, Write
from .values import Key, ValueContext, from_wire, link, link_key, normalize, to_wire, utc_now

if TYPE_CHECKING:
    from .store import Site

#: Fields FPT sets when an entity is created whatever the schema's default says.
SERVER_DEFAULTS: dict[tuple[str, str], Any] = {("Task", "color"): "pipeline_step"}
#: Read-only fields an API create may still set (FPT needs them to make the entity at all).
SET_AT_CREATE = frozenset({("Status", "code"), ("Attachment", "this_file")})


class RowLocks:
    """Per-entity write locks held until commit or rollback."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owners: dict[Key, Transaction] = {}

    def acquire(self, key: Key, tx: Transaction, timeout: float) -> None:
        """Take ``key`` for ``tx``, waiting for its owner; fails if ``tx`` is ended meanwhile."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if tx.state != "open":
                    raise ApiError(
                        f"API {tx.method}() CRUD ERROR #20: the transaction was rolled back "
                        f"while waiting for a lock on {key[0]} #{key[1]}",
                        ERR_CRUD,
                    )
                owner = self._owners.get(key)
                if owner is None or owner is tx:
                    self._owners[key] = tx
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ApiError(
                        f"API {tx.method}() CRUD ERROR #10: could not obtain lock on {key[0]} #{key[1]}: "
                        "canceling statement due to lock timeout",
                        ERR_CRUD,
                    )
                self._cond.wait(remaining)

    def release(self, tx: Transaction, keys: Sequence[Key]) -> None:
        with self._cond:
            for key in keys:
                if self._owners.get(key) is tx:
                    del self._owners[key]
            self._cond.notify_all()


class TxView(View):
    """What a transaction sees: its own staged changes over committed data."""

    def __init__(self, tx: Transaction) -> None:
        super().__init__(tx.site)
        self.tx = tx

    def record(self, entity_type: str, entity_id: int) -> tuple[Record | None, bool]:
        key = (entity_type, entity_id)
        rec, retired = super().record(entity_type, entity_id)
        staged = self.tx._overlay.get(key)
        if staged is not None:
            rec = staged
        return rec, self.tx._retired.get(key, retired)


class Transaction:
    """A unit of writes that becomes visible (records and events) atomically at commit.

    Use it from one thread; :meth:`commit`, :meth:`rollback` and :meth:`commit_after` may be
    called from any thread.
    """

    def __init__(
        self,
        site: Site,
        *,
        user: dict[str, Any] | None,
        session_uuid: str | None = None,
        script_name: str | None = None,
        quiet: bool = False,
        direct: bool = False,
        clock: Callable[[], str] | None = None,
    ) -> None:
        self.site = site
        self.user = user
        self.session_uuid = session_uuid
        self.script_name = script_name
        self.quiet = quiet
        #: Write straight into the tables (bulk loading, under ``site.lock``); no isolation.
        self.direct = direct
        self.clock = clock or utc_now
        self.state = "open"
        self.method = "update"
        #: Event ids this transaction allocated, in order.
        self.event_ids: list[int] = []
        #: HTTP writes to report once committed.
        self.writes: list[Write] = []
        self._overlay: dict[Key, Record] = {}
        self._created: set[Key] = set()
        self._retired: dict[Key, bool] = {}
        #: Connection rows this transaction created: (connection type, owner, target) -> row id.
        self._connection_rows: dict[tuple[str, Key, Key], int] = {}
        self._events: list[Record] = []
        self._locks: list[Key] = []
        self._state_lock = threading.Lock()
        self._done = threading.Event()
        #: Record each API operation as a :class:`Write` (HTTP writes, read back by tests).
        self.record_writes = False
        self.view = TxView(self)
        if not direct:
            with site.lock:
                site._open.add(self)

    def __repr__(self) -> str:
        return f"<Transaction {self.state} events={self.event_ids}>"

    # -- public in-process API ----------------------------------------------------------------

    def create(
        self, entity_type: str, data: Mapping[str, Any], return_fields: Sequence[str] | None = None
    ) -> dict[str, Any]:
        return from_wire(self.apply_create(entity_type, to_wire(dict(data)), list(return_fields or [])))

    def update(
        self,
        entity_type: str,
        entity_id: int,
        data: Mapping[str, Any],
        multi_entity_update_modes: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return from_wire(
            self.apply_update(
                entity_type, entity_id, to_wire(dict(data)), dict(multi_entity_update_modes or {})
            )
        )

    def delete(self, entity_type: str, entity_id: int) -> bool:
        return self.apply_delete(entity_type, entity_id)

    def revive(self, entity_type: str, entity_id: int) -> bool:
        return self.apply_revive(entity_type, entity_id)

    @property
    def created(self) -> list[Key]:
        """Entities this transaction created (not yet visible to others while it is open)."""
        return sorted(self._created)

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def commit(self) -> None:
        """Make every staged change and event visible at once, then release the row locks."""
        with self._state_lock:
            if self.state != "open":
                if self.state == "committed":
                    return
                raise RuntimeError(f"cannot commit a transaction that is {self.state}")
            site = self.site
            with site.lock:
                if not self.direct:
                    for key, rec in self._overlay.items():
                        site.tables[key[0]].insert(rec)
                    for key, retired in self._retired.items():
                        site.tables[key[0]].set_retired(key[1], retired)
                    elog = site.tables["EventLogEntry"]
                    for row in self._events:
                        elog.insert(row)
                site.version += 1
                site._open.discard(self)
                self.state = "committed"
            site.row_locks.release(self, self._locks)
            # Listeners (the emulator's write record) run before anyone waiting on this
            # transaction's state (e.g. a stopping emulator) goes on.
            site._committed(self)
        self._done.set()

    def rollback(self) -> None:
        """Discard everything; the allocated event ids stay unused forever."""
        with self._state_lock:
            if self.state != "open":
                return
            site = self.site
            with site.lock:
                site._rolled_back.extend(self.event_ids)
                site._open.discard(self)
                self.state = "rolled_back"
            site.row_locks.release(self, self._locks)
        self._done.set()

    def commit_after(self, seconds: float) -> None:
        """Commit in the background ``seconds`` from now (readers see the gap meanwhile)."""
        site = self.site

        def fire() -> None:
            try:
                if self.is_open:
                    self.commit()
            finally:
                with site._timers_cond:
                    site._timers.discard(timer)
                    site._timers_cond.notify_all()

        timer = threading.Timer(seconds, fire)
        timer.daemon = True
        with site._timers_cond:
            site._timers.add(timer)
        timer.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the commit or rollback; True once it happened."""
        return self._done.wait(timeout)

    @contextmanager
    def scope(self, finish: Callable[[Transaction], None] | None = None) -> Iterator[Transaction]:
        """``with tx.scope(): ...``: roll back if the block (or ``finish``) raises, else finish.

        ``finish`` defaults to :meth:`commit`; pass e.g. a delayed commit or a rollback. This is
        the one place where "begin, run, roll back on exception, commit" is spelled out.
        """
        try:
            yield self
            (finish or Transaction.commit)(self)
        except BaseException:
            self.rollback()  # a no-op once committed
            raise

    # -- internals -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.state != "open":
            raise RuntimeError(f"transaction is {self.state}")

    @contextmanager
    def _op(self, method: str) -> Iterator[None]:
        """One API operation: a failure aborts the whole transaction, as in PostgreSQL."""
        self._check_open()
        self.method = method
        try:
            yield
        except BaseException:
            if not self.direct:
                self.rollback()
            raise

    def lock(self, key: Key) -> None:
        if self.direct or key in self._locks:
            return
        self.site.row_locks.acquire(key, self, self.site.lock_timeout)
        self._locks.append(key)

    def _writable(self, key: Key) -> Record:
        """The record to modify: in direct mode the committed one, otherwise a staged copy."""
        if self.direct:
            return self.site.tables[key[0]].records[key[1]]
        staged = self._overlay.get(key)
        if staged is None:
            staged = dict(self.site.tables[key[0]].records[key[1]])
            self._overlay[key] = staged
        return staged

    def _insert(self, key: Key, rec: Record) -> None:
        if self.direct:
            self.site.tables[key[0]].insert(rec)
        else:
            self._overlay[key] = rec
            self._created.add(key)

    def _set_retired(self, key: Key, retired: bool) -> None:
        if self.direct:
            self.site.tables[key[0]].set_retired(key[1], retired)
        else:
            self._retired[key] = retired

    def _alloc_event_id(self) -> int:
        """A new event id, owned by this transaction (so a rollback accounts for every id)."""
        if self.direct:
            eid = self.site.alloc_event_id()
        else:
            with self._state_lock:
                if self.state != "open":
                    raise ApiError(
                        f"API {self.method}() CRUD ERROR #20: the transaction was rolled back", ERR_CRUD
                    )
                eid = self.site.alloc_event_id()
        self.event_ids.append(eid)
        return eid

    def _stage_event(self, row: Record) -> None:
        """An event row becomes visible with the commit (at once in direct mode)."""
        if self.direct:
            self.site.tables["EventLogEntry"].insert(row)
        else:
            self._events.append(row)

    def _note(self, method: str, entity_type: str, entity_id: int | None, fields: Mapping[str, Any]) -> None:
        """Record an API write with its fields as the site understood them (see :class:`Write`)."""
        if self.record_writes:
            understood = {name: from_wire(value) for name, value in fields.items()}
            self.writes.append(
                Write(method, entity_type, entity_id, understood, self.script_name, self.session_uuid)
            )

    def _user_name(self) -> str:
        if not self.user:
            return "Flow Production Tracking"
        return self.view.link_name(self.user["type"], self.user["id"]) or self.user["type"]

    def _project_of(self, entity_type: str, rec: Record) -> dict[str, Any] | None:
        if entity_type == "Project":
            return link("Project", rec["id"])
        project = rec.get("project")
        return link(project["type"], project["id"]) if project else None

    def _emit(
        self,
        entity_type: str,
        rec: Record,
        event_type: str,
        attribute_name: str | None,
        meta: dict[str, Any],
        description: str,
        when: str,
        project: dict[str, Any] | None = None,
    ) -> int:
        """Allocate an id for one event about ``rec`` (whose row lock we hold) and stage it."""
        if self.quiet:
            return 0
        eid = self._alloc_event_id()
        row = events.row(
            eid,
            event_type,
            attribute_name=attribute_name,
            meta=meta,
            entity=link(entity_type, rec["id"]),
            user=dict(self.user) if self.user else None,
            project=project or self._project_of(entity_type, rec),
            session_uuid=self.session_uuid,
            created_at=when,
            description=description,
        )
        self._stage_event(row)
        return eid

    def _context(self, entity_type: str, method: str) -> ValueContext:
        return ValueContext(entity_type, method, self.view.exists, self.site.schema.entities)

    def _may_set(self, entity_type: str, fdef: FieldDef, creating: bool) -> bool:
        """FPT's rule for read-only fields; state arranged in-process without events (the site as
        it already was) may also set them, except what the server keeps itself."""
        if fdef.name in SYSTEM_FIELDS or fdef.data_type in COMPUTED_TYPES:
            return False
        if fdef.editable or self.quiet:
            return True
        return creating and (
            entity_type == "EventLogEntry"
            or (entity_type, fdef.name) in SET_AT_CREATE
            or (fdef.is_link and self.site.schema.is_connection(entity_type))
        )

    def _normalize_fields(
        self, entity_type: str, data: Any, method: str, creating: bool = False
    ) -> dict[str, tuple[FieldDef, Any]]:
        edef = self.site.schema.entity(entity_type, method)
        if not isinstance(data, dict):
            raise ApiError(f"API {method}() fields must be a Hash of field names to values", ERR_READ)
        ctx = self._context(entity_type, method)
        out: dict[str, tuple[FieldDef, Any]] = {}
        for name, value in data.items():
            fdef = edef.fields.get(name)
            if fdef is None:
                raise ApiError(f"API {method}() {entity_type}.{name} doesn't exist.", ERR_CRUD)
            if not self._may_set(entity_type, fdef, creating):
                raise ApiError(f"API {method}() {entity_type}.{name} is read only.", ERR_CRUD)
            out[name] = (fdef, normalize(fdef, value, ctx))
        return out

    def _check_id(self, entity_type: str, entity_id: Any, method: str) -> int:
        self.site.schema.entity(entity_type, method)
        if isinstance(entity_id, bool) or not isinstance(entity_id, int):
            raise ApiError(f"API {method}() id must be an Integer, got {entity_id!r}", ERR_READ)
        return entity_id

    # -- create ---------------------------------------------------------------------------------

    def apply_create(
        self, entity_type: str, data: Any, return_fields: Sequence[str], method: str = "create"
    ) -> dict[str, Any]:
        """Create an entity from wire data; answers as FPT's ``create`` does."""
        with self._op(method):
            edef = self.site.schema.entity(entity_type, method)
            if entity_type == "EventLogEntry":
                return self._create_event_entry(data, return_fields, method)
            if self.site.schema.is_connection(entity_type):
                return self._create_connection(entity_type, data, return_fields, method)
            given = self._normalize_fields(entity_type, data, method, creating=True)
            new_id = self.site.alloc_id(entity_type)
            key = (entity_type, new_id)
            self.lock(key)
            when = self.clock()
            rec: Record = {name: fdef.empty() for name, fdef in edef.fields.items()}
            logged: list[str] = []
            for name, fdef in edef.fields.items():
                default = SERVER_DEFAULTS.get((entity_type, name), fdef.default)
                if default is None or name in given:
                    continue
                rec[name] = bool(default) if fdef.data_type == "checkbox" else default
                # Server defaults of editable fields are logged as set (not checkboxes' False).
                if fdef.editable and fdef.data_type != "checkbox" and default != "":
                    logged.append(name)
            for name, (_fdef, value) in given.items():
                rec[name] = value
                logged.append(name)
            rec["id"] = new_id
            for name, value in (
                ("created_at", when),
                ("updated_at", when),
                ("created_by", self.user),
                ("updated_by", self.user),
            ):
                if name in edef.fields:
                    rec[name] = dict(value) if isinstance(value, dict) else value
            if entity_type == "HumanUser" and not rec.get("name"):
                rec["name"] = " ".join(p for p in (rec.get("firstname"), rec.get("lastname")) if p) or None
            self._insert(key, rec)

            user_name = self._user_name()
            display = self.view.link_name(entity_type, new_id)
            self._emit(
                entity_type,
                rec,
                f"Shotgun_{entity_type}_New",
                None,
                events.new_entity_meta(entity_type, new_id),
                events.describe_new(user_name, entity_type, display),
                when,
            )
            # One in_create row per field set (given or defaulted), as FPT logs them.
            ordered = [n for n in edef.fields if n in logged]
            for fname in ordered:
                if fname in SYSTEM_FIELDS or fname == "project":
                    continue
                fdef = edef.fields[fname]
                value = rec[fname]
                if value is None or value == []:
                    continue
                eid = 0
                if self.quiet:  # nothing is logged: skip building the rows
                    pass
                elif fdef.is_multi:
                    added = self.view.meta_links(value)
                    meta = events.change_meta(entity_type, new_id, fdef, added=added, in_create=True)
                    desc = events.describe_multi(user_name, fdef, added, [], entity_type, display)
                    eid = self._emit(
                        entity_type, rec, f"Shotgun_{entity_type}_Change", fname, meta, desc, when
                    )
                else:
                    shown = self.view.meta_value(fdef, value)
                    meta = events.change_meta(entity_type, new_id, fdef, old=None, new=shown, in_create=True)
                    desc = events.describe_change(user_name, fdef, None, shown, entity_type, display)
                    eid = self._emit(
                        entity_type, rec, f"Shotgun_{entity_type}_Change", fname, meta, desc, when
                    )
                if fdef.is_multi:
                    self._connect(entity_type, rec, fdef, value, [], when)
                if fdef.reverse:
                    added_links = value if fdef.is_multi else [value]
                    self._reverse(entity_type, new_id, fdef, added_links, [], eid, True, when)
            self._note(method, entity_type, new_id, {name: value for name, (_f, value) in given.items()})
            return self._answer(entity_type, rec, list(given) + list(return_fields))

    def _create_event_entry(self, data: Any, return_fields: Sequence[str], method: str) -> dict[str, Any]:
        """Custom events (``Toolkit_*`` etc.) written through the API; they log nothing else."""
        given = self._normalize_fields("EventLogEntry", data, method, creating=True)
        if not given.get("event_type", (None, None))[1]:
            raise ApiError(
                f"API {method}() CRUD ERROR #6: Create failed for [EventLogEntry.event_type]: "
                "Event Type can't be blank",
                ERR_CRUD,
            )
        when = self.clock()
        eid = 0 if self.quiet else self._alloc_event_id()
        values = {name: value for name, (_f, value) in given.items()}
        row = events.row(
            eid,
            values["event_type"],
            attribute_name=values.get("attribute_name"),
            meta=values.get("meta"),
            entity=values.get("entity"),
            user=values.get("user") or (dict(self.user) if self.user else None),
            project=values.get("project"),
            session_uuid=values.get("session_uuid", self.session_uuid),
            created_at=when,
            description=values.get("description") or "",
        )
        if not self.quiet:
            self._stage_event(row)
        self._note(method, "EventLogEntry", eid or None, values)
        return self._answer("EventLogEntry", row, list(given) + list(return_fields))

    # -- connections ----------------------------------------------------------------------------

    def _reverse(
        self,
        source_type: str,
        source_id: int,
        fdef: FieldDef,
        added: Sequence[dict[str, Any]],
        removed: Sequence[dict[str, Any]],
        original_event_id: int,
        in_create: bool,
        when: str,
    ) -> None:
        """Keep the other side of a connection field in step, logging it as FPT does."""
        source = link(source_type, source_id)
        for target, adding in [(t, True) for t in added] + [(t, False) for t in removed]:
            target_field_name = fdef.reverse.get(target["type"])
            if target_field_name is None:
                continue
            tkey = link_key(target)
            self.lock(tkey)
            trec, tretired = self.view.record(*tkey)
            if trec is None or tretired:
                continue
            tdef = self.site.schema.entities[target["type"]].fields.get(target_field_name)
            if tdef is None:  # the other side was deleted from the schema
                continue
            trec = self._writable(tkey)
            current = trec.get(target_field_name)
            displaced: dict[str, Any] | None = None
            if tdef.is_multi:
                keys = [link_key(v) for v in current or ()]
                if adding:
                    if (source_type, source_id) in keys:
                        continue
                    trec[target_field_name] = [*list(current or ()), source]
                else:
                    if (source_type, source_id) not in keys:
                        continue
                    trec[target_field_name] = [
                        v for v in current or () if link_key(v) != (source_type, source_id)
                    ]
                moved = self.view.meta_links([source])
                meta = events.backref_meta(
                    source_type=source_type,
                    source_id=source_id,
                    source_field=fdef,
                    target_field=tdef,
                    original_event_id=original_event_id,
                    in_create=in_create,
                    added=moved if adding else [],
                    removed=[] if adding else moved,
                )
            else:
                if adding:
                    if current and link_key(current) == (source_type, source_id):
                        continue
                    displaced = current
                    trec[target_field_name] = source
                    old, new = current, source
                else:
                    if not current or link_key(current) != (source_type, source_id):
                        continue
                    trec[target_field_name] = None
                    old, new = current, None
                meta = events.backref_meta(
                    source_type=source_type,
                    source_id=source_id,
                    source_field=fdef,
                    target_field=tdef,
                    original_event_id=original_event_id,
                    in_create=in_create,
                    old=self.view.meta_link(old),
                    new=self.view.meta_link(new),
                )
            trec["updated_at"] = when
            tname = self.view.link_name(*tkey)
            desc = f'{self._user_name()} changed "{tdef.label}" on {target["type"]} {tname or ""}'.rstrip()
            eid = self._emit(
                target["type"], trec, f"Shotgun_{target['type']}_Change", target_field_name, meta, desc, when
            )
            if displaced is not None:
                # The target moved away from its previous link: drop it from that side too.
                self._reverse(target["type"], target["id"], tdef, [], [displaced], eid, False, when)

    def _connect(
        self,
        source_type: str,
        source: Record,
        fdef: FieldDef,
        added: Sequence[dict[str, Any]],
        removed: Sequence[dict[str, Any]],
        when: str,
    ) -> None:
        """The connection rows of a multi-entity change: one created per link added, the row of
        each link removed retired, both logged (``Shotgun_AssetShotConnection_New`` ...)."""
        conn = self.site.schema.links.get((source_type, fdef.name))
        if conn is None:
            return
        owner = link(source_type, source["id"])
        project = self._project_of(source_type, source)
        user_name = self._user_name()
        for target in added:
            row = self._connection_row(conn, owner, link(target["type"], target["id"]), when)
            self._emit(
                conn.entity_type,
                row,
                f"Shotgun_{conn.entity_type}_New",
                None,
                events.new_entity_meta(conn.entity_type, row["id"]),
                events.describe_new(user_name, conn.entity_type, None),
                when,
                project,
            )
        for target in removed:
            row_id = self._find_connection(conn, owner, target)
            if row_id is None:
                continue
            key = (conn.entity_type, row_id)
            self.lock(key)
            row = self._writable(key)
            self._set_retired(key, True)
            self._emit(
                conn.entity_type,
                row,
                f"Shotgun_{conn.entity_type}_Retirement",
                None,
                events.retirement_meta(conn.entity_type, row_id, None, events.retirement_stamp(when)),
                events.describe_retire(user_name, conn.entity_type, None),
                when,
                project,
            )

    def _connection_row(
        self, conn: Connection, owner: dict[str, Any], target: dict[str, Any], when: str
    ) -> Record:
        cdef = self.site.schema.entities[conn.entity_type]
        row_id = self.site.alloc_id(conn.entity_type)
        key = (conn.entity_type, row_id)
        self.lock(key)
        row: Record = {name: f.empty() for name, f in cdef.fields.items()}
        row.update({"id": row_id, conn.own: owner, conn.other: target})
        for column, end in ((conn.own, owner), (conn.other, target)):
            if f"{column}_id" in cdef.fields:  # TaskDependency.task_id and the like
                row[f"{column}_id"] = end["id"]
        for name, value in (("created_at", when), ("updated_at", when)):
            if name in cdef.fields:
                row[name] = value
        for name in ("created_by", "updated_by"):
            if name in cdef.fields:
                row[name] = dict(self.user) if self.user else None
        self._insert(key, row)
        self._connection_rows[(conn.entity_type, link_key(owner), link_key(target))] = row_id
        return row

    def _find_connection(self, conn: Connection, owner: dict[str, Any], target: dict[str, Any]) -> int | None:
        """The active row standing for the link ``owner`` -> ``target``, if any."""
        wanted = (conn.entity_type, link_key(owner), link_key(target))
        if wanted in self._connection_rows:
            return self._connection_rows[wanted]
        table = self.site.tables[conn.entity_type]
        for row_id in reversed(table.ids):
            row, retired = self.view.record(conn.entity_type, row_id)
            if row is None or retired:
                continue
            own, other = row.get(conn.own), row.get(conn.other)
            if own and other and link_key(own) == wanted[1] and link_key(other) == wanted[2]:
                return row_id
        return None

    def _create_connection(
        self, entity_type: str, data: Any, return_fields: Sequence[str], method: str
    ) -> dict[str, Any]:
        """A connection entity created directly stands for a link: add it to the owning field."""
        owner_type, owner_field = self.site.schema.connection_types[entity_type]
        conn = self.site.schema.links[(owner_type, owner_field)]
        given = self._normalize_fields(entity_type, data, method, creating=True)
        owner, target = given.get(conn.own, (None, None))[1], given.get(conn.other, (None, None))[1]
        if not owner or not target:
            raise ApiError(
                f"API {method}() CRUD ERROR #6: Create failed for [{entity_type}]: "
                f"'{conn.own}' and '{conn.other}' are required",
                ERR_CRUD,
            )
        self.apply_update(
            owner["type"], owner["id"], {owner_field: [target]}, {owner_field: "add"}, method, False
        )
        row_id = self._find_connection(conn, owner, target)
        if row_id is None:  # pragma: no cover - the update above made or found the link
            raise ApiError(f"API {method}() CRUD ERROR #6: Create failed for [{entity_type}]", ERR_CRUD)
        row = self._writable((entity_type, row_id))
        for name, (_fdef, value) in given.items():
            row[name] = value
        self._note(method, entity_type, row_id, {name: value for name, (_f, value) in given.items()})
        return self._answer(entity_type, row, list(given) + list(return_fields))

    # -- update ---------------------------------------------------------------------------------

    def apply_update(
        self,
        entity_type: str,
        entity_id: Any,
        data: Any,
        modes: Mapping[str, str] | None = None,
        method: str = "update",
        note: bool = True,
    ) -> dict[str, Any]:
        """Update an entity from wire data; only fields whose value changes are logged."""
        with self._op(method):
            entity_id = self._check_id(entity_type, entity_id, method)
            if entity_type == "EventLogEntry":
                raise ApiError(f"API {method}() EventLogEntry entities are read only.", ERR_CRUD)
            key = (entity_type, entity_id)
            self.lock(key)
            current, retired = self.view.record(entity_type, entity_id)
            if current is None or retired:
                raise ApiError(
                    f"API {method}() CRUD ERROR #4: Entity {entity_type} #{entity_id} does not exist.",
                    ERR_CRUD,
                )
            given = self._normalize_fields(entity_type, data, method)
            modes = modes or {}
            rec = self._writable(key)
            when = self.clock()
            user_name = self._user_name()
            changed = False
            for fname, (fdef, value) in given.items():
                old = rec.get(fname)
                if fdef.is_multi:
                    old_list = list(old or ())
                    old_keys = [link_key(v) for v in old_list]
                    mode = modes.get(fname, "set")
                    if mode == "add":
                        value = old_list + [v for v in value if link_key(v) not in old_keys]
                    elif mode == "remove":
                        drop = {link_key(v) for v in value}
                        value = [v for v in old_list if link_key(v) not in drop]
                    elif mode != "set":
                        where = f"{entity_type}.{fname}"
                        raise ApiError(
                            f"API {method}() invalid multi_entity_update_mode {mode!r} for {where}", ERR_CRUD
                        )
                    new_keys = {link_key(v) for v in value}
                    old_set = set(old_keys)
                    added = [v for v in value if link_key(v) not in old_set]
                    removed = [v for v in old_list if link_key(v) not in new_keys]
                    if not added and not removed:
                        continue
                    rec[fname] = value
                    changed = True
                    name = self.view.link_name(entity_type, entity_id)
                    madded = self.view.meta_links(added)
                    mremoved = self.view.meta_links(removed)
                    meta = events.change_meta(entity_type, entity_id, fdef, added=madded, removed=mremoved)
                    desc = events.describe_multi(user_name, fdef, madded, mremoved, entity_type, name)
                    eid = self._emit(
                        entity_type, rec, f"Shotgun_{entity_type}_Change", fname, meta, desc, when
                    )
                    self._connect(entity_type, rec, fdef, added, removed, when)
                    if fdef.reverse:
                        self._reverse(entity_type, entity_id, fdef, added, removed, eid, False, when)
                else:
                    if old == value:
                        continue
                    old_shown = self.view.meta_value(fdef, old)
                    rec[fname] = value
                    changed = True
                    name = self.view.link_name(entity_type, entity_id)
                    new_shown = self.view.meta_value(fdef, value)
                    meta = events.change_meta(entity_type, entity_id, fdef, old=old_shown, new=new_shown)
                    desc = events.describe_change(user_name, fdef, old_shown, new_shown, entity_type, name)
                    eid = self._emit(
                        entity_type, rec, f"Shotgun_{entity_type}_Change", fname, meta, desc, when
                    )
                    if fdef.reverse:
                        self._reverse(
                            entity_type,
                            entity_id,
                            fdef,
                            [value] if value else [],
                            [old] if old else [],
                            eid,
                            False,
                            when,
                        )
            if changed:
                if "updated_at" in rec:
                    rec["updated_at"] = when
                if "updated_by" in rec:
                    rec["updated_by"] = dict(self.user) if self.user else None
            if note:
                self._note(method, entity_type, entity_id, {n: value for n, (_f, value) in given.items()})
            return self._answer(entity_type, rec, list(given))

    # -- retire / revive ------------------------------------------------------------------------

    def apply_delete(self, entity_type: str, entity_id: Any, method: str = "delete") -> bool:
        """Retire an entity: False if it is already retired, FPT's error if it never existed."""
        with self._op(method):
            entity_id = self._check_id(entity_type, entity_id, method)
            if entity_type == "EventLogEntry":
                raise ApiError(f"API {method}() EventLogEntry entities can not be deleted.", ERR_CRUD)
            key = (entity_type, entity_id)
            self.lock(key)
            rec, retired = self.view.record(entity_type, entity_id)
            if rec is None:
                raise ApiError(
                    f"API {method}() CRUD ERROR #3: Entity {entity_type} #{entity_id} does not exist.",
                    ERR_CRUD,
                )
            self._note(method, entity_type, entity_id, {})
            if retired:
                return False
            if self.site.schema.is_connection(entity_type):
                # Removing a connection row removes the link it stands for, on both sides.
                owner_type, owner_field = self.site.schema.connection_types[entity_type]
                conn = self.site.schema.links[(owner_type, owner_field)]
                owner, target = rec.get(conn.own), rec.get(conn.other)
                if owner and target and self.view.exists(owner["type"], owner["id"]):
                    self.apply_update(
                        owner["type"],
                        owner["id"],
                        {owner_field: [target]},
                        {owner_field: "remove"},
                        method,
                        False,
                    )
                    return True
            when = self.clock()
            stamp = events.retirement_stamp(when)
            name = self.view.link_name(entity_type, entity_id)
            user_name = self._user_name()
            retire_field = FieldDef("retirement_date", "date_time", "Date Retired")
            self._emit(
                entity_type,
                rec,
                f"Shotgun_{entity_type}_Change",
                "retirement_date",
                events.change_meta(entity_type, entity_id, retire_field, old=None, new=stamp),
                events.describe_change(user_name, retire_field, None, stamp, entity_type, name),
                when,
            )
            self._emit(
                entity_type,
                rec,
                f"Shotgun_{entity_type}_Retirement",
                None,
                events.retirement_meta(entity_type, entity_id, name, stamp),
                events.describe_retire(user_name, entity_type, name),
                when,
            )
            self._set_retired(key, True)
            return True

    def apply_revive(self, entity_type: str, entity_id: Any, method: str = "revive") -> bool:
        """Bring a retired entity back; False if it is not retired (or does not exist)."""
        with self._op(method):
            entity_id = self._check_id(entity_type, entity_id, method)
            key = (entity_type, entity_id)
            self.lock(key)
            rec, retired = self.view.record(entity_type, entity_id)
            self._note(method, entity_type, entity_id, {})
            if (
                rec is None
                or not retired
                or entity_type == "EventLogEntry"
                or self.site.schema.is_connection(entity_type)  # a link removed stays removed
            ):
                return False
            self._set_retired(key, False)
            when = self.clock()
            name = self.view.link_name(entity_type, entity_id)
            self._emit(
                entity_type,
                rec,
                f"Shotgun_{entity_type}_Revival",
                None,
                events.revival_meta(entity_type, entity_id, name),
                events.describe_revive(self._user_name(), entity_type, name),
                when,
            )
            return True

    # -- answers --------------------------------------------------------------------------------

    def _answer(self, entity_type: str, rec: Record, fields: Sequence[str]) -> dict[str, Any]:
        return self.view.presenter(entity_type, fields)(rec)
