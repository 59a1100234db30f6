"""The stock site: a real site's schema (package data) plus what newer sites have that it lacks.

``data/schema_read.json`` and ``data/schema_entity_read.json`` are a real site's answers (see
``data/README.md``). That site is an older one, so a few fields newer sites have and plugins
use are added here, status lists get the codes newer sites ship, and the lists the site left
empty get the demo studio's values. The JSON is parsed once per process; every emulator gets a
copy of the result (:func:`fpt_emulator.schema.default_schema`).
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Any

from .schema import FieldDef, Schema

#: Fields newer sites have and the stock data lacks.
NEWER_FIELDS: dict[str, tuple[FieldDef, ...]] = {
    "Project": (FieldDef("is_template", "checkbox", "Template", default=False),),
    "Version": (
        FieldDef("client_approved", "checkbox", "Client Approved", default=False),
        FieldDef("client_approved_at", "date_time", "Client Approved At"),
        FieldDef("client_approved_by", "entity", "Client Approved By", valid_types=("HumanUser", "ApiUser")),
    ),
    "Note": (
        FieldDef("suppress_email_notif", "checkbox", "Suppress Email Notification", default=False),
        FieldDef("client_note", "checkbox", "Client Note", default=False),
        FieldDef(
            "read_by_current_user",
            "list",
            "Read/Unread",
            editable=False,
            valid_values=("read", "unread"),
        ),
    ),
}

#: Status codes newer sites ship on top of the stock lists.
NEWER_STATUSES: dict[str, tuple[str, ...]] = {
    "Task": ("rev", "apr", "rej", "na", "omt"),
    "Version": ("apr", "rej"),
}

#: Values for list fields the stock site left empty (the demo studio's).
DEMO_LISTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Shot", "sg_shot_type"): ("Full CG", "Plate", "Insert", "Reference"),
    ("Sequence", "sg_sequence_type"): ("Feature", "Trailer", "Teaser"),
    ("Version", "sg_version_type"): ("Animation", "Lighting", "Comp", "Editorial", "Client"),
    ("Department", "department_type"): ("Artist", "Production", "Supervision"),
}

#: Name and colour of every status code a stock or newer status list uses (the ``Status``
#: entities the demo studio has).
STATUS_NAMES: dict[str, tuple[str, str]] = {
    "wtg": ("Waiting to Start", "204,204,204"),
    "rdy": ("Ready to Start", "255,230,77"),
    "ip": ("In Progress", "51,153,255"),
    "rev": ("Pending Review", "255,153,0"),
    "vwd": ("Viewed", "153,102,204"),
    "apr": ("Approved", "0,204,102"),
    "rej": ("Rejected", "230,51,51"),
    "fin": ("Final", "0,153,51"),
    "cmpt": ("Complete", "0,153,51"),
    "hld": ("On Hold", "153,51,51"),
    "omt": ("Omit", "102,102,102"),
    "cbb": ("Could Be Better", "204,153,51"),
    "na": ("N/A", "170,170,170"),
    "act": ("Active", "0,153,51"),
    "dis": ("Disabled", "102,102,102"),
    "opn": ("Open", "51,153,255"),
    "clsd": ("Closed", "102,102,102"),
}


def _read(name: str) -> Any:
    return json.loads(files("fpt_emulator").joinpath("data", name).read_text(encoding="utf-8"))


@functools.cache
def stock_wire() -> tuple[dict[str, Any], dict[str, Any]]:
    """The real site's ``schema_read`` and ``schema_entity_read`` answers, as shipped (do not modify)."""
    return _read("schema_read.json"), _read("schema_entity_read.json")


@functools.cache
def stock_schema() -> Schema:
    """The stock schema, built once per process: never modify it, copy it."""
    schema = Schema.from_wire(*stock_wire())
    for entity_type, added in NEWER_FIELDS.items():
        for fdef in added:
            schema.add_field(entity_type, fdef)
    for entity_type, codes in NEWER_STATUSES.items():
        fdef = schema.entities[entity_type].fields["sg_status_list"]
        extra = tuple(code for code in codes if code not in fdef.valid_values)
        schema.entities[entity_type].fields["sg_status_list"] = fdef.replace(
            valid_values=fdef.valid_values + extra
        )
    for (entity_type, name), values in DEMO_LISTS.items():
        fdef = schema.entities[entity_type].fields[name]
        schema.entities[entity_type].fields[name] = fdef.replace(valid_values=values)
    return schema
