"""``schema_field_create`` / ``_update`` / ``_delete`` / ``_revive``: editing a site's schema as FPT does.

Plugins and test setups create their custom fields through the API (``sg.schema_field_create
("Shot", "timecode", "Delivery TC")`` answers ``"sg_delivery_tc"``), add a status to a status
list with ``schema_field_update``, and so on. These functions apply such a call to a
:class:`~fpt_emulator.schema.Schema` or raise the error FPT answers with. The client's
``properties`` arrive as ``[{"property_name", "value"}]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import ERR_READ, ApiError
from .schema import LISTS, TYPED_LINKS, FieldDef, Schema

#: Data types ``schema_field_create`` makes.
CREATABLE_TYPES = frozenset(
    {
        "checkbox",
        "color",
        "currency",
        "date",
        "date_time",
        "duration",
        "entity",
        "float",
        "footage",
        "list",
        "multi_entity",
        "number",
        "percent",
        "status_list",
        "text",
        "timecode",
        "url",
    }
)
#: Properties any field has, beyond those kept in its ``properties``.
_TOP_LEVEL = ("name", "description")


def _error(method: str, message: str) -> ApiError:
    return ApiError(f"API {method}() {message}", ERR_READ)


def _properties(items: Any, method: str) -> dict[str, Any]:
    """``[{"property_name", "value"}]`` as a dict."""
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and isinstance(item.get("property_name"), str) and "value" in item
        for item in items
    ):
        raise _error(method, "properties must be an Array of {property_name, value} Hashes")
    return {item["property_name"]: item["value"] for item in items}


def _field_name(display_name: str, taken: set[str]) -> str:
    """``"Delivery TC"`` -> ``sg_delivery_tc`` (``_1``, ``_2``... when taken), as FPT names fields."""
    stem = "sg_" + re.sub(r"[^a-z0-9]+", "_", display_name.lower()).strip("_")
    name, n = stem, 0
    while name in taken:
        n += 1
        name = f"{stem}_{n}"
    return name


def _apply(
    schema: Schema, entity_type: str, fdef: FieldDef, props: Mapping[str, Any], method: str
) -> FieldDef:
    """``fdef`` with ``props`` set; each property checked as FPT checks it."""
    label = f"{entity_type}.{fdef.name}"
    changes: dict[str, Any] = {}
    extra = {name: dict(prop) for name, prop in fdef.properties.items()}
    for name, value in props.items():
        if name == "name":
            if not isinstance(value, str) or not value.strip():
                raise _error(method, f"{label}: the field's name must be a non-empty String")
            changes["display_name"] = value
        elif name == "description":
            if not isinstance(value, str):
                raise _error(method, f"{label}: description must be a String")
            changes["description"] = value
        elif name == "valid_values" and fdef.data_type in LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise _error(method, f"{label}: valid_values must be an Array of non-empty Strings")
            changes["valid_values"] = tuple(dict.fromkeys(value))
        elif name == "valid_types" and fdef.data_type in TYPED_LINKS:
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise _error(method, f"{label}: valid_types must be an Array of entity types")
            unknown = [v for v in value if v not in schema.entities]
            if unknown:
                raise _error(method, f"{label}: valid_types names unknown entity types {unknown}")
            changes["valid_types"] = tuple(dict.fromkeys(value))
        elif name == "default_value":
            changes["default"] = value
        elif name in extra:
            if not extra[name].get("editable", True):
                raise _error(method, f"{label}: the property '{name}' is not editable")
            extra[name]["value"] = value
        elif name == "summary_default":
            extra[name] = {"editable": True, "value": value}
        else:
            raise _error(method, f"{label}: '{name}' is not a property of a '{fdef.data_type}' field")
    updated = fdef.replace(properties=extra, **changes)
    if (
        updated.data_type in LISTS
        and updated.default is not None
        and updated.default not in updated.valid_values
    ):
        raise _error(method, f"{label}: default_value '{updated.default}' is not one of its valid_values")
    return updated


def create_field(schema: Schema, args: Mapping[str, Any], project_id: int | None = None) -> str:
    """``schema_field_create``: add a custom field; returns its system name."""
    method = "schema_field_create"
    entity_type = args.get("type")
    edef = schema.entity(entity_type, method)
    data_type = args.get("data_type")
    if data_type not in CREATABLE_TYPES:
        raise _error(
            method, f"'{data_type}' is not a data type a field can be created with: {sorted(CREATABLE_TYPES)}"
        )
    props = _properties(args.get("properties"), method)
    display = props.get("name")
    if not isinstance(display, str) or not display.strip():
        raise _error(method, "the field needs a display name ('name')")
    taken = set(edef.fields) | set(schema.retired.get(edef.name, {}))
    name = _field_name(display, taken)
    if name == "sg_":
        raise _error(method, f"cannot make a field name from the display name {display!r}")
    if data_type in ("entity", "multi_entity") and "valid_types" not in props:
        raise _error(method, f"a '{data_type}' field needs 'valid_types' (the entity types it links to)")
    fdef = FieldDef(name, str(data_type), visible=_visibility(edef.fields))
    fdef = _apply(schema, edef.name, fdef, props, method)
    schema.add_field(edef.name, fdef)
    return name


def update_field(schema: Schema, args: Mapping[str, Any], project_id: int | None) -> bool:
    """``schema_field_update``: change a field's properties (``visible`` only for a project)."""
    method = "schema_field_update"
    entity_type = args.get("type")
    fdef = schema.field(entity_type, args.get("field_name"), method)
    props = _properties(args.get("properties"), method)
    if "visible" in props:
        if project_id is None:
            raise _error(method, "'visible' can only be set for a project (pass project_entity)")
        schema.project_visible[(str(entity_type), fdef.name, project_id)] = bool(props.pop("visible"))
    if props:
        schema.entities[str(entity_type)].fields[fdef.name] = _apply(
            schema, str(entity_type), fdef, props, method
        )
    return True


def delete_field(schema: Schema, args: Mapping[str, Any], project_id: int | None = None) -> bool:
    """``schema_field_delete``: retire a custom field (its values are kept for a revive)."""
    method = "schema_field_delete"
    entity_type = args.get("type")
    fdef = schema.field(entity_type, args.get("field_name"), method)
    if not fdef.is_custom:
        raise _error(method, f"{entity_type}.{fdef.name} is a system field: only sg_* fields can be deleted")
    schema.retired.setdefault(str(entity_type), {})[fdef.name] = schema.remove_field(
        str(entity_type), fdef.name
    )
    return True


def revive_field(schema: Schema, args: Mapping[str, Any], project_id: int | None = None) -> bool:
    """``schema_field_revive``: bring a deleted field back, with its values."""
    method = "schema_field_revive"
    entity_type = args.get("type")
    edef = schema.entity(entity_type, method)
    name = args.get("field_name")
    retired = schema.retired.get(edef.name, {})
    if not isinstance(name, str) or name not in retired:
        raise _error(method, f"{entity_type}.{name} is not a deleted field")
    if name in edef.fields:
        raise _error(method, f"{entity_type}.{name} already exists")
    schema.add_field(edef.name, retired.pop(name))
    return True


def _visibility(fields: Mapping[str, FieldDef]) -> bool | None:
    """New fields report ``visible`` if the site's fields do."""
    sample = next(iter(fields.values()), None)
    return None if sample is None or sample.visible is None else True
