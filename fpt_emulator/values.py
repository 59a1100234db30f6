"""Field values: validation of what callers send, and the wire formats FPT uses.

Values are stored in their wire form (datetimes as ``YYYY-MM-DDTHH:MM:SSZ``, dates as
``YYYY-MM-DD``, links as ``{"type", "id"}``) so that reads, snapshots and JSON answers need no
conversion, and so that the client parses them exactly as it parses FPT's answers.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from .errors import ERR_CRUD, ApiError
from .schema import FieldDef

WIRE_DATETIME = "%Y-%m-%dT%H:%M:%SZ"
_WIRE_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1

Key = tuple[str, int]


def format_datetime(value: dt.datetime) -> str:
    """A datetime in FPT's wire format; naive values are taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime(WIRE_DATETIME)


def utc_now() -> str:
    """Now, in FPT's wire format (FPT stores whole seconds)."""
    return format_datetime(dt.datetime.now(dt.UTC))


def parse_datetime(value: str) -> dt.datetime:
    """A wire datetime string as an aware UTC datetime."""
    return dt.datetime.strptime(value, WIRE_DATETIME).replace(tzinfo=dt.UTC)


def is_wire_datetime(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 20 and bool(_WIRE_DATETIME_RE.match(value))


def to_wire(value: Any) -> Any:
    """In-process input to wire form: datetimes and dates become strings (recursively)."""
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


def from_wire(value: Any) -> Any:
    """Wire values as the client hands them to callers: 20-char datetimes become datetimes.

    This mirrors ``shotgun_api3``'s inbound transform (with UTC as the local zone), so data read
    in-process looks like data read over HTTP.
    """
    if isinstance(value, str):
        return parse_datetime(value) if is_wire_datetime(value) else value
    if isinstance(value, dict):
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value


def link(entity_type: str, entity_id: int) -> dict[str, Any]:
    return {"type": entity_type, "id": entity_id}


def link_key(value: dict[str, Any]) -> Key:
    return (value["type"], value["id"])


def is_link(value: Any) -> bool:
    """A dict that names an entity the way the API does: ``{"type": str, "id": int}``."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("type"), str)
        and isinstance(value.get("id"), int)
        and not isinstance(value.get("id"), bool)
    )


def _type_name(value: Any) -> str:
    names = {str: "String", int: "Integer", float: "Float", bool: "Boolean", dict: "Hash", list: "Array"}
    return "nil" if value is None else names.get(type(value), type(value).__name__)


class ValueContext:
    """Where a value is being written, so errors read like FPT's CRUD errors."""

    def __init__(
        self,
        entity_type: str,
        method: str,
        exists: Callable[[str, int], bool],
    ) -> None:
        self.entity_type = entity_type
        self.method = method
        self.exists = exists

    def error(self, fdef: FieldDef, detail: str) -> ApiError:
        verb = {"create": "Create", "update": "Update"}.get(self.method, self.method.title())
        where = f"{self.entity_type}.{fdef.name}"
        return ApiError(f"API {self.method}() CRUD ERROR #6: {verb} failed for [{where}]: {detail}", ERR_CRUD)


def _check_link(fdef: FieldDef, value: Any, ctx: ValueContext) -> dict[str, Any]:
    if not is_link(value):
        raise ctx.error(fdef, f"Invalid entity hash {value!r}: expected {{'type': <Type>, 'id': <Integer>}}")
    if fdef.valid_types and value["type"] not in fdef.valid_types:
        raise ctx.error(
            fdef,
            f"Entity type {value['type']} is not valid for this field. "
            f"Valid types: {', '.join(fdef.valid_types)}",
        )
    if not ctx.exists(value["type"], value["id"]):
        raise ctx.error(fdef, f"Entity {value['type']} #{value['id']} does not exist or is retired")
    return link(value["type"], value["id"])


def _check_finite(fdef: FieldDef, value: Any, ctx: ValueContext) -> None:
    """Structured values must be storable as JSON: no NaN or infinite numbers anywhere."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ctx.error(fdef, f"Invalid value {item!r}: not a finite number")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class _Bad:
    """The "wrong type" error for a value, built only if it is raised."""

    def __init__(self, fdef: FieldDef, value: Any, ctx: ValueContext) -> None:
        self.fdef, self.value, self.ctx = fdef, value, ctx

    def error(self) -> ApiError:
        value, dtype = self.value, self.fdef.data_type
        return self.ctx.error(
            self.fdef, f"Invalid value {value!r} ({_type_name(value)}) for a '{dtype}' field"
        )


def normalize(fdef: FieldDef, value: Any, ctx: ValueContext) -> Any:
    """Validate wire ``value`` for ``fdef`` and return its stored form, or raise FPT's error."""
    dtype = fdef.data_type
    if value is None:
        return fdef.empty()
    bad = _Bad(fdef, value, ctx)
    if dtype in ("text", "uuid", "color"):
        if not isinstance(value, str):
            raise bad.error()
        return value
    if dtype in ("number", "duration", "percent"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad.error()
        if not _INT_MIN <= value <= _INT_MAX:
            raise ctx.error(
                fdef, f'PG::NumericValueOutOfRange: ERROR:  value "{value}" is out of range for type integer'
            )
        return value
    if dtype == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad.error()
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ctx.error(fdef, f"Invalid value {value!r} for a 'float' field: out of range")
        return number
    if dtype == "checkbox":
        if not isinstance(value, bool):
            raise bad.error()
        return value
    if dtype == "date":
        if not isinstance(value, str) or not _DATE_RE.match(value):
            raise bad.error()
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise bad.error() from None
        return value
    if dtype == "date_time":
        if not isinstance(value, str):
            raise bad.error()
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise bad.error() from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return format_datetime(parsed)
    if dtype in ("status_list", "list"):
        if not isinstance(value, str):
            raise bad.error()
        if fdef.valid_values and value not in fdef.valid_values:
            raise ctx.error(
                fdef, f"Value '{value}' is not in the list of valid values: {', '.join(fdef.valid_values)}"
            )
        return value
    if dtype == "entity":
        return _check_link(fdef, value, ctx)
    if dtype == "multi_entity":
        if not isinstance(value, list):
            raise bad.error()
        out: list[dict[str, Any]] = []
        seen: set[Key] = set()
        for item in value:
            checked = _check_link(fdef, item, ctx)
            key = link_key(checked)
            if key not in seen:
                seen.add(key)
                out.append(checked)
        return out
    if dtype == "url":
        if not isinstance(value, dict):
            raise bad.error()
        _check_finite(fdef, value, ctx)
        return value
    if dtype == "serializable":
        _check_finite(fdef, value, ctx)
        return value
    raise ctx.error(fdef, f"Fields of type '{dtype}' cannot be set through the API")
