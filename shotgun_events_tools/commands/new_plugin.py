"""`shotgun-events new-plugin NAME`: write a plugin and its test from a template, ready to run.

The plugin is daemon-style (`registerCallbacks(reg)`, `callback(sg, logger, event, args)`, no
type hints needed) in `plugins/NAME.py`; its test, through the plugin authors' kit, in
`tests/plugins/test_NAME.py`. Both paths are taken from the project root (the nearest folder up
from here with a `pyproject.toml`, `setup.cfg`, `pytest.ini`, `tox.ini` or `.git`). Existing
files are never overwritten.
"""

from __future__ import annotations

import argparse
import keyword
import re
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def render(template: str, **values: str) -> str:
    text = files("shotgun_events_tools").joinpath("templates", template).read_text(encoding="utf-8")
    return Template(text).substitute(values)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def run(args: argparse.Namespace) -> int:
    from shotgun_events_tools.cli import CommandError
    from shotgun_events_tools.project import find_project_root

    name = args.name
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise CommandError(f"{name!r} is not a plugin name: use letters, digits and _ (a Python module name)")
    root = find_project_root()
    plugin = root / args.plugins / f"{name}.py"
    test = root / args.tests / f"test_{name}.py"
    for path in (plugin, test):
        if path.exists():
            raise CommandError(f"{path} already exists: choose another name, or move it away first")
    plugin_path, test_path = _relative(plugin, root), _relative(test, root)
    values = {
        "name": name,
        "env": name.replace("_", "").upper(),
        "plugin_path": plugin_path,
        "test_path": test_path,
    }
    plugin.parent.mkdir(parents=True, exist_ok=True)
    test.parent.mkdir(parents=True, exist_ok=True)
    plugin.write_text(render("plugin.py.tmpl", **values), encoding="utf-8")
    test.write_text(render("test_plugin.py.tmpl", **values), encoding="utf-8")
    print(f"wrote {plugin_path} and {test_path}")
    print(f"  run its test:  .venv/bin/pytest {test_path}")
    print(f"  script user:   SGDAEMON_{values['env']}_NAME / SGDAEMON_{values['env']}_KEY")
    return 0


def add_to(commands: Any) -> None:
    new = commands.add_parser(
        "new-plugin",
        help="write a plugin and its test from a template",
        description=__doc__.split("\n\n")[0],
        epilog="example:\n  shotgun-events new-plugin versionApproved   # the plugin and its test",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    new.add_argument("name", help="the plugin's name (its file name without .py), e.g. versionApproved")
    new.add_argument(
        "--plugins", default="plugins", help="plugin folder, from the project root (default plugins)"
    )
    new.add_argument(
        "--tests", default="tests/plugins", help="test folder, from the project root (default tests/plugins)"
    )
    new.set_defaults(run=run)
