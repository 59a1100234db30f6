"""EventLogEntry rows in the shapes FPT writes them.

Shapes follow rows read from real sites:

* ``Shotgun_<T>_New``: ``attribute_name`` null, meta ``{"type": "new_entity", "entity_type",
  "entity_id"}``.
* ``Shotgun_<T>_Change``: meta ``{"type": "attribute_change", "attribute_name", "entity_type",
  "entity_id", "field_data_type", "old_value", "new_value"}`` (``added``/``removed`` instead of
  old/new for multi-entity fields), plus ``"in_create": true`` for the rows written while the
  entity is created (one per field set, including server defaults; ``project`` is not logged).
* The other side of a connection gets its own Change row whose meta names the entity that was
  edited, with ``actual_attribute_changed`` and ``original_event_log_entry_id``.
* Retirement writes a ``retirement_date`` Change and ``Shotgun_<T>_Retirement``; revival writes
  ``Shotgun_<T>_Revival``.
"""

from __future__ import annotations

from typing import Any

from .schema import FieldDef


def row(
    event_id: int,
    event_type: str,
    *,
    attribute_name: str | None,
    meta: dict[str, Any] | None,
    entity: dict[str, Any] | None,
    user: dict[str, Any] | None,
    project: dict[str, Any] | None,
    session_uuid: str | None,
    created_at: str,
    description: str,
) -> dict[str, Any]:
    """One stored EventLogEntry record."""
    return {
        "id": event_id,
        "event_type": event_type,
        "attribute_name": attribute_name,
        "meta": meta,
        "entity": entity,
        "user": user,
        "project": project,
        "session_uuid": session_uuid,
        "created_at": created_at,
        "description": description,
    }


def new_entity_meta(entity_type: str, entity_id: int) -> dict[str, Any]:
    return {"type": "new_entity", "entity_type": entity_type, "entity_id": entity_id}


def _with_values(
    meta: dict[str, Any],
    is_multi: bool,
    old: Any,
    new: Any,
    added: list[dict[str, Any]] | None,
    removed: list[dict[str, Any]] | None,
    in_create: bool,
) -> dict[str, Any]:
    """The value part of an attribute change: added/removed for multi-entity fields, else old/new."""
    if is_multi:
        meta["added"] = added or []
        meta["removed"] = removed or []
    else:
        meta["old_value"] = old
        meta["new_value"] = new
    if in_create:
        meta["in_create"] = True
    return meta


def change_meta(
    entity_type: str,
    entity_id: int,
    fdef: FieldDef,
    *,
    old: Any = None,
    new: Any = None,
    added: list[dict[str, Any]] | None = None,
    removed: list[dict[str, Any]] | None = None,
    in_create: bool = False,
) -> dict[str, Any]:
    """Meta of an ``attribute_change`` row for a field of the entity itself."""
    meta: dict[str, Any] = {
        "type": "attribute_change",
        "attribute_name": fdef.name,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "field_data_type": fdef.data_type,
    }
    return _with_values(meta, fdef.is_multi, old, new, added, removed, in_create)


def backref_meta(
    *,
    source_type: str,
    source_id: int,
    source_field: FieldDef,
    target_field: FieldDef,
    original_event_id: int,
    in_create: bool,
    old: Any = None,
    new: Any = None,
    added: list[dict[str, Any]] | None = None,
    removed: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Meta of the row written on the other side of a connection field."""
    meta: dict[str, Any] = {
        "type": "attribute_change",
        "attribute_name": target_field.name,
        "entity_type": source_type,
        "entity_id": source_id,
        "field_data_type": source_field.data_type,
        "actual_attribute_changed": f"{source_type}.{source_field.name}",
        "original_event_log_entry_id": original_event_id,
    }
    return _with_values(meta, target_field.is_multi, old, new, added, removed, in_create)


def retirement_meta(entity_type: str, entity_id: int, display_name: str | None, when: str) -> dict[str, Any]:
    return {
        "type": "entity_retirement",
        "class_name": entity_type,
        "display_name": display_name,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "id": entity_id,
        "retirement_date": when,
    }


def revival_meta(entity_type: str, entity_id: int, display_name: str | None) -> dict[str, Any]:
    return {
        "type": "entity_revival",
        "class_name": entity_type,
        "display_name": display_name,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "id": entity_id,
    }


def retirement_stamp(wire_datetime: str) -> str:
    """``2015-07-13T21:54:01Z`` as FPT writes it in retirement meta: ``2015-07-13 21:54:01 UTC``."""
    return f"{wire_datetime[:10]} {wire_datetime[11:19]} UTC"


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("name") or f"{value.get('type')} #{value.get('id')}")
    return str(value)


def describe_new(user_name: str, entity_type: str, name: str | None) -> str:
    return f"{user_name} created new {entity_type} {name or ''}".rstrip()


def describe_change(
    user_name: str, fdef: FieldDef, old: Any, new: Any, entity_type: str, name: str | None
) -> str:
    return (
        f'{user_name} changed "{fdef.label}" from "{_show(old)}" to "{_show(new)}" '
        f"on {entity_type} {name or ''}"
    ).rstrip()


def describe_multi(
    user_name: str,
    fdef: FieldDef,
    added: list[dict[str, Any]],
    removed: list[dict[str, Any]],
    entity_type: str,
    name: str | None,
) -> str:
    parts = []
    if added:
        parts.append("added " + ", ".join(f'"{_show(v)}"' for v in added))
    if removed:
        parts.append("removed " + ", ".join(f'"{_show(v)}"' for v in removed))
    return f'{user_name} {" and ".join(parts)} on "{fdef.label}" of {entity_type} {name or ""}'.rstrip()


def describe_retire(user_name: str, entity_type: str, name: str | None) -> str:
    return f"{user_name} retired {entity_type} {name or ''}".rstrip()


def describe_revive(user_name: str, entity_type: str, name: str | None) -> str:
    return f"{user_name} revived {entity_type} {name or ''}".rstrip()
