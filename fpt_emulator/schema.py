"""The entity/field schema the emulator enforces, as FPT itself describes it.

A :class:`Schema` is built from the answers of ``schema_read`` and ``schema_entity_read`` (by
default the stock site's, see :mod:`fpt_emulator.stock`; or a studio's own, see
:mod:`fpt_emulator.site_schema`) and answers the ``schema_*`` calls in the same nested
``{"value", "editable"}`` format, so a schema read from the emulator and loaded back is the
same schema. The emulator rejects what FPT rejects: unknown entity types and fields, read-only
fields, values of the wrong type, list values that are not in the list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ERR_READ, ApiError

#: Data types whose values are links to other entities.
LINK_TYPES = frozenset({"entity", "multi_entity"})
#: Data types FPT refuses in a filter (and ignores in a sort).
UNFILTERABLE_TYPES = frozenset({"serializable", "url", "password", "pivot_column", "summary"})
#: Data types FPT computes: no API write sets them, reads return FPT's computed value (here null).
COMPUTED_TYPES = frozenset({"pivot_column", "summary", "calculated"})
#: Field names the server maintains itself; never logged as ``in_create`` rows, never written.
SYSTEM_FIELDS = frozenset({"id", "created_at", "updated_at", "created_by", "updated_by"})
#: Data types whose schema carries ``valid_types`` / ``valid_values``.
TYPED_LINKS = frozenset({"entity", "multi_entity", "tag_list"})
LISTS = frozenset({"list", "status_list"})
#: Link names: the field whose value names an entity, where it is not the first of
#: ``code``, ``name``, ``title``, ``content`` that the entity has.
NAME_FIELDS = {
    "Task": "content",
    "Note": "subject",
    "Reply": "content",
    "Status": "name",
    "Department": "name",
    "EventLogEntry": "description",
    "TimeLog": "description",
    "Attachment": "display_name",
}
_NAME_CANDIDATES = ("code", "name", "title", "content")


@dataclass(frozen=True)
class FieldDef:
    """One field of an entity type.

    ``properties`` holds the field's properties as the site reports them (``summary_default``,
    ``open_in_new_window``, ... with their ``editable`` flags); ``default``, ``valid_types`` and
    ``valid_values`` are the values of the properties of those names and win over it.
    """

    name: str
    data_type: str
    display_name: str = ""
    editable: bool = True
    valid_types: tuple[str, ...] = ()
    valid_values: tuple[str, ...] = ()
    default: Any = None
    #: For link fields kept in sync with a field on the other side: target type -> its field.
    reverse: Mapping[str, str] = field(default_factory=dict)
    mandatory: bool = False
    description: str = ""
    unique: bool = False
    #: Whether the site reports ``visible`` (None: this site's schema answers have no such key).
    visible: bool | None = None
    properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The display name FPT shows ("Status" for ``sg_status_list``)."""
        return self.display_name or self.name.removeprefix("sg_").replace("_", " ").title()

    @property
    def is_multi(self) -> bool:
        return self.data_type == "multi_entity"

    @property
    def is_link(self) -> bool:
        return self.data_type in LINK_TYPES

    @property
    def is_custom(self) -> bool:
        """A site's own field (``sg_*``): the only kind ``schema_field_delete`` may remove."""
        return self.name.startswith("sg_")

    def empty(self) -> Any:
        """The value an unset field reads as."""
        if self.data_type in ("multi_entity", "tag_list"):
            return []
        if self.data_type == "checkbox":
            return False
        return None

    def replace(self, **changes: Any) -> FieldDef:
        return dataclasses.replace(self, **changes)

    def to_wire(self, entity_type: str, visible: bool | None = None) -> dict[str, Any]:
        """This field as ``schema_field_read`` returns it (``visible``: a project's setting)."""
        props: dict[str, Any] = {name: dict(prop) for name, prop in self.properties.items()}

        def put(name: str, value: Any, editable: bool) -> None:
            known = props.get(name)
            props[name] = {"editable": known.get("editable", editable) if known else editable, "value": value}

        put("default_value", self.default, self.data_type == "status_list")
        props.setdefault("summary_default", {"editable": True, "value": "none"})
        if self.data_type in TYPED_LINKS:
            put("valid_types", list(self.valid_types), True)
        if self.data_type in LISTS:
            put("valid_values", list(self.valid_values), True)
        wire = {
            "data_type": {"editable": False, "value": self.data_type},
            "description": {"editable": True, "value": self.description},
            "editable": {"editable": False, "value": self.editable},
            "entity_type": {"editable": False, "value": entity_type},
            "mandatory": {"editable": False, "value": self.mandatory},
            "name": {"editable": True, "value": self.label},
            "properties": props,
            "unique": {"editable": False, "value": self.unique},
        }
        shown = self.visible if visible is None else visible
        if shown is not None:
            wire["visible"] = {"editable": False, "value": shown}
        return wire

    @classmethod
    def from_wire(cls, name: str, wire: Mapping[str, Any]) -> FieldDef:
        """A field from its ``schema_field_read`` answer (raises ValueError if it is not one).

        JSON and pickles give plain dicts: checked as ``dict`` (an ABC check costs 10x, times 1,000
        fields at every process start)."""
        if not isinstance(wire, dict):
            raise ValueError(f"field {name!r}: expected a dict, got {type(wire).__name__}")
        props = wire.get("properties") or {}
        if not isinstance(props, dict) or not all(isinstance(p, dict) for p in props.values()):
            raise ValueError(f"field {name!r}: 'properties' must map names to {{value, editable}} dicts")

        def value(key: str) -> Any:
            entry = wire.get(key)
            return entry.get("value") if isinstance(entry, dict) else None

        def prop(key: str) -> Any:
            entry = props.get(key)
            return entry.get("value") if entry is not None else None

        data_type = value("data_type")
        if not isinstance(data_type, str) or not data_type:
            raise ValueError(f"field {name!r}: no data_type")
        return cls(
            name=name,
            data_type=data_type,
            display_name=value("name") or "",
            editable=bool(value("editable")),
            valid_types=tuple(v for v in prop("valid_types") or () if isinstance(v, str)),
            valid_values=tuple(v for v in prop("valid_values") or () if isinstance(v, str)),
            default=prop("default_value"),
            mandatory=bool(value("mandatory")),
            description=value("description") or "",
            unique=bool(value("unique")),
            visible=bool(value("visible")) if "visible" in wire else None,
            properties={k: dict(v) for k, v in props.items()},
        )


@dataclass(frozen=True)
class Connection:
    """The connection entity FPT keeps one row of per link of a multi-entity field.

    ``Shot.assets`` is kept in ``AssetShotConnection`` rows: ``own`` is the column naming the
    Shot (``shot``), ``other`` the one naming the Asset (``asset``).
    """

    entity_type: str
    own: str
    other: str


@dataclass
class EntityDef:
    """One entity type: its fields and which field names a link to it."""

    name: str
    display_name: str
    #: The field whose value is the ``name`` of a link to this entity (None: no name).
    name_field: str | None
    fields: dict[str, FieldDef]
    visible: bool | None = None

    @property
    def has_project(self) -> bool:
        return "project" in self.fields

    @property
    def has_status(self) -> bool:
        return "sg_status_list" in self.fields

    def to_wire(self, visible: bool | None = None) -> dict[str, Any]:
        """This entity type as ``schema_entity_read`` returns it."""
        wire: dict[str, Any] = {"name": {"editable": False, "value": self.display_name}}
        shown = self.visible if visible is None else visible
        if shown is not None:
            wire["visible"] = {"editable": False, "value": shown}
        return wire


def name_field_of(entity_type: str, fields: Mapping[str, FieldDef]) -> str | None:
    """Which field a link to ``entity_type`` takes its ``name`` from."""
    if entity_type in NAME_FIELDS and NAME_FIELDS[entity_type] in fields:
        return NAME_FIELDS[entity_type]
    return next((f for f in _NAME_CANDIDATES if f in fields and fields[f].data_type == "text"), None)


class Schema:
    """All entity types the emulated site knows; lookups raise FPT's errors.

    ``links`` maps ``(entity type, multi-entity field)`` to the connection entity that keeps it,
    ``connection_types`` each connection entity to the field that owns it. ``retired`` holds
    fields removed with ``schema_field_delete`` (``schema_field_revive`` brings them back), and
    ``project_visible`` the per-project ``visible`` settings.
    """

    def __init__(self, entities: Iterable[EntityDef]) -> None:
        self.entities: dict[str, EntityDef] = {e.name: e for e in entities}
        self.links: dict[tuple[str, str], Connection] = {}
        self.connection_types: dict[str, tuple[str, str]] = {}
        self.retired: dict[str, dict[str, FieldDef]] = {}
        self.project_visible: dict[tuple[str, str, int], bool] = {}

    def copy(self) -> Schema:
        """An independent copy (field definitions are immutable and shared)."""
        other = Schema(
            EntityDef(e.name, e.display_name, e.name_field, dict(e.fields), e.visible)
            for e in self.entities.values()
        )
        other.links = dict(self.links)
        other.connection_types = dict(self.connection_types)
        other.retired = {name: dict(fields) for name, fields in self.retired.items()}
        other.project_visible = dict(self.project_visible)
        return other

    # -- lookups ---------------------------------------------------------------------------------

    def entity(self, entity_type: Any, method: str = "read") -> EntityDef:
        """The definition of ``entity_type``, or FPT's error for an unknown type."""
        if not isinstance(entity_type, str) or entity_type not in self.entities:
            raise ApiError(f"API {method}() Entity type '{entity_type}' does not exist.", ERR_READ)
        return self.entities[entity_type]

    def field(self, entity_type: Any, name: Any, method: str = "read", code: int = ERR_READ) -> FieldDef:
        """The definition of ``entity_type.name``, or FPT's "doesn't exist" error."""
        edef = self.entity(entity_type, method)
        if not isinstance(name, str) or name not in edef.fields:
            raise ApiError(f"API {method}() {entity_type}.{name} doesn't exist.", code)
        return edef.fields[name]

    def is_connection(self, entity_type: str) -> bool:
        return entity_type in self.connection_types

    def add_field(self, entity_type: str, fdef: FieldDef) -> None:
        """Add (or replace) a site-specific field, e.g. a studio's ``sg_*`` custom field."""
        edef = self.entity(entity_type, "schema_field_create")
        # A new dict, not an insert: a write running meanwhile may be iterating over the fields.
        edef.fields = {**edef.fields, fdef.name: fdef}

    def remove_field(self, entity_type: str, name: str) -> FieldDef:
        """Take a field out (``schema_field_delete``); returns its definition."""
        edef = self.entity(entity_type, "schema_field_delete")
        fields = dict(edef.fields)
        removed = fields.pop(name)
        edef.fields = fields
        return removed

    # -- the wire --------------------------------------------------------------------------------

    def fields_to_wire(self, entity_type: str, project_id: int | None = None) -> dict[str, Any]:
        edef = self.entities[entity_type]
        return {
            name: fdef.to_wire(entity_type, self.visible_in(entity_type, name, project_id))
            for name, fdef in edef.fields.items()
        }

    def visible_in(self, entity_type: str, field_name: str, project_id: int | None) -> bool | None:
        """A field's ``visible`` for a project (None without a project: the site's own answer)."""
        if project_id is None:
            return None
        return self.project_visible.get((entity_type, field_name, project_id), True)

    def to_wire(self, project_id: int | None = None) -> dict[str, dict[str, Any]]:
        """The ``schema_read`` answer."""
        return {name: self.fields_to_wire(name, project_id) for name in self.entities}

    def entities_to_wire(self, project_id: int | None = None) -> dict[str, dict[str, Any]]:
        """The ``schema_entity_read`` answer."""
        visible = None if project_id is None else True
        return {name: edef.to_wire(visible) for name, edef in self.entities.items()}

    @classmethod
    def from_wire(cls, fields: Mapping[str, Any], entities: Mapping[str, Any] | None = None) -> Schema:
        """A schema from a site's ``schema_read`` (and ``schema_entity_read``) answers.

        Raises ValueError naming the entity or field that is not in that format. Fields kept in
        sync across a connection are linked up from :mod:`fpt_emulator.connections`.
        """
        from .connections import link_inverses

        if not isinstance(fields, Mapping) or not fields:
            raise ValueError("a schema_read answer must map entity types to their fields")
        entities = entities or {}
        if not isinstance(entities, Mapping):
            raise ValueError("a schema_entity_read answer must map entity types to {name, visible}")
        defs = []
        for entity_type, wire_fields in fields.items():
            if not isinstance(entity_type, str) or not isinstance(wire_fields, Mapping):
                raise ValueError(f"entity {entity_type!r}: expected a dict of fields")
            try:
                parsed = {name: FieldDef.from_wire(name, wire) for name, wire in wire_fields.items()}
            except ValueError as exc:
                raise ValueError(f"{entity_type}: {exc}") from None
            info = entities.get(entity_type) or {}
            if not isinstance(info, Mapping):
                raise ValueError(f"entity {entity_type!r}: expected {{name, visible}} in the entity schema")
            name = info.get("name")
            display = name.get("value") if isinstance(name, Mapping) else None
            visible = info.get("visible")
            defs.append(
                EntityDef(
                    entity_type,
                    display if isinstance(display, str) else entity_type,
                    name_field_of(entity_type, parsed),
                    parsed,
                    bool(visible.get("value")) if isinstance(visible, Mapping) else None,
                )
            )
        schema = cls(defs)
        link_inverses(schema)
        return schema

    # -- snapshots -------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything needed to rebuild this schema (for snapshots)."""
        return {
            "fields": self.to_wire(),
            "entities": self.entities_to_wire(),
            "retired": {
                entity: {name: fdef.to_wire(entity) for name, fdef in fields.items()}
                for entity, fields in self.retired.items()
                if fields
            },
            "project_visible": [[e, f, p, v] for (e, f, p), v in self.project_visible.items()],
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Schema:
        """A schema from :meth:`dump`."""
        schema = cls.from_wire(data["fields"], data.get("entities"))
        for entity, fields in (data.get("retired") or {}).items():
            schema.retired[entity] = {name: FieldDef.from_wire(name, wire) for name, wire in fields.items()}
        for entity, field_name, project_id, visible in data.get("project_visible") or ():
            schema.project_visible[(entity, field_name, int(project_id))] = bool(visible)
        return schema


def default_schema() -> Schema:
    """The stock site's schema (every entity type and field of a real site, plus newer fields).

    Loaded from the package data once per process; each call returns an independent copy.
    """
    from .stock import stock_schema

    return stock_schema().copy()
