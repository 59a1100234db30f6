"""The demo studio a new emulator holds: people in departments and groups, pipeline steps, the
site's statuses, and a project with three sequences. All of it is arranged without events (the
site as it already was), and only with the fields the site's schema has, so a studio's own
schema (``--schema``) gets the same studio.
"""

from __future__ import annotations

import threading
from typing import Any

from .stock import STATUS_NAMES
from .store import Site, Table

STEPS = {
    "Layout": ("lay", "Shot", "100,180,240"),
    "Animation": ("anm", "Shot", "240,140,60"),
    "FX": ("fx", "Shot", "200,60,200"),
    "Lighting": ("lgt", "Shot", "240,220,80"),
    "Comp": ("comp", "Shot", "90,200,120"),
    "Model": ("mod", "Asset", "120,120,240"),
    "Rig": ("rig", "Asset", "180,90,90"),
    "Surfacing": ("srf", "Asset", "90,180,180"),
}
ARTISTS = (
    ("Ada", "Moreau", "Animation"),
    ("Bram", "Okafor", "Lighting"),
    ("Chen", "Wei", "Comp"),
    ("Dana", "Kowalski", "Layout"),
    ("Eero", "Lindqvist", "Modeling"),
    ("Farah", "Haddad", "Rigging"),
    ("Gus", "Alvarez", "FX"),
    ("Hana", "Sato", "Surfacing"),
)
STAFF = (
    ("Iris", "Novak", "Supervision"),
    ("Jonah", "Price", "Production"),
)
#: Departments whose people plan and review rather than make shots.
STAFF_DEPARTMENTS = ("Supervision", "Production")
#: Groups and the departments whose people are in them.
GROUPS = {
    "Artists": tuple(dept for _, _, dept in ARTISTS),
    "Supervisors": ("Supervision",),
}
PROJECT = {"name": "Demo Project", "tank_name": "demo", "sg_type": "Feature Film", "sg_status": "Active"}
SEQUENCES = ("SQ010", "SQ020", "SQ030")


def fit(site: Site, entity_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the fields the site lacks and the list values its lists do not hold."""
    fields = site.schema.entities[entity_type].fields
    out = {}
    for name, value in data.items():
        fdef = fields.get(name)
        if fdef is None:
            continue
        if fdef.data_type in ("list", "status_list") and value not in fdef.valid_values:
            continue
        if fdef.is_link and fdef.valid_types:
            links = value if isinstance(value, list) else [value]
            if any(lk and lk["type"] not in fdef.valid_types for lk in links):
                continue
        out[name] = value
    return out


def seed(site: Site, populate: bool, reuse: bool = False) -> None:
    """Set up a new site: its admin, statuses and (with ``populate``) the demo studio.

    ``reuse`` (the stock schema, unchanged): the first site set up this way in the process is
    kept as an image and later ones are copied from it, which is several times faster than
    making each entity again. Only an empty site is set up from the image.
    """
    key = populate
    if reuse and all(not table.records for table in site.tables.values()):
        image = _IMAGES.get(key)
        if image is not None:
            _restore(site, image)
            return
        _seed(site, populate)
        with _IMAGES_LOCK:
            _IMAGES.setdefault(key, _image(site))
        return
    _seed(site, populate)


def _seed(site: Site, populate: bool) -> None:
    site.default_user = admin(site)
    seed_statuses(site)
    if populate:
        seed_studio(site)


#: Images of freshly set-up stock sites, by ``populate``: (tables, default user).
_IMAGES: dict[bool, tuple[dict[str, tuple[list[dict[str, Any]], int]], dict[str, Any] | None]] = {}
_IMAGES_LOCK = threading.Lock()


def _copy_value(value: Any) -> Any:
    """Stored values are scalars, links and lists of links (and JSON for serializable fields)."""
    if isinstance(value, dict):
        return {k: _copy_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    return value


def _image(site: Site) -> tuple[dict[str, tuple[list[dict[str, Any]], int]], dict[str, Any] | None]:
    tables = {
        name: ([_copy_value(table.records[rid]) for rid in table.ids], table.next_id)
        for name, table in site.tables.items()
        if table.records
    }
    return tables, _copy_value(site.default_user)


def _restore(
    site: Site, image: tuple[dict[str, tuple[list[dict[str, Any]], int]], dict[str, Any] | None]
) -> None:
    tables, default_user = image
    with site.lock:
        for name, (records, next_id) in tables.items():
            table = Table(name)
            for record in records:
                table.insert(_copy_value(record))
            table.next_id = next_id
            site.tables[name] = table
        site.default_user = _copy_value(default_user)
        site.version += 1


def department(site: Site, name: str) -> dict[str, Any] | None:
    """The Department called ``name`` (made if missing), or None on a site without departments."""
    if "Department" not in site.schema.entities:
        return None
    found = site.find_one("Department", [["name", "is", name]])
    if found is None:
        kind = "Supervision" if name == "Supervision" else "Production" if name == "Production" else "Artist"
        data = {"name": name, "code": name[:4].lower(), "department_type": kind}
        found = site.create("Department", fit(site, "Department", data), events=False)
    return {"type": "Department", "id": found["id"]}


def person(site: Site, first: str, last: str, dept: str) -> dict[str, Any]:
    """HumanUser fields for one studio member (in the department ``dept``)."""
    login = f"{first.lower()}.{last.lower()}"
    data = {
        "firstname": first,
        "lastname": last,
        "login": login,
        "email": f"{login}@studio.example",
        "department": department(site, dept),
    }
    return fit(site, "HumanUser", data)


def seed_statuses(site: Site) -> None:
    """A ``Status`` for every code the site's status lists use (as a site has them)."""
    if "Status" not in site.schema.entities or site.find_one("Status", []):
        return
    codes = dict.fromkeys(
        code
        for edef in site.schema.entities.values()
        for fdef in edef.fields.values()
        if fdef.data_type == "status_list"
        for code in fdef.valid_values
    )
    for code in codes:
        name, color = STATUS_NAMES.get(code, (code, "204,204,204"))
        site.create(
            "Status", fit(site, "Status", {"code": code, "name": name, "bg_color": color}), events=False
        )


def admin(site: Site) -> dict[str, Any]:
    """The site's admin (every in-process write without a user is credited to it)."""
    found = site.find_one("HumanUser", [["login", "is", "admin"]])
    if found is None:
        data = {
            "firstname": "Emulator",
            "lastname": "Admin",
            "login": "admin",
            "email": "admin@studio.example",
        }
        found = site.create("HumanUser", fit(site, "HumanUser", data), events=False)
    return {"type": "HumanUser", "id": found["id"]}


def seed_studio(site: Site) -> None:
    """The demo studio's people, groups, steps and project."""
    people: dict[str, list[dict[str, Any]]] = {}
    for first, last, dept in ARTISTS + STAFF:
        user = site.create("HumanUser", person(site, first, last, dept), events=False)
        people.setdefault(dept, []).append({"type": "HumanUser", "id": user["id"]})
    if "Group" in site.schema.entities:
        for code, depts in GROUPS.items():
            members = [u for dept in depts for u in people.get(dept, [])]
            site.create("Group", fit(site, "Group", {"code": code, "users": members}), events=False)
    for order, (code, (short, etype, color)) in enumerate(STEPS.items()):
        data = {"code": code, "short_name": short, "entity_type": etype, "color": color, "list_order": order}
        site.create("Step", fit(site, "Step", data), events=False)
    project = site.create("Project", fit(site, "Project", dict(PROJECT)), events=False)
    plink = {"type": "Project", "id": project["id"]}
    for code in SEQUENCES:
        data = {"code": code, "project": plink, "description": f"Sequence {code}"}
        site.create("Sequence", fit(site, "Sequence", data), events=False)
