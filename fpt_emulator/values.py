"""Field values: validation of what callers send, and the wire formats FPT uses.

Values are stored in their wire form (datetimes as ``YYYY-MM-DDTHH:MM:SSZ``, dates as
``YYYY-MM-DD``, links as ``{"type", "id"}``) so that reads, snapshots and JSON answers need no
conversion, and so that the client parses them exactly as it parses FPT's answers.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Container
from typing import Any

from .errors import ERR_CRUD, ApiError
from .schema import FieldDef

WIRE_DATETIME = "%Y-%m-%dT%H:%M:%SZ"
_WIRE_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COLOR_RE = re.compile(r"^(\d{1,3}),(\d{1,3}),(\d{1,3})$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_FOOTAGE_RE = re.compile(r"^\d+-\d+$")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
#: FPT's range for currency values.
CURRENCY_MAX = 9999999999999.99
#: What a read returns for a password field that is set (FPT never returns the password).
PASSWORD_MASK = "*******"

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
        entity_types: Container[str] | None = None,
    ) -> None:
        self.entity_type = entity_type
        self.method = method
        self.exists = exists
        #: The site's entity types, for ``entity_type`` fields (None: not checked).
        self.entity_types = entity_types

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
    if value is None:
        return fdef.empty()
    check = _CHECKS.get(fdef.data_type)
    if check is None:
        raise ctx.error(fdef, f"Fields of type '{fdef.data_type}' cannot be set through the API")
    return check(fdef, value, ctx)


def _string(fdef: FieldDef, value: Any, ctx: ValueContext) -> str:
    if not isinstance(value, str):
        raise _Bad(fdef, value, ctx).error()
    return value


def _matching(pattern: re.Pattern[str], shape: str) -> Callable[[FieldDef, Any, ValueContext], str]:
    def check(fdef: FieldDef, value: Any, ctx: ValueContext) -> str:
        text = _string(fdef, value, ctx)
        if not pattern.match(text):
            raise ctx.error(fdef, f"Invalid value {value!r} for a '{fdef.data_type}' field: expected {shape}")
        return text

    return check


def _color(fdef: FieldDef, value: Any, ctx: ValueContext) -> str:
    text = _string(fdef, value, ctx)
    match = _COLOR_RE.match(text)
    if text != "pipeline_step" and not (match and all(int(c) <= 255 for c in match.groups())):
        raise ctx.error(
            fdef, f"Invalid value {value!r} for a 'color' field: expected 'R,G,B' (0-255) or 'pipeline_step'"
        )
    return text


def _integer(fdef: FieldDef, value: Any, ctx: ValueContext) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(fdef, value, ctx).error()
    if not _INT_MIN <= value <= _INT_MAX:
        raise ctx.error(
            fdef, f'PG::NumericValueOutOfRange: ERROR:  value "{value}" is out of range for type integer'
        )
    return value


def _real(limit: float) -> Callable[[FieldDef, Any, ValueContext], float]:
    def check(fdef: FieldDef, value: Any, ctx: ValueContext) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad(fdef, value, ctx).error()
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number) or abs(number) > limit:
            raise ctx.error(fdef, f"Invalid value {value!r} for a '{fdef.data_type}' field: out of range")
        return number

    return check


def _checkbox(fdef: FieldDef, value: Any, ctx: ValueContext) -> bool:
    if not isinstance(value, bool):
        raise _Bad(fdef, value, ctx).error()
    return value


def _date(fdef: FieldDef, value: Any, ctx: ValueContext) -> str:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise _Bad(fdef, value, ctx).error()
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise _Bad(fdef, value, ctx).error() from None
    return value


def _date_time(fdef: FieldDef, value: Any, ctx: ValueContext) -> str:
    if not isinstance(value, str):
        raise _Bad(fdef, value, ctx).error()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(fdef, value, ctx).error() from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return format_datetime(parsed)


def _listed(fdef: FieldDef, value: Any, ctx: ValueContext) -> str:
    text = _string(fdef, value, ctx)
    if text not in fdef.valid_values:
        raise ctx.error(
            fdef, f"Value '{value}' is not in the list of valid values: {', '.join(fdef.valid_values)}"
        )
    return text


def _entity_type(fdef: FieldDef, value: Any, ctx: ValueContext) -> str:
    text = _string(fdef, value, ctx)
    if ctx.entity_types is not None and text not in ctx.entity_types:
        raise ctx.error(fdef, f"Invalid value {value!r} for an 'entity_type' field: no such entity type")
    return text


def _multi_entity(fdef: FieldDef, value: Any, ctx: ValueContext) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _Bad(fdef, value, ctx).error()
    out: list[dict[str, Any]] = []
    seen: set[Key] = set()
    for item in value:
        checked = _check_link(fdef, item, ctx)
        key = link_key(checked)
        if key not in seen:
            seen.add(key)
            out.append(checked)
    return out


def _tag_list(fdef: FieldDef, value: Any, ctx: ValueContext) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise ctx.error(fdef, f"Invalid value {value!r} for a 'tag_list' field: expected a list of tag names")
    return list(dict.fromkeys(t.strip() for t in value))


_URL_KEYS = frozenset(
    {
        "url",
        "name",
        "content_type",
        "link_type",
        "local_path",
        "local_path_linux",
        "local_path_mac",
        "local_path_windows",
        "local_storage",
        "relative_path",
        "type",
        "id",
    }
)
_WINDOWS_PATH_RE = re.compile(r"^([A-Za-z]:[\\/]|\\\\)")


def _url(fdef: FieldDef, value: Any, ctx: ValueContext) -> dict[str, Any]:
    """A file/link field: a web link ``{"url", "name"?}`` or a local file ``{"local_path", "name"?}``."""
    shape = "{'url': ..., 'name': ...} (a web link) or {'local_path': ..., 'name': ...} (a local file)"
    if not isinstance(value, dict):
        raise ctx.error(fdef, f"Invalid value {value!r} for a 'url' field: expected {shape}")
    unknown = sorted(set(value) - _URL_KEYS)
    link_type = value.get("link_type")
    name, content_type = value.get("name"), value.get("content_type")
    if unknown or not isinstance(name, str | None) or not isinstance(content_type, str | None):
        raise ctx.error(fdef, f"Invalid value {value!r} for a 'url' field: expected {shape}")
    if link_type == "upload":
        raise ctx.error(fdef, "Uploads are made with Shotgun.upload(), which the emulator does not take")
    url, path = value.get("url"), value.get("local_path")
    if link_type in (None, "web", "url") and isinstance(url, str) and url and path is None:
        return {"content_type": content_type, "link_type": "web", "name": name or url, "url": url}
    if link_type in (None, "local") and isinstance(path, str) and path:
        windows = bool(_WINDOWS_PATH_RE.match(path))
        posix = path.replace("\\", "/") if windows else path
        return {
            "content_type": content_type,
            "link_type": "local",
            "local_path": path,
            "local_path_linux": None if windows else path,
            "local_path_mac": None if windows else path,
            "local_path_windows": path if windows else None,
            "local_storage": None,
            "name": name or posix.rstrip("/").rsplit("/", 1)[-1],
            "relative_path": None,
            "url": "file://" + (posix if posix.startswith("/") else "/" + posix),
        }
    raise ctx.error(fdef, f"Invalid value {value!r} for a 'url' field: expected {shape}")


def _serializable(fdef: FieldDef, value: Any, ctx: ValueContext) -> Any:
    _check_finite(fdef, value, ctx)
    return value


_CHECKS: dict[str, Callable[[FieldDef, Any, ValueContext], Any]] = {
    "text": _string,
    "password": _string,
    "image": _string,
    "uuid": _matching(_UUID_RE, "a UUID like '8c6d0b1e-57a7-4b39-9c3a-2d1c9e1b7f00'"),
    "footage": _matching(_FOOTAGE_RE, "feet-frames like '12-08'"),
    "color": _color,
    "number": _integer,
    "duration": _integer,
    "percent": _integer,
    "timecode": _integer,
    "float": _real(math.inf),
    "currency": _real(CURRENCY_MAX),
    "checkbox": _checkbox,
    "date": _date,
    "date_time": _date_time,
    "list": _listed,
    "status_list": _listed,
    "entity_type": _entity_type,
    "entity": _check_link,
    "multi_entity": _multi_entity,
    "tag_list": _tag_list,
    "url": _url,
    "serializable": _serializable,
}
