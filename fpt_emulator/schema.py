"""The entity/field schema the emulator enforces, modelled on a stock FPT site.

Plugins are written against a real site's schema, so the emulator rejects what FPT rejects
(unknown fields, read-only fields, values of the wrong type, status codes not in the list) and
answers ``schema_*`` calls in FPT's nested ``{"value", "editable"}`` format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ERR_READ, ApiError

#: Status codes FPT ships for production entities.
PRODUCTION_STATUSES: tuple[str, ...] = ("wtg", "rdy", "ip", "rev", "fin", "hld", "apr", "na")
NOTE_STATUSES: tuple[str, ...] = ("opn", "ip", "clsd")
USER_STATUSES: tuple[str, ...] = ("act", "dis")

#: Data types whose values are links to other entities.
LINK_TYPES = frozenset({"entity", "multi_entity"})
#: Data types FPT refuses in a filter.
UNFILTERABLE_TYPES = frozenset({"serializable", "image", "url"})
#: Field names the server maintains itself; never logged as ``in_create`` rows.
SYSTEM_FIELDS = frozenset({"id", "created_at", "updated_at", "created_by", "updated_by"})


@dataclass(frozen=True)
class FieldDef:
    """One field of an entity type."""

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

    def empty(self) -> Any:
        """The value an unset field reads as."""
        return [] if self.is_multi else None

    def to_wire(self, entity_type: str) -> dict[str, Any]:
        """This field as ``schema_field_read`` returns it."""
        props: dict[str, Any] = {
            "default_value": {"value": self.default, "editable": False},
            "summary_default": {"value": "none", "editable": True},
        }
        if self.valid_types:
            props["valid_types"] = {"value": list(self.valid_types), "editable": True}
        if self.valid_values:
            props["valid_values"] = {"value": list(self.valid_values), "editable": True}
        return {
            "data_type": {"value": self.data_type, "editable": False},
            "description": {"value": "", "editable": True},
            "editable": {"value": self.editable, "editable": False},
            "entity_type": {"value": entity_type, "editable": False},
            "mandatory": {"value": self.mandatory, "editable": False},
            "name": {"value": self.label, "editable": True},
            "properties": props,
            "unique": {"value": False, "editable": False},
            "visible": {"value": True, "editable": False},
        }


@dataclass
class EntityDef:
    """One entity type: its fields and which field names a link to it."""

    name: str
    display_name: str
    #: The field whose value is the ``name`` of a link to this entity (None: computed).
    name_field: str | None
    fields: dict[str, FieldDef]

    @property
    def has_project(self) -> bool:
        return "project" in self.fields

    @property
    def has_status(self) -> bool:
        return "sg_status_list" in self.fields

    def to_wire(self) -> dict[str, Any]:
        """This entity type as ``schema_entity_read`` returns it."""
        return {
            "name": {"value": self.display_name, "editable": False},
            "visible": {"value": True, "editable": False},
        }


class Schema:
    """All entity types the emulated site knows; lookups raise FPT's errors."""

    def __init__(self, entities: Iterable[EntityDef]) -> None:
        self.entities: dict[str, EntityDef] = {e.name: e for e in entities}

    def entity(self, entity_type: Any, method: str = "read") -> EntityDef:
        """The definition of ``entity_type``, or FPT's error for an unknown type."""
        if not isinstance(entity_type, str) or entity_type not in self.entities:
            raise ApiError(f"API {method}() Entity type '{entity_type}' does not exist.", ERR_READ)
        return self.entities[entity_type]

    def field(self, entity_type: str, name: Any, method: str = "read", code: int = ERR_READ) -> FieldDef:
        """The definition of ``entity_type.name``, or FPT's "doesn't exist" error."""
        edef = self.entity(entity_type, method)
        if not isinstance(name, str) or name not in edef.fields:
            raise ApiError(f"API {method}() {entity_type}.{name} doesn't exist.", code)
        return edef.fields[name]

    def add_field(self, entity_type: str, fdef: FieldDef) -> None:
        """Add a site-specific field (e.g. a studio's ``sg_*`` custom field) at runtime."""
        edef = self.entity(entity_type, "schema_field_create")
        edef.fields[fdef.name] = fdef


# ---------------------------------------------------------------------------------------------
# The stock schema


def _text(name: str, display: str = "", **kw: Any) -> FieldDef:
    return FieldDef(name, "text", display, **kw)


def _num(name: str, display: str = "", **kw: Any) -> FieldDef:
    return FieldDef(name, "number", display, **kw)


def _link(name: str, types: Iterable[str], display: str = "", **kw: Any) -> FieldDef:
    return FieldDef(name, "entity", display, valid_types=tuple(types), **kw)


def _multi(name: str, types: Iterable[str], display: str = "", **kw: Any) -> FieldDef:
    return FieldDef(name, "multi_entity", display, valid_types=tuple(types), **kw)


def _status(values: tuple[str, ...], default: str) -> FieldDef:
    return FieldDef("sg_status_list", "status_list", "Status", valid_values=values, default=default)


USER_TYPES = ("HumanUser", "ApiUser")


def _common(project: bool = True) -> list[FieldDef]:
    fields = [
        FieldDef("id", "number", "Id", editable=False),
        FieldDef("created_at", "date_time", "Date Created", editable=False),
        FieldDef("updated_at", "date_time", "Date Updated", editable=False),
        _link("created_by", USER_TYPES, "Created by", editable=False),
        _link("updated_by", USER_TYPES, "Updated by", editable=False),
        FieldDef("image", "image", "Thumbnail", editable=False),
    ]
    if project:
        fields.append(_link("project", ["Project"], "Project"))
    return fields


def _entity(name: str, display: str, name_field: str | None, fields: list[FieldDef]) -> EntityDef:
    return EntityDef(name, display, name_field, {f.name: f for f in fields})


def default_schema() -> Schema:
    """The entity types and fields plugins commonly use, as a stock site defines them."""
    ents = [
        _entity(
            "Project",
            "Project",
            "name",
            [
                *_common(project=False),
                _text("name", "Project Name"),
                _text("code", "Project Code"),
                _text("sg_description", "Description"),
                FieldDef(
                    "sg_status",
                    "list",
                    "Status",
                    valid_values=("Active", "Bidding", "Demo", "Lost"),
                    default="Active",
                ),
                FieldDef(
                    "sg_type",
                    "list",
                    "Type",
                    valid_values=("Feature", "Episodic", "Commercial", "Game Cinematic"),
                ),
                FieldDef("archived", "checkbox", "Archived", default=False),
                FieldDef("is_template", "checkbox", "Template", default=False),
                _text("tank_name", "Tank Name"),
                _multi("users", ["HumanUser"], "Users"),
            ],
        ),
        _entity(
            "Sequence",
            "Sequence",
            "code",
            [
                *_common(),
                _text("code", "Sequence Name"),
                _text("description", "Description"),
                _status(PRODUCTION_STATUSES, "wtg"),
                _multi("shots", ["Shot"], "Shots", reverse={"Shot": "sg_sequence"}),
                _multi("assets", ["Asset"], "Assets", reverse={"Asset": "sequences"}),
                _multi("tasks", ["Task"], "Tasks", reverse={"Task": "entity"}),
            ],
        ),
        _entity(
            "Shot",
            "Shot",
            "code",
            [
                *_common(),
                _text("code", "Shot Code"),
                _text("description", "Description"),
                _status(PRODUCTION_STATUSES, "wtg"),
                _link("sg_sequence", ["Sequence"], "Sequence", reverse={"Sequence": "shots"}),
                _multi("assets", ["Asset"], "Assets", reverse={"Asset": "shots"}),
                _multi("tasks", ["Task"], "Tasks", reverse={"Task": "entity"}),
                _num("sg_cut_in", "Cut In"),
                _num("sg_cut_out", "Cut Out"),
                _num("sg_cut_duration", "Cut Duration"),
                FieldDef(
                    "sg_shot_type",
                    "list",
                    "Type",
                    valid_values=("Full CG", "Plate", "Insert", "Reference"),
                ),
            ],
        ),
        _entity(
            "Asset",
            "Asset",
            "code",
            [
                *_common(),
                _text("code", "Asset Name"),
                _text("description", "Description"),
                _status(PRODUCTION_STATUSES, "wtg"),
                FieldDef(
                    "sg_asset_type",
                    "list",
                    "Type",
                    valid_values=("Character", "Prop", "Environment", "Vehicle", "FX", "Matte Painting"),
                ),
                _multi("shots", ["Shot"], "Shots", reverse={"Shot": "assets"}),
                _multi("sequences", ["Sequence"], "Sequences", reverse={"Sequence": "assets"}),
                _multi("tasks", ["Task"], "Tasks", reverse={"Task": "entity"}),
            ],
        ),
        _entity(
            "Step",
            "Pipeline Step",
            "code",
            [
                *_common(project=False),
                _text("code", "Step Name"),
                _text("short_name", "Short Name"),
                _text("description", "Description"),
                _text("entity_type", "Entity Type"),
                FieldDef("color", "color", "Color"),
                _num("list_order", "List Order"),
            ],
        ),
        _entity(
            "Task",
            "Task",
            "content",
            [
                *_common(),
                _text("content", "Task Name"),
                _text("sg_description", "Description"),
                _status(PRODUCTION_STATUSES, "wtg"),
                _link(
                    "entity",
                    ["Shot", "Asset", "Sequence", "Project"],
                    "Link",
                    reverse={"Shot": "tasks", "Asset": "tasks", "Sequence": "tasks"},
                ),
                _link("step", ["Step"], "Pipeline Step"),
                _multi("task_assignees", ["HumanUser"], "Assigned To"),
                _multi(
                    "upstream_tasks", ["Task"], "Upstream Dependency", reverse={"Task": "downstream_tasks"}
                ),
                _multi(
                    "downstream_tasks", ["Task"], "Downstream Dependency", reverse={"Task": "upstream_tasks"}
                ),
                FieldDef("start_date", "date", "Start Date"),
                FieldDef("due_date", "date", "Due Date"),
                FieldDef("duration", "duration", "Duration"),
                FieldDef("est_in_mins", "duration", "Bid"),
                FieldDef("color", "color", "Gantt Bar Color", default="pipeline_step"),
                FieldDef("sg_sort_order", "float", "Sort Order"),
            ],
        ),
        _entity(
            "Version",
            "Version",
            "code",
            [
                *_common(),
                _text("code", "Version Name"),
                _text("description", "Description"),
                _status(PRODUCTION_STATUSES, "rev"),
                _link("entity", ["Shot", "Asset", "Sequence"], "Link"),
                _link("sg_task", ["Task"], "Task"),
                _link("user", USER_TYPES, "Artist"),
                _text("sg_path_to_movie", "Path to Movie"),
                _text("sg_path_to_frames", "Path to Frames"),
                _num("sg_first_frame", "First Frame"),
                _num("sg_last_frame", "Last Frame"),
                _num("frame_count", "Frame Count"),
                _text("frame_range", "Frame Range"),
                FieldDef("sg_uploaded_movie", "url", "Uploaded Movie"),
                _multi("notes", ["Note"], "Notes", reverse={"Note": "note_links"}),
            ],
        ),
        _entity(
            "Note",
            "Note",
            "subject",
            [
                *_common(),
                _text("subject", "Subject"),
                _text("content", "Body"),
                _status(NOTE_STATUSES, "opn"),
                _link("user", USER_TYPES, "Author"),
                _multi("addressings_to", ["HumanUser"], "To"),
                _multi("addressings_cc", ["HumanUser"], "Cc"),
                _multi(
                    "note_links",
                    ["Project", "Sequence", "Shot", "Asset", "Task", "Version"],
                    "Links",
                    reverse={"Version": "notes"},
                ),
                _multi("tasks", ["Task"], "Tasks"),
                FieldDef(
                    "sg_note_type",
                    "list",
                    "Type",
                    valid_values=("Client", "Internal", "Director", "Supervisor"),
                ),
            ],
        ),
        _entity(
            "HumanUser",
            "Person",
            "name",
            [
                *_common(project=False),
                _text("name", "Name"),
                _text("firstname", "First Name"),
                _text("lastname", "Last Name"),
                _text("login", "Login"),
                _text("email", "Email"),
                _status(USER_STATUSES, "act"),
                _text("department", "Department"),
                _multi("projects", ["Project"], "Projects"),
            ],
        ),
        _entity(
            "ApiUser",
            "Script",
            None,
            [
                *_common(project=False),
                _text("firstname", "Script Name"),
                _text("lastname", "Version", default="1.0"),
                _text("description", "Description"),
                _text("email", "Email"),
            ],
        ),
        _entity(
            "EventLogEntry",
            "Event Log Entry",
            "description",
            [
                FieldDef("id", "number", "Id", editable=False),
                FieldDef("created_at", "date_time", "Date Created", editable=False),
                _text("event_type", "Event Type", mandatory=True),
                _text("attribute_name", "Attribute Name"),
                FieldDef("meta", "serializable", "Meta"),
                _link("entity", [], "Link"),
                _link("user", USER_TYPES, "Created By"),
                _link("project", ["Project"], "Project"),
                FieldDef("session_uuid", "uuid", "Session Id"),
                _text("description", "Description"),
            ],
        ),
    ]
    return Schema(ents)
