"""The api3 JSON protocol: decode a call, authenticate it, run it, encode FPT's answer.

``shotgun_api3`` posts ``{"method_name": M, "params": [auth, args]}``; answers are
``{"results": ...}`` or ``{"exception": true, "message", "error_code"}`` (always HTTP 200).
This module never raises: every problem becomes FPT's error payload.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import schema_api
from .errors import ERR_CRUD, ERR_READ, ApiError, AuthError
from .faults import Decision, FaultKind
from .schema import Schema
from .store import MAX_PAGE, Site
from .transaction import Transaction

LOG = logging.getLogger(__name__)

SERVER_VERSION = [8, 50, 0]
#: Deepest nesting of arrays and objects a request may have. Deeper bodies are refused before
#: anything recurses over them, so a stored value can always be sent back to the client (whose
#: JSON decoder has a recursion limit too).
MAX_JSON_DEPTH = 100
#: Auth values that must be strings when present.
_AUTH_STRINGS = ("script_name", "script_key", "user_login", "user_password", "session_token", "sudo_as_login")

INFO: dict[str, Any] = {
    "version": SERVER_VERSION,
    "full_version": [*SERVER_VERSION, 0],
    "api_max_entities_per_page": MAX_PAGE,
    "user_authentication_method": "default",
    "s3_uploads_enabled": False,
    "s3_direct_uploads_enabled": False,
    "totp": None,
    "unified_login_flow_enabled": False,
    "emulator": True,
}


@dataclass
class Caller:
    """Who is calling: the script, the user its writes are credited to, and the session uuid."""

    script_name: str | None
    user: dict[str, Any] | None
    session_uuid: str | None


class Api:
    """Executes api3 calls against a :class:`Site`."""

    def __init__(
        self,
        site: Site,
        *,
        scripts: Mapping[str, str],
        script_users: Mapping[str, dict[str, Any]],
        auth_fails: Callable[[str | None], bool] = lambda name: False,
        stop: threading.Event | None = None,
    ) -> None:
        self.site = site
        self.scripts = scripts
        self.script_users = script_users
        self.auth_fails = auth_fails
        self.stop = stop or threading.Event()
        #: HTTP write transactions in progress; :meth:`close` rolls them back.
        self._writing: set[Transaction] = set()
        self._writing_lock = threading.Lock()
        self._closed = False
        self._methods: dict[str, Callable[[Caller, Any, Decision], Any]] = {
            "read": self._read,
            "create": self._create,
            "update": self._update,
            "delete": self._delete,
            "revive": self._revive,
            "batch": self._batch,
            "schema_read": self._schema_read,
            "schema_field_read": self._schema_field_read,
            "schema_entity_read": self._schema_entity_read,
            "schema_field_create": self._schema_edit("schema_field_create", schema_api.create_field),
            "schema_field_update": self._schema_edit("schema_field_update", schema_api.update_field),
            "schema_field_delete": self._schema_edit("schema_field_delete", schema_api.delete_field),
            "schema_field_revive": self._schema_edit("schema_field_revive", schema_api.revive_field),
        }

    # -- entry points ---------------------------------------------------------------------------

    def open(self) -> None:
        """Accept writes (again): the emulator is serving."""
        with self._writing_lock:
            self._closed = False

    def close(self) -> None:
        """Refuse new writes and roll back every write in progress (the emulator is stopping).

        A write waiting for a row lock or holding its commit open fails; one that is committing
        right now finishes first. Either way, once this returns no HTTP write commits any more.
        """
        with self._writing_lock:
            self._closed = True
            writing = list(self._writing)
        for tx in writing:
            tx.rollback()

    @staticmethod
    def parse(body: bytes) -> tuple[dict[str, Any] | None, ApiError | None]:
        """The decoded request, or FPT's error for a body that is not a valid call."""
        try:
            payload = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except RecursionError:
            return None, ApiError("Unable to parse JSON request body: nested too deeply", ERR_READ)
        except (UnicodeDecodeError, ValueError) as exc:
            return None, ApiError(f"Unable to parse JSON request body: {exc}", ERR_READ)
        if _nested_deeper_than(payload, MAX_JSON_DEPTH):
            return None, ApiError(
                f"Unable to parse JSON request body: nested deeper than {MAX_JSON_DEPTH} levels", ERR_READ
            )
        if not isinstance(payload, dict) or not isinstance(payload.get("method_name"), str):
            return None, ApiError(
                "Invalid request: expected a Hash with 'method_name' and 'params'", ERR_READ
            )
        params = payload.get("params", [])
        if params is None:
            payload["params"] = []
        elif not isinstance(params, list):
            return None, ApiError("Invalid request: 'params' must be an Array", ERR_READ)
        return payload, None

    def handle(self, payload: dict[str, Any], decision: Decision | None = None) -> dict[str, Any]:
        """Run one decoded call and return the JSON answer (never raises)."""
        decision = decision or Decision()
        method = payload["method_name"]
        try:
            if method == "info":  # needs no auth; faults only when scripted for "info" by name
                if decision.kind is FaultKind.AUTH:
                    raise AuthError(decision.message or "Can't authenticate")
                if decision.kind is FaultKind.ERROR:
                    raise ApiError(decision.message or "API info() internal server error", ERR_READ)
                return {"results": dict(INFO)}
            handler = self._methods.get(method)
            if handler is None:
                raise ApiError(f"Unknown method: {method}", ERR_READ)
            params = payload["params"]
            caller = self._authenticate(method, params[0] if params else None, decision)
            if decision.kind is FaultKind.ERROR:
                raise ApiError(decision.message or f"API {method}() internal server error", ERR_READ)
            args = params[1] if len(params) > 1 else None
            return {"results": handler(caller, args, decision)}
        except ApiError as exc:
            return exc.payload()
        except RecursionError:
            return ApiError(f"API {method}() request nested too deeply", ERR_READ).payload()
        except Exception as exc:  # a bug here must not take the server down
            LOG.exception("emulator error in %s", method)
            return ApiError(f"API {method}() internal error: {exc!r}", ERR_READ).payload()

    # -- auth -----------------------------------------------------------------------------------

    def _authenticate(self, method: str, auth: Any, decision: Decision) -> Caller:
        if not isinstance(auth, dict):
            raise AuthError(f"API {method}() Missing or invalid authentication arguments")
        for field in _AUTH_STRINGS:
            if auth.get(field) is not None and not isinstance(auth[field], str):
                raise AuthError(f"API {method}() Missing or invalid authentication arguments: {field}")
        session_uuid = auth.get("session_uuid")
        if session_uuid is not None and not isinstance(session_uuid, str):
            raise ApiError(f"API {method}() session_uuid must be a String", ERR_READ)
        name = auth.get("script_name")
        if name is None:
            if "user_login" in auth:
                raise AuthError(f"Can't authenticate user '{auth.get('user_login')}'.")
            if "session_token" in auth:
                raise AuthError("Can't authenticate session token")
            raise AuthError(f"API {method}() Missing or invalid authentication arguments")
        key = auth.get("script_key")
        if (
            decision.kind is FaultKind.AUTH
            or self.auth_fails(name)
            or name not in self.scripts
            or self.scripts[name] != key
        ):
            raise AuthError(f"Can't authenticate script '{name}'")
        user = self.script_users.get(name)
        sudo = auth.get("sudo_as_login")
        if sudo:
            found = self.site.find_one("HumanUser", [["login", "is", sudo], ["sg_status_list", "is", "act"]])
            if found is None:
                raise AuthError(f"Cannot 'sudo' - unknown or retired user: '{sudo}'")
            user = {"type": "HumanUser", "id": found["id"]}
        return Caller(name, dict(user) if user else None, session_uuid)

    # -- reads ----------------------------------------------------------------------------------

    @staticmethod
    def _args(args: Any, method: str) -> dict[str, Any]:
        if not isinstance(args, dict):
            raise ApiError(f"API {method}() expected a Hash of parameters", ERR_READ)
        return args

    def _read(self, caller: Caller, args: Any, decision: Decision) -> Any:
        args = self._args(args, "read")
        paging = args.get("paging") or {}
        if not isinstance(paging, dict):
            raise ApiError("API read() paging must be a Hash", ERR_READ)
        per_page = paging.get("entities_per_page")
        per_page = MAX_PAGE if per_page is None else per_page
        page = paging.get("current_page")
        page = 1 if page is None else page
        fields = args.get("return_fields") or ["id"]
        if not isinstance(fields, list):
            raise ApiError("API read() return_fields must be an Array", ERR_READ)
        result = self.site.read(
            args.get("type"),
            filters=args.get("filters"),
            fields=fields,
            sorts=args.get("sorts"),
            page=page,
            per_page=per_page,
            return_only=args.get("return_only", "active"),
            include_archived_projects=args.get("include_archived_projects", True) is not False,
            need_total=bool(args.get("return_paging_info")),
        )
        if args.get("return_paging_info"):
            size = min(per_page, MAX_PAGE)
            info: dict[str, Any] = {
                "entity_count": result.total,
                "current_page": page,
                "page_count": max(1, math.ceil(result.total / size)),
            }
        else:
            info = {"has_next_page": result.has_next_page}
        return {"entities": result.rows, "paging_info": info}

    def _project(self, args: Mapping[str, Any], method: str) -> int | None:
        """The id of the ``project`` a schema call is for (None: the site-wide schema)."""
        project = args.get("project")
        if project is None:
            return None
        if (
            not isinstance(project, dict)
            or project.get("type") != "Project"
            or not isinstance(project.get("id"), int)
            or isinstance(project.get("id"), bool)
            or not self.site.view.exists("Project", project["id"])
        ):
            raise ApiError(f"API {method}() project must be an existing Project, got {project!r}", ERR_READ)
        return int(project["id"])

    def _schema_args(self, args: Any, method: str) -> dict[str, Any]:
        return {} if args is None else self._args(args, method)

    def _schema_read(self, caller: Caller, args: Any, decision: Decision) -> Any:
        args = self._schema_args(args, "schema_read")
        with self.site.lock:
            return self.site.schema.to_wire(self._project(args, "schema_read"))

    def _schema_entity_read(self, caller: Caller, args: Any, decision: Decision) -> Any:
        args = self._schema_args(args, "schema_entity_read")
        with self.site.lock:
            return self.site.schema.entities_to_wire(self._project(args, "schema_entity_read"))

    def _schema_field_read(self, caller: Caller, args: Any, decision: Decision) -> Any:
        method = "schema_field_read"
        args = self._args(args, method)
        schema = self.site.schema
        with self.site.lock:
            entity_type = args.get("type")
            schema.entity(entity_type, method)
            project_id = self._project(args, method)
            name = args.get("field_name")
            if name:
                fdef = schema.field(entity_type, name, method)
                return {name: fdef.to_wire(entity_type, schema.visible_in(entity_type, name, project_id))}
            return schema.fields_to_wire(entity_type, project_id)

    def _schema_edit(
        self, method: str, edit: Callable[[Schema, dict[str, Any], int | None], Any]
    ) -> Callable[[Caller, Any, Decision], Any]:
        """A ``schema_field_*`` handler: the edit runs on the site's schema under its lock."""

        def handler(caller: Caller, args: Any, decision: Decision) -> Any:
            site = self.site
            with site.lock:
                args = self._args(args, method)
                result = edit(site.schema, args, self._project(args, method))
                site.schema_changed()
                return result

        return handler

    # -- writes ---------------------------------------------------------------------------------

    @staticmethod
    def _fields(items: Any, method: str) -> tuple[dict[str, Any], dict[str, str]]:
        """``[{"field_name", "value", "multi_entity_update_mode"?}]`` to a dict (and modes)."""
        if items is None:
            return {}, {}
        if not isinstance(items, list):
            raise ApiError(
                f"API {method}() fields must be an Array of {{field_name, value}} Hashes", ERR_READ
            )
        data: dict[str, Any] = {}
        modes: dict[str, str] = {}
        for item in items:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("field_name"), str)
                or "value" not in item
            ):
                raise ApiError(
                    f"API {method}() invalid field entry {item!r}: expected {{field_name, value}}", ERR_READ
                )
            data[item["field_name"]] = item["value"]
            if item.get("multi_entity_update_mode"):
                modes[item["field_name"]] = item["multi_entity_update_mode"]
        return data, modes

    def _write(
        self, caller: Caller, decision: Decision, method: str, work: Callable[[Transaction], Any]
    ) -> Any:
        """Run ``work`` in one transaction, honouring the rollback/hold fault knobs."""
        with self._writing_lock:
            if self._closed:
                raise ApiError(f"API {method}() CRUD ERROR #20: the site is shutting down", ERR_CRUD)
            tx = self.site.begin(user=caller.user, session_uuid=caller.session_uuid)
            self._writing.add(tx)
        tx.script_name = caller.script_name
        tx.record_writes = True

        def finish(tx: Transaction) -> None:
            if decision.kind is FaultKind.HOLD and decision.seconds > 0:
                self.stop.wait(decision.seconds)
            try:
                tx.commit()
            except RuntimeError:  # rolled back by close() meanwhile
                raise ApiError(
                    f"API {method}() CRUD ERROR #20: the site is shutting down; "
                    "the transaction was rolled back.",
                    ERR_CRUD,
                ) from None

        try:
            with tx.scope(finish):
                result = work(tx)
                if decision.kind is FaultKind.ROLLBACK:
                    raise ApiError(
                        decision.message
                        or f"API {method}() CRUD ERROR #20: PG::TRDeadlockDetected: ERROR:  deadlock "
                        "detected. The transaction was rolled back.",
                        ERR_CRUD,
                    )
        finally:
            with self._writing_lock:
                self._writing.discard(tx)
        return result

    def _create_one(self, tx: Transaction, args: Any) -> dict[str, Any]:
        args = self._args(args, "create")
        data, _ = self._fields(args.get("fields"), "create")
        return_fields = args.get("return_fields") or ["id"]
        if not isinstance(return_fields, list):
            raise ApiError("API create() return_fields must be an Array", ERR_READ)
        return tx.apply_create(args.get("type"), data, return_fields)

    def _update_one(self, tx: Transaction, args: Any) -> dict[str, Any]:
        args = self._args(args, "update")
        data, modes = self._fields(args.get("fields"), "update")
        if args.get("multi_entity_update_mode"):
            # An older per-request spelling: apply to every multi-entity field sent.
            for name in data:
                modes.setdefault(name, args["multi_entity_update_mode"])
        return tx.apply_update(args.get("type"), args.get("id"), data, modes)

    def _delete_one(self, tx: Transaction, args: Any) -> bool:
        args = self._args(args, "delete")
        return tx.apply_delete(args.get("type"), args.get("id"))

    def _revive_one(self, tx: Transaction, args: Any) -> bool:
        args = self._args(args, "revive")
        return tx.apply_revive(args.get("type"), args.get("id"))

    def _create(self, caller: Caller, args: Any, decision: Decision) -> Any:
        return self._write(caller, decision, "create", lambda tx: self._create_one(tx, args))

    def _update(self, caller: Caller, args: Any, decision: Decision) -> Any:
        return self._write(caller, decision, "update", lambda tx: self._update_one(tx, args))

    def _delete(self, caller: Caller, args: Any, decision: Decision) -> Any:
        return self._write(caller, decision, "delete", lambda tx: self._delete_one(tx, args))

    def _revive(self, caller: Caller, args: Any, decision: Decision) -> Any:
        return self._write(caller, decision, "revive", lambda tx: self._revive_one(tx, args))

    def _batch(self, caller: Caller, args: Any, decision: Decision) -> Any:
        if not isinstance(args, list):
            raise ApiError("API batch() expects an Array of requests", ERR_READ)

        def work(tx: Transaction) -> list[Any]:
            results: list[Any] = []
            for index, request in enumerate(args):
                try:
                    kind = request.get("request_type") if isinstance(request, dict) else None
                    if kind == "create":
                        results.append(self._create_one(tx, request))
                    elif kind == "update":
                        results.append(self._update_one(tx, request))
                    elif kind == "delete":
                        results.append(self._delete_one(tx, request))
                    else:
                        raise ApiError(f"Invalid request_type '{kind}' for batch", ERR_READ)
                except ApiError as exc:
                    raise ApiError(
                        f"API batch() request with index {index} failed.  All requests rolled back.\n"
                        f"{exc.message}",
                        exc.error_code,
                    ) from exc
            return results

        return self._write(caller, decision, "batch", work)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays/objects more than ``limit`` levels (without recursing)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
