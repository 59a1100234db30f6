"""Fields FPT keeps in sync with a field on the other side, and the connection entities behind them.

``schema_read`` does not say which field is the other side of which, so this is FPT's own
table, applied to any schema wherever both fields exist: setting ``Shot.assets`` also sets
``Asset.shots``, and each link of the pair is one ``AssetShotConnection`` row, created when the
link is added and retired when it is removed (both logged, as FPT logs them).
"""

from __future__ import annotations

from .schema import Connection, Schema

#: (entity, field, other entity, other field, connection entity, its column for the entity,
#: its column for the other entity). The first side owns the connection (a connection created
#: directly is applied to that field).
CONNECTED: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("Shot", "assets", "Asset", "shots", "AssetShotConnection", "shot", "asset"),
    ("Sequence", "assets", "Asset", "sequences", "AssetSequenceConnection", "sequence", "asset"),
    ("Scene", "assets", "Asset", "scenes", "AssetSceneConnection", "scene", "asset"),
    ("Asset", "parents", "Asset", "assets", "AssetAssetConnection", "asset", "parent"),
    ("Shot", "parent_shots", "Shot", "shots", "ShotShotConnection", "shot", "parent_shot"),
    ("Element", "shots", "Shot", "elements", "ElementShotConnection", "element", "shot"),
    ("Element", "assets", "Asset", "elements", "AssetElementConnection", "element", "asset"),
    ("Group", "users", "HumanUser", "groups", "GroupUserConnection", "group", "user"),
    ("Project", "users", "HumanUser", "projects", "ProjectUserConnection", "project", "user"),
    ("Playlist", "versions", "Version", "playlists", "PlaylistVersionConnection", "playlist", "version"),
    # A TaskDependency's `task` is the downstream task, `dependent_task` the upstream one.
    ("Task", "upstream_tasks", "Task", "downstream_tasks", "TaskDependency", "task", "dependent_task"),
    (
        "PublishedFile",
        "upstream_published_files",
        "PublishedFile",
        "downstream_published_files",
        "PublishedFileDependency",
        "published_file",
        "dependent_published_file",
    ),
    (
        "TankPublishedFile",
        "upstream_tank_published_files",
        "TankPublishedFile",
        "downstream_tank_published_files",
        "TankDependency",
        "tank_published_file",
        "dependent_tank_published_file",
    ),
)

#: Pairs kept in sync without a connection entity: (entity, field, other entities, other field).
INVERSE: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("Shot", "sg_sequence", ("Sequence",), "shots"),
    ("Task", "entity", ("Shot", "Asset", "Sequence", "Scene", "Element"), "tasks"),
    ("HumanUser", "department", ("Department",), "users"),
    ("PublishedFile", "version", ("Version",), "published_files"),
    ("Reply", "entity", ("Note",), "replies"),
    ("Note", "tasks", ("Task",), "notes"),
)
#: ``Note.note_links`` has every linkable type's ``notes`` field as its other side.
NOTE_LINKS = ("Note", "note_links", "notes")


def _pair(schema: Schema, entity: str, name: str, other: str, other_name: str) -> bool:
    """Make ``entity.name`` and ``other.other_name`` each other's reverse, if both are links."""
    fields = schema.entities.get(entity)
    other_fields = schema.entities.get(other)
    if fields is None or other_fields is None:
        return False
    fdef = fields.fields.get(name)
    odef = other_fields.fields.get(other_name)
    if fdef is None or odef is None or not fdef.is_link or not odef.is_link:
        return False
    if fdef.valid_types and other not in fdef.valid_types:
        return False
    fields.fields[name] = fdef.replace(reverse={**fdef.reverse, other: other_name})
    other_fields.fields[other_name] = odef.replace(reverse={**odef.reverse, entity: name})
    return True


def link_inverses(schema: Schema) -> None:
    """Set up every pair of ``CONNECTED`` and ``INVERSE`` (and ``Note.note_links``) in ``schema``."""
    for entity, name, other, other_name, conn, own, theirs in CONNECTED:
        if not _pair(schema, entity, name, other, other_name):
            continue
        cdef = schema.entities.get(conn)
        if cdef is None or own not in cdef.fields or theirs not in cdef.fields:
            continue
        schema.links[(entity, name)] = Connection(conn, own, theirs)
        schema.links[(other, other_name)] = Connection(conn, theirs, own)
        schema.connection_types[conn] = (entity, name)
    for entity, name, others, other_name in INVERSE:
        for other in others:
            _pair(schema, entity, name, other, other_name)
    note, links, notes = NOTE_LINKS
    note_def = schema.entities.get(note)
    if note_def is not None and links in note_def.fields:
        for other in note_def.fields[links].valid_types:
            _pair(schema, note, links, other, notes)
