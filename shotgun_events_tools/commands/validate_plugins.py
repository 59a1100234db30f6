"""`shotgun-events validate-plugins`: load each plugin as dispatch would; exit 1 on problems (CI)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from shotgun_events_tools.cli import CommandError
from shotgun_events_tools.operate.options import command_parser

EXAMPLE = """  shotgun-events validate-plugins                      # plugins/, against the stock schema (CI)
  shotgun-events validate-plugins plugins --schema tests/site_schema   # as schema-dump wrote it
  shotgun-events validate-plugins --stack studio       # with the site's schema and the plugins' secrets
"""


def _schema(args: argparse.Namespace, deployment: Any) -> Any:
    from shotgun_events_tools.operate.validate import Schema, schema_files, stock_schema

    if args.schema:
        from fpt_emulator import SchemaFileError

        try:
            return schema_files(args.schema)
        except SchemaFileError as exc:
            raise CommandError(f"--schema {args.schema}: {exc}") from None
    if deployment is not None:
        site = deployment.site(args.credentials)
        return Schema(site.schema(), f"the schema of {site.url}", site=True)
    return stock_schema()


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from shotgun_events_tools.operate.validate import validate_directory

    directory = Path(args.directory)
    if not directory.exists():
        raise CommandError(f"{directory} does not exist")
    if not directory.is_dir():
        raise CommandError(f"{directory} is not a directory of plugins")
    deployment = None
    if args.stack:
        from shotgun_events_tools.operate.options import open_deployment

        args.local = None
        deployment = open_deployment(args)
    schema = _schema(args, deployment)
    reports = validate_directory(
        directory, schema, deployment.plugin_environment if deployment is not None else None
    )
    if not reports:
        raise CommandError(f"no plugins in {directory}")
    # Deployed plugins whose file is not here: the deployed code has them, this check does not.
    elsewhere = sorted(set(deployment.plugins()) - {r.name for r in reports}) if deployment else []
    failed = sum(1 for r in reports if r.problems)
    if args.json:
        document = {"schema": schema.source, "plugins": [asdict(r) for r in reports], "not_here": elsewhere}
        print(json.dumps(document, indent=2, default=repr))
        return 1 if failed else 0
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"checked against {escape(schema.source)}")
    if elsewhere:
        console.print(
            f"[yellow]the stack runs plugins not in {escape(str(directory))}:[/] {', '.join(elsewhere)}"
        )
    for report in reports:
        mark = "[red]✗[/]" if report.problems else "[green]✓[/]"
        console.print(f"\n{mark} [bold]{escape(report.name)}[/] ({escape(report.path)})")
        for callback in report.callbacks:
            stop = "" if callback.stop_on_error else ", stopOnError=False"
            console.print(
                f"  callback {escape(callback.name)}: matchEvents={escape(repr(callback.match_events))}{stop}"
            )
        if report.env_names:
            names = ", ".join(
                n + ("" if required else " (optional)") for n, required in report.env_names.items()
            )
            console.print(f"  reads {escape(names)}")
        if report.loaded:
            policy = json.dumps(report.filter_policy) if report.filter_policy else "none (every event)"
            console.print(f"  filter policy: {escape(policy)}")
        for problem in report.problems:
            console.print(f"  [red]problem:[/] {escape(problem)}")
        for warning in report.warnings:
            console.print(f"  [yellow]warning:[/] {escape(warning)}")
    console.print(f"\n{len(reports)} plugins, {failed} with problems")
    return 1 if failed else 0


def add_to(commands: Any) -> None:
    parser = command_parser(
        commands,
        "validate-plugins",
        "load each plugin as dispatch would; report its callbacks, rules and problems (exit 1 on any)",
        EXAMPLE,
    )
    parser.add_argument("directory", nargs="?", default="plugins", metavar="DIR", help="default: plugins")
    parser.add_argument(
        "--schema", metavar="DIR", help="the site's schema, as `shotgun-events schema-dump` wrote it"
    )
    parser.add_argument(
        "--stack", metavar="NAME", help="check against a stack: its site's schema, its plugins' secrets"
    )
    parser.add_argument(
        "--credentials", metavar="FILE", help='with --stack: JSON {"script_name", "api_key"} for FPT'
    )
    parser.add_argument("--region", help="with --stack")
    parser.add_argument("--profile", help="with --stack")
    parser.add_argument("--endpoint-url", help="with --stack: another AWS endpoint")
    parser.add_argument("--json", action="store_true", help="JSON instead of text")
    parser.set_defaults(run=run)
