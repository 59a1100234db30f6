"""The in-memory site: tables of committed records, reads, and the in-process API.

Writes go through :class:`~fpt_emulator.transaction.Transaction` so that event ids
are allocated when a change starts and become readable only when it commits, as on a real site.
Reads see committed data only.
"""

from __future__ import annotations

import bisect
import json
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from shotgun_events.events import EVENT_FIELDS

from .errors import ERR_READ, ApiError
from .filters import Compiler, Record, translate_filters
from .schema import COMPUTED_TYPES, EntityDef, FieldDef, Schema, default_schema
from .values import PASSWORD_MASK, Key, from_wire, link, to_wire

if TYPE_CHECKING:
    from .transaction import Transaction

MAX_PAGE = 500
#: How many rolled-back event ids a site remembers (a long-running emulator must not grow forever).
MAX_ROLLED_BACK_IDS = 100_000


class Write(NamedTuple):
    """One committed write made through the HTTP API, for "did the plugin do this" assertions.

    ``fields`` are the fields the call set, as the site understood them (not as the caller
    spelled them): links as ``{"type", "id"}``, datetimes as aware UTC ``datetime``s, dates as
    ``YYYY-MM-DD`` strings, floats as floats; fields left to their defaults are not included.
    """

    method: str
    entity_type: str
    entity_id: int | None
    fields: dict[str, Any]
    script_name: str | None
    session_uuid: str | None = None


class Table:
    """Committed records of one entity type, with ids kept sorted for range reads."""

    __slots__ = ("entity_type", "ids", "next_id", "records", "retired")

    def __init__(self, entity_type: str) -> None:
        self.entity_type = entity_type
        self.records: dict[int, Record] = {}
        self.ids: list[int] = []
        self.retired: set[int] = set()
        self.next_id = 1

    def insert(self, record: Record) -> None:
        rid = record["id"]
        if rid not in self.records:
            if not self.ids or rid > self.ids[-1]:
                self.ids.append(rid)
            else:
                bisect.insort(self.ids, rid)
        self.records[rid] = record

    def set_retired(self, rid: int, retired: bool) -> None:
        if retired:
            self.retired.add(rid)
        else:
            self.retired.discard(rid)


class _Scan:
    """A query's matches in answer order, computed lazily as pages ask for them."""

    def __init__(
        self,
        version: int,
        table: Table,
        candidates: Sequence[int],
        predicate: Callable[[Record], bool],
        want_retired: bool,
        archived: set[int],
    ) -> None:
        self.version = version
        self.table = table
        self.candidates = candidates
        self.predicate = predicate
        self.want_retired = want_retired
        self.archived = archived
        self.pos = 0
        self.matches: list[int] = []
        self.done = False

    def fill(self, upto: int | None = None) -> None:
        """Scan on until there are ``upto`` matches (all of them when None)."""
        if self.done:
            return
        records, retired = self.table.records, self.table.retired
        project_table = self.table.entity_type == "Project"
        want_retired, archived, predicate = self.want_retired, self.archived, self.predicate
        matches, candidates = self.matches, self.candidates
        pos, end = self.pos, len(candidates)
        while pos < end and (upto is None or len(matches) < upto):
            rid = candidates[pos]
            pos += 1
            if (rid in retired) != want_retired:
                continue
            rec = records[rid]
            if archived:
                proj = rec.get("project")
                if (proj and proj["id"] in archived) or (project_table and rid in archived):
                    continue
            if predicate(rec):
                matches.append(rid)
        self.pos = pos
        self.done = pos >= end


@dataclass
class ReadResult:
    rows: list[dict[str, Any]]
    has_next_page: bool
    total: int


def display_name(edef: EntityDef, record: Record | None) -> str | None:
    """The ``name`` a link to ``record`` carries."""
    if record is None:
        return None
    if edef.name == "ApiUser":  # "<script name> <version>"
        parts = [record.get("firstname"), record.get("lastname")]
        return " ".join(p for p in parts if p) or None
    if edef.name_field is None:
        return None
    value = record.get(edef.name_field)
    return value if isinstance(value, str) else None


class View:
    """Read access to records (committed, or a transaction's own view)."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def record(self, entity_type: str, entity_id: int) -> tuple[Record | None, bool]:
        """The record and whether it is retired."""
        table = self.site.tables.get(entity_type)
        if table is None:
            return None, False
        return table.records.get(entity_id), entity_id in table.retired

    def active_record(self, entity_type: str, entity_id: int) -> Record | None:
        rec, retired = self.record(entity_type, entity_id)
        return None if retired else rec

    def exists(self, entity_type: str, entity_id: int) -> bool:
        return self.active_record(entity_type, entity_id) is not None

    def link_name(self, entity_type: str, entity_id: int) -> str | None:
        edef = self.site.schema.entities.get(entity_type)
        if edef is None:
            return None
        rec, _ = self.record(entity_type, entity_id)
        return display_name(edef, rec)

    def present_link(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """A stored link as reads return it: with its name, or null if the target is retired."""
        if not value:
            return None
        rec, retired = self.record(value["type"], value["id"])
        if rec is None or retired:
            return None
        edef = self.site.schema.entities[value["type"]]
        return {"type": value["type"], "id": value["id"], "name": display_name(edef, rec)}

    def present_links(self, values: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
        out = []
        for item in values or ():
            shown = self.present_link(item)
            if shown is not None:
                out.append(shown)
        return out

    def value_presenter(self, fdef: FieldDef) -> Callable[[Any], Any] | None:
        """How a stored value of ``fdef`` reads (None: as stored, the field's empty value if unset)."""
        dtype = fdef.data_type
        if dtype == "entity":
            return self.present_link
        if dtype == "multi_entity":
            return self.present_links
        if dtype == "password":  # never returned
            return lambda value: PASSWORD_MASK if value else None
        if dtype in COMPUTED_TYPES:
            return lambda value: None
        return None

    def present_value(self, fdef: FieldDef, value: Any) -> Any:
        show = self.value_presenter(fdef)
        if show is not None:
            return show(value)
        return fdef.empty() if value is None else value

    def meta_link(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """A link as FPT writes it inside event meta (a snapshot, with validity and status)."""
        if not value:
            return None
        rec, _ = self.record(value["type"], value["id"])
        edef = self.site.schema.entities[value["type"]]
        out: dict[str, Any] = {
            "type": value["type"],
            "id": value["id"],
            "name": display_name(edef, rec),
            "valid": "valid",
        }
        if rec is not None and edef.has_status:
            out["status"] = rec.get("sg_status_list")
        return out

    def meta_links(self, values: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in (self.meta_link(v) for v in values) if m is not None]

    def meta_value(self, fdef: FieldDef, value: Any) -> Any:
        if fdef.data_type == "entity":
            return self.meta_link(value)
        if fdef.data_type == "password":  # never logged
            return PASSWORD_MASK if value else None
        return value

    def presenter(self, entity_type: str, fields: Sequence[str]) -> Callable[[Record], dict[str, Any]]:
        """A function rendering records of ``entity_type`` with ``fields`` as reads return them.

        Unknown field names are left out of the answer; deep fields (``entity.Shot.code``) are
        resolved through single-entity links and read as null otherwise.
        """
        edef = self.site.schema.entity(entity_type)
        stored: list[tuple[str, Any]] = []  # read as stored: (name, the value of an unset field)
        shown: list[tuple[str, Callable[[Any], Any]]] = []
        deep: list[tuple[str, FieldDef, Callable[[Record], list[Any]]]] = []
        compiler = Compiler(self.site.schema, self)
        seen: set[str] = {"type", "id"}
        for name in fields:
            if not isinstance(name, str) or name in seen:
                continue
            seen.add(name)
            if "." in name:
                try:
                    fdef, getter, single = compiler.path(entity_type, name)
                except ApiError:
                    continue
                if single:
                    deep.append((name, fdef, getter))
                else:
                    deep.append((name, fdef, lambda rec: [None]))
            elif name in edef.fields:
                fdef = edef.fields[name]
                show = self.value_presenter(fdef)
                if show is None:
                    stored.append((name, fdef.empty()))
                else:
                    shown.append((name, show))
        present_value = self.present_value

        def render(rec: Record) -> dict[str, Any]:
            out: dict[str, Any] = {"type": entity_type, "id": rec["id"]}
            for name, empty in stored:
                value = rec.get(name)
                out[name] = empty if value is None else value
            for name, show in shown:
                out[name] = show(rec.get(name))
            for name, fdef, getter in deep:
                out[name] = present_value(fdef, getter(rec)[0])
            return out

        return render


class Site:
    """The emulated FPT site's data: schema, tables, event log, transactions and reads."""

    def __init__(
        self,
        schema: Schema | None = None,
        *,
        first_event_id: int = 1,
        lock_timeout: float = 10.0,
    ) -> None:
        from .transaction import RowLocks

        self.schema = schema or default_schema()
        self.lock = threading.RLock()
        self.tables: dict[str, Table] = {name: Table(name) for name in self.schema.entities}
        self.next_event_id = first_event_id
        self.version = 0
        self.lock_timeout = lock_timeout
        self.row_locks = RowLocks()
        self.view = View(self)
        #: Who in-process writes are attributed to when no user is given.
        self.default_user: dict[str, Any] | None = None
        self._rolled_back: deque[int] = deque(maxlen=MAX_ROLLED_BACK_IDS)
        self._commit_listeners: list[Callable[[Transaction], None]] = []
        self._open: set[Transaction] = set()
        self._timers: set[threading.Timer] = set()
        self._timers_cond = threading.Condition()
        self._cache: OrderedDict[str, _Scan] = OrderedDict()

    # -- ids and bookkeeping ------------------------------------------------------------------

    @property
    def rolled_back_event_ids(self) -> list[int]:
        """Event ids allocated by transactions that rolled back: they never appear.

        The latest ``MAX_ROLLED_BACK_IDS`` only, so a long-running site does not grow forever.
        """
        with self.lock:
            return list(self._rolled_back)

    def alloc_id(self, entity_type: str) -> int:
        with self.lock:
            table = self.tables[entity_type]
            rid = table.next_id
            table.next_id += 1
            return rid

    def alloc_event_id(self) -> int:
        with self.lock:
            eid = self.next_event_id
            self.next_event_id += 1
            return eid

    def on_commit(self, listener: Callable[[Transaction], None]) -> None:
        """Call ``listener(tx)`` after each commit (used to collect :class:`Write` records)."""
        self._commit_listeners.append(listener)

    def _committed(self, tx: Transaction) -> None:
        for listener in list(self._commit_listeners):
            listener(tx)

    # -- transactions -------------------------------------------------------------------------

    def begin(
        self,
        *,
        user: Mapping[str, Any] | None = None,
        session_uuid: str | None = None,
        script_name: str | None = None,
        quiet: bool = False,
    ) -> Transaction:
        """Open a transaction; its changes and events appear when it commits."""
        from .transaction import Transaction

        return Transaction(
            self,
            user=self._user_link(user),
            session_uuid=session_uuid,
            script_name=script_name,
            quiet=quiet,
        )

    @contextmanager
    def transaction(
        self,
        *,
        commit_after: float | None = None,
        rollback: bool = False,
        user: Mapping[str, Any] | None = None,
        session_uuid: str | None = None,
    ) -> Iterator[Transaction]:
        """``with site.transaction(commit_after=2.0) as tx: tx.create(...)``.

        On leaving the block the transaction commits now, commits ``commit_after`` seconds later
        in the background (a gap that fills), or rolls back (``rollback=True``, ids that never
        fill). An exception inside the block rolls it back.
        """
        tx = self.begin(user=user, session_uuid=session_uuid)

        def finish(t: Transaction) -> None:
            if rollback:
                t.rollback()
            elif commit_after:
                t.commit_after(commit_after)
            else:
                t.commit()

        with tx.scope(finish):
            yield tx

    def wait_for_commits(self, timeout: float = 30.0) -> bool:
        """Wait until every delayed commit has run; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._timers_cond:
            while self._timers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._timers_cond.wait(remaining)
        return True

    def flush_timers(self) -> None:
        """Run every pending delayed commit now (used when the emulator stops)."""
        with self._timers_cond:
            timers = list(self._timers)
        for timer in timers:
            timer.cancel()
            timer.function(*timer.args, **timer.kwargs)

    def _user_link(self, user: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if user is None:
            return dict(self.default_user) if self.default_user else None
        return link(str(user["type"]), int(user["id"]))

    # -- in-process writes --------------------------------------------------------------------

    def _run(
        self,
        tx: Transaction | None,
        user: Mapping[str, Any] | None,
        session_uuid: str | None,
        quiet: bool,
        fn: Callable[[Transaction], Any],
    ) -> Any:
        if tx is not None:
            return fn(tx)
        with self.begin(user=user, session_uuid=session_uuid, quiet=quiet).scope() as own:
            return fn(own)

    def create(
        self,
        entity_type: str,
        data: Mapping[str, Any],
        *,
        return_fields: Sequence[str] | None = None,
        user: Mapping[str, Any] | None = None,
        session_uuid: str | None = None,
        tx: Transaction | None = None,
        events: bool = True,
    ) -> dict[str, Any]:
        """Create an entity in-process (no HTTP); ``events=False`` arranges state silently."""
        return from_wire(
            self._run(
                tx,
                user,
                session_uuid,
                not events,
                lambda t: t.apply_create(entity_type, to_wire(dict(data)), list(return_fields or [])),
            )
        )

    def update(
        self,
        entity_type: str,
        entity_id: int,
        data: Mapping[str, Any],
        *,
        multi_entity_update_modes: Mapping[str, str] | None = None,
        user: Mapping[str, Any] | None = None,
        session_uuid: str | None = None,
        tx: Transaction | None = None,
        events: bool = True,
    ) -> dict[str, Any]:
        """Update an entity in-process."""
        return from_wire(
            self._run(
                tx,
                user,
                session_uuid,
                not events,
                lambda t: t.apply_update(
                    entity_type, entity_id, to_wire(dict(data)), dict(multi_entity_update_modes or {})
                ),
            )
        )

    def delete(
        self,
        entity_type: str,
        entity_id: int,
        *,
        user: Mapping[str, Any] | None = None,
        session_uuid: str | None = None,
        tx: Transaction | None = None,
        events: bool = True,
    ) -> bool:
        """Retire an entity in-process."""
        return bool(
            self._run(tx, user, session_uuid, not events, lambda t: t.apply_delete(entity_type, entity_id))
        )

    def revive(
        self,
        entity_type: str,
        entity_id: int,
        *,
        user: Mapping[str, Any] | None = None,
        session_uuid: str | None = None,
        tx: Transaction | None = None,
        events: bool = True,
    ) -> bool:
        """Revive a retired entity in-process."""
        return bool(
            self._run(tx, user, session_uuid, not events, lambda t: t.apply_revive(entity_type, entity_id))
        )

    # -- reads ---------------------------------------------------------------------------------

    def read(
        self,
        entity_type: str,
        *,
        filters: Any = None,
        fields: Sequence[str] = ("id",),
        sorts: Any = None,
        page: int = 1,
        per_page: int | None = MAX_PAGE,
        return_only: str = "active",
        include_archived_projects: bool = True,
        method: str = "read",
        need_total: bool = False,
    ) -> ReadResult:
        """Run a read as the api3 ``read`` method does (wire-format filters and values).

        In id order (the default, and what pollers ask for) matching stops once the page and one
        more row are found, so ``id > cursor`` reads cost a page, not the whole table; ``total``
        is then -1 unless ``need_total``.
        """
        edef = self.schema.entity(entity_type, method)
        if return_only not in ("active", "retired"):
            raise ApiError(f"API {method}() invalid return_only {return_only!r}", ERR_READ)
        if per_page is not None:
            if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
                raise ApiError(f"API {method}() entities_per_page must be a positive Integer", ERR_READ)
            per_page = min(per_page, MAX_PAGE)
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ApiError(f"API {method}() current_page must be a positive Integer", ERR_READ)
        with self.lock:
            scan = self._scan(edef, filters, sorts, return_only, include_archived_projects, method)
            if per_page is None or need_total:
                scan.fill()
            start = 0 if per_page is None else (page - 1) * per_page
            stop = None if per_page is None else start + per_page
            if stop is not None:
                scan.fill(stop + 1)
            chosen = scan.matches[start:stop]
            has_next = stop is not None and len(scan.matches) > stop
            total = len(scan.matches) if scan.done else -1
            render = self.view.presenter(entity_type, list(fields or ["id"]))
            records = self.tables[entity_type].records
            rows = [render(records[rid]) for rid in chosen]
        return ReadResult(rows, has_next, total)

    def _scan(
        self,
        edef: EntityDef,
        filters: Any,
        sorts: Any,
        return_only: str,
        include_archived: bool,
        method: str,
    ) -> _Scan:
        """The (cached) evaluation of a query; pages of the same query continue one scan."""
        try:
            cache_key = json.dumps([edef.name, filters, sorts, return_only, include_archived], sort_keys=True)
        except (TypeError, ValueError):
            cache_key = ""
        if cache_key:
            hit = self._cache.get(cache_key)
            if hit is not None and hit.version == self.version:
                self._cache.move_to_end(cache_key)
                return hit
        compiler = Compiler(self.schema, self.view, method)
        predicate = compiler.compile(edef.name, filters)
        keys = compiler.sort_keys(edef.name, sorts)
        table = self.tables[edef.name]
        candidates = self._candidates(table, filters)
        archived: set[int] = set()
        if not include_archived and (edef.has_project or edef.name == "Project"):
            projects = self.tables["Project"].records
            archived = {pid for pid, p in projects.items() if p.get("archived")}
        by_id = not keys or keys[0][0] == "id"
        if by_id and keys and keys[0][2]:
            candidates = candidates[::-1]
        scan = _Scan(self.version, table, candidates, predicate, return_only == "retired", archived)
        if not by_id:
            # Any other order needs every match before the first page can be cut.
            scan.fill()
            chosen = [table.records[rid] for rid in scan.matches]
            for _name, key, desc in reversed(keys):
                chosen.sort(key=key, reverse=desc)
            scan.matches = [rec["id"] for rec in chosen]
        if cache_key and not compiler.time_dependent:
            # A relative-date filter (``in_last`` ...) is evaluated afresh by every read.
            self._cache[cache_key] = scan
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return scan

    @staticmethod
    def _candidates(table: Table, filters: Any) -> Sequence[int]:
        """Narrow the scan with top-level ``id`` conditions (the event poller's hot path)."""
        ids = table.ids
        if not isinstance(filters, dict) or filters.get("logical_operator", "and") != "and":
            return ids
        low, high = -math.inf, math.inf
        exact: set[int] | None = None
        for cond in filters.get("conditions") or ():
            if not isinstance(cond, dict) or cond.get("path") != "id":
                continue
            rel, vals = cond.get("relation"), cond.get("values")
            if not isinstance(vals, list) or not all(_finite_number(v) for v in vals):
                continue
            if rel == "greater_than" and len(vals) == 1:
                low = max(low, math.floor(vals[0]) + 1)
            elif rel == "less_than" and len(vals) == 1:
                high = min(high, math.ceil(vals[0]) - 1)
            elif rel == "between" and len(vals) == 2:
                low, high = max(low, math.ceil(vals[0])), min(high, math.floor(vals[1]))
            elif rel in ("is", "in"):
                found = {int(v) for v in vals if v == int(v)}
                exact = found if exact is None else exact & found
        if exact is not None:
            return sorted(i for i in exact if low <= i <= high and i in table.records)
        lo = 0 if low == -math.inf else bisect.bisect_left(ids, low)
        hi = len(ids) if high == math.inf else bisect.bisect_right(ids, high)
        return ids[lo:hi]

    def find(
        self,
        entity_type: str,
        filters: Any = None,
        fields: Sequence[str] | None = None,
        order: Sequence[Mapping[str, str]] | None = None,
        filter_operator: str | None = None,
        limit: int = 0,
        retired_only: bool = False,
    ) -> list[dict[str, Any]]:
        """``sg.find`` in-process: same arguments, same answers (datetimes as aware UTC)."""
        sorts = None
        if order:
            sorts = [
                {"field_name": o.get("field_name") or o.get("column"), "direction": o.get("direction", "asc")}
                for o in order
            ]
        result = self.read(
            entity_type,
            filters=translate_filters(filters or [], filter_operator),
            fields=list(fields or ["id"]),
            sorts=sorts,
            per_page=None,
            return_only="retired" if retired_only else "active",
        )
        rows = result.rows[:limit] if limit else result.rows
        return [from_wire(r) for r in rows]

    def find_one(
        self,
        entity_type: str,
        filters: Any = None,
        fields: Sequence[str] | None = None,
        order: Sequence[Mapping[str, str]] | None = None,
        filter_operator: str | None = None,
        retired_only: bool = False,
    ) -> dict[str, Any] | None:
        rows = self.find(entity_type, filters, fields, order, filter_operator, 1, retired_only)
        return rows[0] if rows else None

    def get(
        self, entity_type: str, entity_id: int, fields: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        """One entity (active or retired) with all (or the given) fields, or None."""
        edef = self.schema.entity(entity_type)
        with self.lock:
            rec = self.tables[entity_type].records.get(entity_id)
            if rec is None:
                return None
            render = self.view.presenter(entity_type, list(fields or edef.fields))
            return from_wire(render(rec))

    def events(self, after_id: int = 0) -> list[dict[str, Any]]:
        """Committed EventLogEntry rows with ``id > after_id``, ascending (as a poller reads them)."""
        return self.find(
            "EventLogEntry",
            [["id", "greater_than", after_id]],
            [*EVENT_FIELDS, "description"],
            order=[{"field_name": "id", "direction": "asc"}],
        )

    @property
    def last_event_id(self) -> int:
        """The highest committed event id (0 when the log is empty)."""
        with self.lock:
            ids = self.tables["EventLogEntry"].ids
            return ids[-1] if ids else 0

    def pending_event_ids(self) -> list[int]:
        """Event ids allocated by transactions that are still open (the gaps readers see)."""
        with self.lock:
            return sorted(eid for tx in self._open for eid in tx.event_ids)

    def schema_changed(self) -> None:
        """After a schema edit: every entity type has a table, and no cached read survives."""
        with self.lock:
            for name in self.schema.entities:
                self.tables.setdefault(name, Table(name))
            self.version += 1
            self._cache.clear()

    def entity_count(self, entity_type: str) -> int:
        with self.lock:
            table = self.tables[entity_type]
            return len(table.records) - len(table.retired)

    # -- snapshots ----------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything committed, as JSON-ready data."""
        with self.lock:
            return {
                "format": "shotgun-events-emulator/1",
                "schema": self.schema.dump(),
                "next_event_id": self.next_event_id,
                "tables": {
                    name: {
                        "next_id": t.next_id,
                        "retired": sorted(t.retired),
                        "records": [t.records[i] for i in t.ids],
                    }
                    for name, t in self.tables.items()
                },
            }

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace all data (and the schema, if the snapshot has one) with a :meth:`dump`."""
        if data.get("format") != "shotgun-events-emulator/1":
            raise ValueError("not an emulator snapshot")
        schema = Schema.load(data["schema"]) if data.get("schema") else None
        with self.lock:
            if schema is not None:
                self.schema = schema
                self.tables = {name: self.tables.get(name) or Table(name) for name in schema.entities}
            for name, table_data in data["tables"].items():
                if name not in self.tables:
                    continue
                table = Table(name)
                for rec in table_data["records"]:
                    table.insert(rec)
                table.retired = set(table_data.get("retired", ()))
                table.next_id = int(table_data.get("next_id", (table.ids[-1] + 1) if table.ids else 1))
                self.tables[name] = table
            self.next_event_id = int(data["next_event_id"])
            self.version += 1
            self._cache.clear()


def _finite_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = ["MAX_PAGE", "Key", "ReadResult", "Site", "Table", "View", "Write", "display_name"]
