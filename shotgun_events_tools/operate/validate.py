"""`validate-plugins`: load each plugin as dispatch would and say what it does and what is wrong.

For each plugin: its callbacks, their `matchEvents`, the environment variables its source reads
(script users), the SNS filter policy derived for its subscription, and

- problems (CI fails on them): it does not load; a match that can never fire (an event type of an
  entity the schema does not have, an attribute list on `_New` / `_Retirement` / `_Revival`
  events, which carry no attribute name, an empty attribute list, a field the site does not have);
  with a deployment's secrets, a variable it needs that its secret lacks, or a callback left
  without a script user;
- warnings: what may be intended (a string value, the daemon's substring test), or cannot be
  checked here (a variable not set in this environment, a field not in the stock schema).

The schema is the site's (`--stack`, or `--schema DIR` as `shotgun-events schema-dump` writes it)
or else the FPT emulator's stock schema (a real site's, without the studio's own fields).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shotgun_events.dispatch.runtime import is_reserved_env_name
from shotgun_events.plugins import RecordedMetrics, filter_policy, load_plugin, plugin_files
from shotgun_events.plugins.matching import WILDCARD
from shotgun_events_tools.operate.replay import quiet_logs
from shotgun_events_tools.script_users import script_env_names

ENTITY_EVENT = re.compile(r"^Shotgun_(?P<entity>.+)_(?P<kind>New|Change|Retirement|Revival)$")
NO_ATTRIBUTE_KINDS = {"New", "Retirement", "Revival"}  # FPT writes them with attribute_name null
OTHER_FPT_EVENTS = {"Shotgun_User_Login", "Shotgun_User_Logout"}


@dataclass
class Schema:
    entities: dict[str, set[str]]
    source: str  # "stock" or where it came from
    site: bool  # the site's own (field checks are problems) or the stock one (warnings)


@dataclass
class CallbackReport:
    name: str
    match_events: Any
    stop_on_error: bool
    has_script_user: bool


@dataclass
class PluginReport:
    name: str
    path: str
    loaded: bool
    callbacks: list[CallbackReport] = field(default_factory=list)
    env_names: dict[str, bool] = field(default_factory=dict)  # name -> required (no default given)
    filter_policy: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def stock_schema() -> Schema:
    from fpt_emulator import default_schema

    entities = {name: set(e.fields) for name, e in default_schema().entities.items()}
    return Schema(entities, "the FPT emulator's stock schema", site=False)


def schema_files(path: str | Path) -> Schema:
    """A site's schema as `shotgun-events schema-dump` records it (the folder or the schema file);
    `SchemaFileError` when it is not one."""
    from fpt_emulator import load_site_schema

    loaded = load_site_schema(path)
    entities = {name: set(e.fields) for name, e in loaded.entities.items()}
    return Schema(entities, f"the schema in {path}", site=True)


# --- environment variables ---------------------------------------------------------------------


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ`."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ"
    return isinstance(node, ast.Name) and node.id == "environ"


def env_names_read(source: str) -> dict[str, bool]:
    """Variables the source reads with a literal name -> whether it needs them (no default given),
    plus the script user names it quotes (`SGDAEMON_<X>_NAME` / `_KEY`, as the authors' kit finds them)."""
    names: dict[str, bool] = {}

    def note(name: Any, required: bool) -> None:
        if isinstance(name, str) and name:
            names[name] = names.get(name, False) or required

    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            getter = isinstance(func, ast.Attribute) and (
                (func.attr in {"get", "pop", "setdefault"} and _is_environ(func.value))
                or (func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os")
            )
            if getter or (isinstance(func, ast.Name) and func.id == "getenv"):
                has_default = len(node.args) > 1 or any(k.arg == "default" for k in node.keywords)
                note(node.args[0].value, not has_default)
        elif (
            isinstance(node, ast.Subscript)
            and _is_environ(node.value)
            and isinstance(node.slice, ast.Constant)
        ):
            note(node.slice.value, True)
    for name in script_env_names(source):
        note(name, names.get(name, True))
    return dict(sorted(names.items()))


@contextmanager
def environment(values: Mapping[str, str] | None) -> Iterator[None]:
    """`os.environ` with `values` added while a plugin loads, as its function would have them."""
    if not values:
        yield
        return
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- matchEvents -------------------------------------------------------------------------------


def match_findings(match_events: Any, schema: Schema) -> tuple[list[str], list[str]]:
    """(problems, warnings) of one callback's `matchEvents`."""
    problems: list[str] = []
    warnings: list[str] = []
    if not match_events or not isinstance(match_events, Mapping):
        return problems, warnings
    if WILDCARD in match_events:
        if len(match_events) > 1:
            others = ", ".join(sorted(str(k) for k in match_events if k != WILDCARD))
            warnings.append(f"'*' is present, so the other keys ({others}) are ignored, as in the daemon")
        problems += _attribute_findings("'*'", match_events[WILDCARD], None, None, schema, warnings)
        return problems, warnings
    for key, value in match_events.items():
        if not isinstance(key, str) or not key:
            problems.append(f"event type {key!r} is not a name: it never matches")
            continue
        found = ENTITY_EVENT.match(key)
        if found is None:
            if key.startswith("Shotgun_") and key not in OTHER_FPT_EVENTS:
                warnings.append(
                    f"{key} is not an entity event FPT writes "
                    "(Shotgun_<Entity>_New|Change|Retirement|Revival)"
                )
            continue
        entity, kind = found["entity"], found["kind"]
        if entity not in schema.entities:
            hint = (
                ""
                if schema.site
                else " (if your site has it, check against it: --stack NAME or --schema DIR)"
            )
            problems.append(f"{key} never fires: entity type {entity} is not in {schema.source}{hint}")
            continue
        problems += _attribute_findings(key, value, entity, kind, schema, warnings)
    return problems, warnings


def _attribute_findings(
    key: str, value: Any, entity: str | None, kind: str | None, schema: Schema, warnings: list[str]
) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        if value != WILDCARD and WILDCARD not in value:
            warnings.append(
                f"{key}: {value!r} is a string, so attribute names are matched as substrings of it "
                "(the daemon's quirk); a list matches exact names"
            )
        return []
    names = list(value)
    if WILDCARD in names:
        return []
    if not any(isinstance(n, str) and n for n in names):
        return [f"{key} never fires: its attribute list {names!r} matches no attribute name"]
    if kind in NO_ATTRIBUTE_KINDS:
        return [
            f"{key} never fires: FPT writes _{kind} events without an attribute name, so an attribute "
            "list never matches them (use None)"
        ]
    problems = []
    if entity is not None:
        unknown = sorted(n for n in names if isinstance(n, str) and n and n not in schema.entities[entity])
        if unknown:
            text = f"{key}: {entity} has no field {', '.join(unknown)} in {schema.source}"
            if schema.site:
                problems.append(f"{text}: never fires for it")
            else:
                warnings.append(f"{text} (a custom field? check against your site: --stack or --schema)")
    return problems


# --- one plugin --------------------------------------------------------------------------------


def validate_plugin(
    path: Path, schema: Schema, secret: Callable[[str], Mapping[str, str] | None] | None = None
) -> PluginReport:
    """The report of one plugin file. `secret(name)` gives its deployed variables when checking a
    deployment (None from it: the deployment does not run the plugin); without it, this
    environment's are used."""
    name = path.stem
    report = PluginReport(name=name, path=str(path), loaded=False)
    try:
        report.env_names = env_names_read(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError) as exc:
        report.problems.append(f"cannot read its source: {type(exc).__name__}: {exc}")
        return report
    values: Mapping[str, str] | None = None
    if secret is not None:
        try:
            values = secret(name)
        except Exception as exc:  # a secret that cannot be read is this plugin's problem
            from shotgun_events_tools.cli import describe_error

            report.problems.append(f"its secret cannot be read: {describe_error(exc) or exc}")
            values = {}
        if values is None:
            report.warnings.append("the deployment does not run it (excluded, or not deployed yet)")
    deployed = values is not None
    with quiet_logs(), environment(values):
        plugin = load_plugin(path, RecordedMetrics())
    if not plugin.active:
        report.problems.append(f"does not load: {plugin.error}")
        return report
    report.loaded = True
    known = set(values or {}) if deployed else set(os.environ)
    # The function sets its own variables (SHOTGUN_URL, AWS_*, ...); optional ones have a default.
    unset = [n for n, required in report.env_names.items() if required and n not in known]
    unset = [n for n in unset if not is_reserved_env_name(n)]
    if deployed:
        report.problems += [f"reads {n}, which its secret does not set" for n in unset]
    for registration in plugin.registrations:
        user = registration.has_script_user
        report.callbacks.append(
            CallbackReport(registration.name, registration.match_events, registration.stop_on_error, user)
        )
        if not user and deployed:
            report.problems.append(
                f"callback {registration.name} has no script name and key: its events would fail"
            )
        elif not user:
            names = f" (its secret must set {', '.join(unset)})" if unset else ""
            report.warnings.append(
                f"callback {registration.name} has no script user in this environment{names}"
            )
        problems, warnings = match_findings(registration.match_events, schema)
        report.problems += [f"callback {registration.name}: {p}" for p in problems]
        report.warnings += [f"callback {registration.name}: {w}" for w in warnings]
    if not plugin.registrations:
        report.warnings.append("registers no callbacks: it ignores every event")
    report.filter_policy = filter_policy(plugin.match_events)
    return report


def validate_directory(
    directory: Path, schema: Schema, secret: Callable[[str], Mapping[str, str] | None] | None = None
) -> list[PluginReport]:
    return [validate_plugin(path, schema, secret) for path in plugin_files(directory)]
