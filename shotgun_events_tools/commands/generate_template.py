"""`shotgun-events generate-template`: rewrite the per-plugin part of template.yaml from plugins/."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shotgun_events_tools.cli import CommandError

EPILOG = """example:
  shotgun-events generate-template           # after adding plugins/my_plugin.py
  shotgun-events generate-template --check   # in CI: fail if template.yaml is out of date
"""


def run(args: argparse.Namespace) -> int:
    from shotgun_events_tools.stack.generate import Project, TemplateError, generate

    project = Project(Path(args.project).resolve())
    if not project.template.is_file():
        raise CommandError(f"no template.yaml in {project.root}")
    try:
        text = generate(project)
    except TemplateError as exc:
        raise CommandError(str(exc)) from None
    if text == project.template.read_text():
        print(f"{project.template} is up to date with {project.plugins_dir}")
        return 0
    if args.check:
        raise CommandError(
            f"{project.template} is out of date with {project.plugins_dir}: "
            "run `shotgun-events generate-template`"
        )
    project.template.write_text(text)
    print(f"{project.template} regenerated from {project.plugins_dir}")
    return 0


def add_to(commands: Any) -> None:
    parser = commands.add_parser(
        "generate-template",
        help="regenerate the per-plugin part of template.yaml from plugins/",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--project", default=".", help="the project root holding template.yaml and plugins/")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 2 if the template is stale"
    )
    parser.set_defaults(run=run)
