"""Compile api3 read filters and sorts into Python predicates and sort keys.

The wire form is ``{"logical_operator": "and"|"or", "conditions": [...]}`` where a condition is
``{"path", "relation", "values"}`` or a nested group. Paths may go one or more levels deep
(``entity.Shot.code``). Validation happens once, at compile time, and raises the error FPT gives
(``API read() Shot.foo doesn't exist.``), so a bad filter never reaches the row loop.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .errors import ERR_READ, ApiError
from .schema import UNFILTERABLE_TYPES, FieldDef, Schema
from .values import format_datetime, is_link, link_key, to_wire

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
Getter = Callable[[Record], list[Any]]

_TEXT = frozenset({"text", "uuid", "color", "footage"})
_NUMBERS = frozenset({"number", "float", "duration", "percent", "timecode", "currency"})
_ORDERED = _NUMBERS | {"date", "date_time"}

_RELATIONS: dict[str, frozenset[str]] = {
    "text": frozenset(
        {"is", "is_not", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with"}
    ),
    "ordered": frozenset(
        {"is", "is_not", "in", "not_in", "greater_than", "less_than", "between", "not_between"}
    ),
    "dates": frozenset({"in_last", "not_in_last", "in_next", "not_in_next"}),
    "checkbox": frozenset({"is", "is_not"}),
    "list": frozenset({"is", "is_not", "in", "not_in"}),
    "tag_list": frozenset({"is", "is_not", "name_contains", "name_not_contains"}),
    "link": frozenset(
        {
            "is",
            "is_not",
            "in",
            "not_in",
            "type_is",
            "type_is_not",
            "name_is",
            "name_contains",
            "name_not_contains",
            "name_starts_with",
            "name_ends_with",
        }
    ),
}

#: Negative relations are evaluated as "not (the positive relation)".
_NEGATIONS = {
    "is_not": "is",
    "not_in": "in",
    "not_contains": "contains",
    "not_between": "between",
    "type_is_not": "type_is",
    "name_not_contains": "name_contains",
    "not_in_last": "in_last",
    "not_in_next": "in_next",
}

_UNIT_SECONDS = {"HOUR": 3600, "DAY": 86400, "WEEK": 7 * 86400, "MONTH": 30 * 86400, "YEAR": 365 * 86400}


def utc_clock() -> dt.datetime:
    """Now, for relative-date filters (``in_last`` ...); tests may replace it."""
    return dt.datetime.now(dt.UTC)


class Resolver(Protocol):
    """Read access to active records, for deep paths and link names."""

    def active_record(self, entity_type: str, entity_id: int) -> Record | None: ...

    def link_name(self, entity_type: str, entity_id: int) -> str | None: ...


def valid_relations(fdef: FieldDef) -> frozenset[str]:
    dtype = "number" if fdef.name == "id" else fdef.data_type
    if dtype in _TEXT:
        return _RELATIONS["text"]
    if dtype in ("date", "date_time"):
        return _RELATIONS["ordered"] | _RELATIONS["dates"]
    if dtype in _ORDERED:
        return _RELATIONS["ordered"]
    if dtype == "checkbox":
        return _RELATIONS["checkbox"]
    if dtype in ("list", "status_list", "entity_type"):
        return _RELATIONS["list"]
    if dtype in ("entity", "multi_entity"):
        return _RELATIONS["link"]
    if dtype == "tag_list":
        return _RELATIONS["tag_list"]
    if dtype == "image":  # only whether there is a thumbnail
        return _RELATIONS["checkbox"]
    return frozenset()


def translate_filters(filters: Any, filter_operator: str | None = None) -> Any:
    """Client-style filters (``[["code", "is", "x"], ...]``) to the wire form, like sg.find does."""
    if isinstance(filters, dict):
        if "conditions" in filters:
            return filters
        op = filters.get("filter_operator", "all")
        return _translate_group(filters.get("filters", []), op)
    return _translate_group(filters or [], filter_operator or "all")


def _translate_group(items: Sequence[Any], operator: str) -> dict[str, Any]:
    logical = {"all": "and", "and": "and", "any": "or", "or": "or"}.get(operator)
    if logical is None:
        raise ApiError(f"Invalid filter_operator {operator}", ERR_READ)
    conditions: list[Any] = []
    for item in items:
        if isinstance(item, dict):
            conditions.append(translate_filters(item))
        elif isinstance(item, list | tuple) and len(item) >= 2:
            values = list(item[2:])
            if len(values) == 1 and isinstance(values[0], list | tuple):
                values = list(values[0])
            conditions.append({"path": item[0], "relation": item[1], "values": to_wire(values)})
        else:
            raise ApiError(f"Invalid filters, expected a list, tuple or dict, got {item!r}", ERR_READ)
    return {"logical_operator": logical, "conditions": conditions}


class Compiler:
    """Builds predicates and sort keys for one entity type against a schema."""

    def __init__(self, schema: Schema, resolver: Resolver, method: str = "read") -> None:
        self.schema = schema
        self.resolver = resolver
        self.method = method
        #: Set when a compiled filter depends on the time it is evaluated at (``in_last`` ...):
        #: such a predicate must not be reused by a later read.
        self.time_dependent = False

    def _error(self, message: str) -> ApiError:
        return ApiError(f"API {self.method}() {message}", ERR_READ)

    # -- paths ---------------------------------------------------------------------------------

    def path(self, entity_type: str, path: Any) -> tuple[FieldDef, Getter, bool]:
        """Resolve a (possibly deep) field path to its final field and a getter.

        The getter returns every value the path reaches from a record (several when a hop is
        multi-entity). The flag says whether the path stays single-valued.
        """
        if not isinstance(path, str) or not path:
            raise self._error(f"invalid filter path {path!r}")
        parts = path.split(".")
        if len(parts) % 2 == 0:
            raise self._error(f"{entity_type}.{path} doesn't exist.")
        fdef = self.schema.field(entity_type, parts[0], self.method)
        if len(parts) == 1:
            name, empty = fdef.name, fdef.empty()  # records older than the field lack it
            return fdef, (lambda rec: [rec.get(name, empty)]), True
        hops: list[tuple[str, str, bool]] = []
        current_type, single = entity_type, True
        for i in range(0, len(parts) - 1, 2):
            hop = self.schema.field(current_type, parts[i], self.method)
            target = parts[i + 1]
            if not hop.is_link or (hop.valid_types and target not in hop.valid_types):
                raise self._error(f"{entity_type}.{path} doesn't exist.")
            self.schema.entity(target, self.method)
            hops.append((hop.name, target, hop.is_multi))
            single = single and not hop.is_multi
            current_type = target
        final = self.schema.field(current_type, parts[-1], self.method)
        resolver = self.resolver
        last, empty = final.name, final.empty()

        def getter(rec: Record) -> list[Any]:
            records = [rec]
            for name, target, multi in hops:
                nxt: list[Record] = []
                for r in records:
                    value = r.get(name)
                    links = value if multi else ([value] if value else [])
                    for lk in links or ():
                        if lk["type"] == target:
                            found = resolver.active_record(target, lk["id"])
                            if found is not None:
                                nxt.append(found)
                records = nxt
            if not records:
                return [empty]
            return [r.get(last, empty) for r in records]

        return final, getter, single

    # -- filters -------------------------------------------------------------------------------

    def compile(self, entity_type: str, filters: Any) -> Predicate:
        """A predicate for the wire filter ``filters`` (``None``/empty matches everything)."""
        if filters is None or filters == [] or filters == {}:
            return lambda rec: True
        if isinstance(filters, list):
            filters = {"logical_operator": "and", "conditions": filters}
        return self._group(entity_type, filters)

    def _group(self, entity_type: str, group: Any) -> Predicate:
        if not isinstance(group, dict):
            raise self._error(f"invalid filter {group!r}: expected a Hash")
        op = group.get("logical_operator", "and")
        conditions = group.get("conditions")
        if op not in ("and", "or") or not isinstance(conditions, list):
            raise self._error(
                "invalid filters: a group needs 'logical_operator' ('and' or 'or') and a "
                f"'conditions' Array, got {group!r}"
            )
        preds = [self._condition(entity_type, c) for c in conditions]
        if not preds:
            return lambda rec: True
        if len(preds) == 1:
            return preds[0]
        if op == "and":
            return lambda rec: all(p(rec) for p in preds)
        return lambda rec: any(p(rec) for p in preds)

    def _condition(self, entity_type: str, cond: Any) -> Predicate:
        if isinstance(cond, dict) and "logical_operator" in cond:
            return self._group(entity_type, cond)
        if (
            not isinstance(cond, dict)
            or not isinstance(cond.get("relation"), str)
            or not isinstance(cond.get("values"), list)
            or "path" not in cond
        ):
            raise self._error(
                f"invalid filter condition {cond!r}: expected a Hash with 'path', 'relation' and "
                "'values' (an Array)"
            )
        path, relation, values = cond["path"], cond["relation"], cond["values"]
        fdef, getter, _single = self.path(entity_type, path)
        label = f"{entity_type}.{path}"
        if fdef.data_type in UNFILTERABLE_TYPES:
            raise self._error(f"{label}'s '{fdef.data_type}' data type cannot be used in a filter.")
        allowed = valid_relations(fdef)
        if relation not in allowed:
            raise self._error(
                f"{label}'s '{fdef.data_type}' data type does not support the '{relation}' relation. "
                f"Valid relations: {', '.join(sorted(allowed))}"
            )
        positive = _NEGATIONS[relation] if relation in _NEGATIONS else str(relation)
        test = self._test(fdef, positive, values, label, relation)

        if positive != relation:
            return lambda rec: not any(test(v) for v in getter(rec))
        return lambda rec: any(test(v) for v in getter(rec))

    # -- relation tests ------------------------------------------------------------------------

    def _bad_value(self, label: str, relation: str, values: list[Any]) -> ApiError:
        return self._error(f"{label}: invalid values {values!r} for the '{relation}' relation.")

    def _arity(self, label: str, relation: str, values: list[Any], n: int) -> None:
        if len(values) != n:
            raise self._bad_value(label, relation, values)

    def _test(
        self, fdef: FieldDef, relation: str, values: list[Any], label: str, shown: str
    ) -> Callable[[Any], bool]:
        dtype = "number" if fdef.name == "id" else fdef.data_type
        if dtype in ("entity", "multi_entity"):
            return self._link_test(dtype == "multi_entity", relation, values, label, shown)
        if dtype == "tag_list":
            return self._tag_test(relation, values, label, shown)
        if dtype == "image":
            self._arity(label, shown, values, 1)
            if values[0] is not None:
                raise self._bad_value(label, shown, values)
            return lambda v: v is None
        if relation in ("is", "in"):
            if relation == "is":
                self._arity(label, shown, values, 1)
            wanted = [self._scalar(dtype, v, label, shown, values, allow_none=True) for v in values]
            if dtype in _TEXT:
                lowered = {w.lower() if isinstance(w, str) else w for w in wanted}
                return lambda v: (v.lower() if isinstance(v, str) else v) in lowered
            return lambda v: v in wanted
        if relation in ("contains", "starts_with", "ends_with"):
            self._arity(label, shown, values, 1)
            needle = values[0]
            if not isinstance(needle, str):
                raise self._bad_value(label, shown, values)
            needle = needle.lower()
            if relation == "contains":
                return lambda v: isinstance(v, str) and needle in v.lower()
            if relation == "starts_with":
                return lambda v: isinstance(v, str) and v.lower().startswith(needle)
            return lambda v: isinstance(v, str) and v.lower().endswith(needle)
        if relation in ("greater_than", "less_than"):
            self._arity(label, shown, values, 1)
            bound = self._scalar(dtype, values[0], label, shown, values, allow_none=False)
            if relation == "greater_than":
                return lambda v: v is not None and v > bound
            return lambda v: v is not None and v < bound
        if relation == "between":
            self._arity(label, shown, values, 2)
            low = self._scalar(dtype, values[0], label, shown, values, allow_none=False)
            high = self._scalar(dtype, values[1], label, shown, values, allow_none=False)
            return lambda v: v is not None and low <= v <= high
        if relation in ("in_last", "in_next"):
            return self._relative_date(dtype, relation, values, label, shown)
        raise self._bad_value(label, shown, values)  # pragma: no cover - guarded by valid_relations

    def _relative_date(
        self, dtype: str, relation: str, values: list[Any], label: str, shown: str
    ) -> Callable[[Any], bool]:
        if len(values) == 1 and isinstance(values[0], int):
            values = [values[0], "DAY"]
        if (
            len(values) != 2
            or isinstance(values[0], bool)
            or not isinstance(values[0], int)
            or values[1] not in _UNIT_SECONDS
        ):
            raise self._bad_value(label, shown, values)
        self.time_dependent = True
        now = utc_clock()
        try:
            span = dt.timedelta(seconds=values[0] * _UNIT_SECONDS[values[1]])
            start, end = (now - span, now) if relation == "in_last" else (now, now + span)
        except OverflowError:
            raise self._bad_value(label, shown, values) from None
        if dtype == "date":
            low, high = start.date().isoformat(), end.date().isoformat()
        else:
            low, high = format_datetime(start), format_datetime(end)
        return lambda v: v is not None and low <= v <= high

    def _scalar(
        self, dtype: str, value: Any, label: str, relation: str, values: list[Any], allow_none: bool
    ) -> Any:
        if value is None:
            if allow_none:
                return None
            raise self._bad_value(label, relation, values)
        if dtype in _TEXT:
            ok = isinstance(value, str)
        elif dtype in _NUMBERS:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            ok = ok and not (isinstance(value, float) and not math.isfinite(value))
        elif dtype == "checkbox":
            ok = isinstance(value, bool)
        elif dtype in ("list", "status_list", "entity_type"):
            ok = isinstance(value, str)
        elif dtype == "date":
            ok = isinstance(value, str)
            if ok:
                try:
                    value = dt.date.fromisoformat(value).isoformat()
                except ValueError:
                    ok = False
        elif dtype == "date_time":
            ok = isinstance(value, str)
            if ok:
                try:
                    parsed = dt.datetime.fromisoformat(value)
                except ValueError:
                    ok = False
                else:
                    value = format_datetime(parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC))
        else:
            ok = False
        if not ok:
            raise self._bad_value(label, relation, values)
        return value

    def _tag_test(self, relation: str, values: list[Any], label: str, shown: str) -> Callable[[Any], bool]:
        """Tag lists hold tag names: ``is`` means "has this tag", ``name_contains`` a tag containing it."""
        self._arity(label, shown, values, 1)
        wanted = values[0]
        if wanted is None and relation == "is":
            return lambda v: not v
        if not isinstance(wanted, str):
            raise self._bad_value(label, shown, values)
        needle = wanted.lower()
        if relation == "is":
            return lambda v: any(t.lower() == needle for t in v or ())
        return lambda v: any(needle in t.lower() for t in v or ())

    def _link_test(
        self, multi: bool, relation: str, values: list[Any], label: str, shown: str
    ) -> Callable[[Any], bool]:
        def links_of(v: Any) -> list[dict[str, Any]]:
            if multi:
                return list(v or [])
            return [v] if v else []

        if relation in ("is", "in"):
            if relation == "is":
                self._arity(label, shown, values, 1)
            want_none = any(v is None for v in values)
            keys: set[tuple[str, int]] = set()
            for v in values:
                if v is None:
                    continue
                if not is_link(v):
                    raise self._bad_value(label, shown, values)
                keys.add(link_key(v))

            def test_link(v: Any) -> bool:
                links = links_of(v)
                if not links:
                    return want_none
                return any(link_key(lk) in keys for lk in links)

            return test_link
        if relation == "type_is":
            self._arity(label, shown, values, 1)
            wanted_type = values[0]
            if wanted_type is not None and not isinstance(wanted_type, str):
                raise self._bad_value(label, shown, values)
            if wanted_type is None:
                return lambda v: not links_of(v)
            return lambda v: any(lk["type"] == wanted_type for lk in links_of(v))
        # name_* relations compare against the linked entity's display name.
        self._arity(label, shown, values, 1)
        needle = values[0]
        if not isinstance(needle, str):
            raise self._bad_value(label, shown, values)
        needle = needle.lower()
        resolver = self.resolver
        checks: dict[str, Callable[[str], bool]] = {
            "name_is": lambda n: n == needle,
            "name_contains": lambda n: needle in n,
            "name_starts_with": lambda n: n.startswith(needle),
            "name_ends_with": lambda n: n.endswith(needle),
        }
        check = checks[relation]

        def test_name(v: Any) -> bool:
            for lk in links_of(v):
                name = resolver.link_name(lk["type"], lk["id"])
                if name is not None and check(name.lower()):
                    return True
            return False

        return test_name

    # -- sorts ---------------------------------------------------------------------------------

    def sort_keys(self, entity_type: str, sorts: Any) -> list[tuple[str, Callable[[Record], Any], bool]]:
        """(field, key, descending) triples; unknown fields are ignored, as FPT ignores them."""
        if sorts is None:
            return []
        if not isinstance(sorts, list):
            raise self._error(f"invalid sorts {sorts!r}: expected an Array")
        keys: list[tuple[str, Callable[[Record], Any], bool]] = []
        for item in sorts:
            if not isinstance(item, dict) or not isinstance(item.get("field_name"), str):
                raise self._error(f"invalid sort {item!r}: expected a Hash with 'field_name'")
            direction = item.get("direction", "asc")
            if direction not in ("asc", "desc"):
                raise self._error(f"invalid sort direction {direction!r}: expected 'asc' or 'desc'")
            try:
                fdef, getter, _ = self.path(entity_type, item["field_name"])
            except ApiError:
                continue
            if fdef.data_type in UNFILTERABLE_TYPES or fdef.data_type == "image":
                continue
            keys.append((item["field_name"], self._sort_key(fdef, getter), direction == "desc"))
        return keys

    def _sort_key(self, fdef: FieldDef, getter: Getter) -> Callable[[Record], Any]:
        resolver = self.resolver
        dtype = fdef.data_type

        def key(rec: Record) -> tuple[bool, Any]:
            value = getter(rec)[0]
            if dtype in ("multi_entity", "tag_list"):
                value = value[0] if value else None
            if value is None:
                return (True, "")
            if dtype in ("entity", "multi_entity"):
                name = resolver.link_name(value["type"], value["id"]) or ""
                return (False, name.lower())
            if isinstance(value, str):
                return (False, value.lower())
            if isinstance(value, bool):
                return (False, int(value))
            return (False, value)

        return key
