"""`shotgun-events schema-dump`: record a site's schema, to test plugins against the studio's own fields.

Writes the two files `shotgun_api3.lib.mockgun.generate_schema()` writes (`schema.pickle`,
`schema_entity.pickle`), or with `--json` the same answers as JSON (`schema_read.json`,
`schema_entity_read.json`); `shotgun-events emulator --schema DIR` (and `FptEmulator(schema=DIR)`)
loads either. The script's credentials come from `SHOTGUN_SCRIPT_NAME` / `SHOTGUN_SCRIPT_KEY`
or from a JSON file `{"script_name": ..., "api_key": ...}` (the poller's secret's shape), never
from the command line, where they would stay in the shell's history.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from shotgun_events_tools.operate.options import KEY_VARIABLE, NAME_VARIABLE


def credentials(path: str | None) -> tuple[str, str]:
    """(script name, key) from the file, else from the environment."""
    from shotgun_events_tools.cli import CommandError

    if path:
        try:
            value = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"cannot read the credentials file {path}: {exc.strerror or exc}") from None
        except ValueError:
            raise CommandError(f"the credentials file {path} is not JSON") from None
        name = value.get("script_name") if isinstance(value, dict) else None
        key = value.get("api_key") if isinstance(value, dict) else None
        if not isinstance(name, str) or not name or not isinstance(key, str) or not key:
            raise CommandError(f"the credentials file {path} needs 'script_name' and 'api_key' strings")
        return name, key
    name, key = os.environ.get(NAME_VARIABLE, ""), os.environ.get(KEY_VARIABLE, "")
    if not name or not key:
        raise CommandError(f"set {NAME_VARIABLE} and {KEY_VARIABLE}, or pass --credentials FILE")
    return name, key


def run(args: argparse.Namespace) -> int:
    import shotgun_api3
    from shotgun_api3.lib.mockgun import generate_schema

    from shotgun_events.config import site_url
    from shotgun_events.fpt import ScriptCredentials, connect
    from shotgun_events_tools.cli import CommandError

    site = site_url({"SHOTGUN_URL": args.site})
    name, key = credentials(args.credentials)
    out = Path(args.out)
    if not out.is_dir():
        raise CommandError(f"--out {out} is not a directory")
    sg = connect(site, ScriptCredentials(name, key), args.timeout)
    try:
        if args.json:
            files = out / "schema_read.json", out / "schema_entity_read.json"
            answers: list[Any] = [sg.schema_read(), sg.schema_entity_read()]
            for path, answer in zip(files, answers, strict=True):
                path.write_text(json.dumps(answer, indent=1, sort_keys=True), encoding="utf-8")
        else:
            files = out / "schema.pickle", out / "schema_entity.pickle"
            generate_schema(sg, str(files[0]), str(files[1]))
    except shotgun_api3.AuthenticationFault:
        raise CommandError(f"{site} refused the script {name!r}: check its name and key") from None
    except (shotgun_api3.ShotgunError, OSError) as exc:
        raise CommandError(f"cannot read the schema of {site}: {exc}") from None
    finally:
        sg.close()
    from fpt_emulator import SchemaFileError, load_site_schema

    try:
        schema = load_site_schema(files[0], files[1])
    except SchemaFileError as exc:
        raise CommandError(f"{site} answered with something that is not a schema: {exc}") from None
    fields = sum(len(e.fields) for e in schema.entities.values())
    print(f"{site}: {len(schema.entities)} entity types, {fields} fields")
    for path in files:
        print(f"  wrote {path}")
    print(f"  use it: shotgun-events emulator --schema {out}")
    return 0


def add_to(commands: Any) -> None:
    dump = commands.add_parser(
        "schema-dump",
        help="record a site's schema to files the emulator loads (--schema)",
        description=__doc__.split("\n\n")[0],
        epilog="example:\n  shotgun-events schema-dump --site https://studio.shotgrid.autodesk.com",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dump.add_argument("--site", required=True, help="the FPT site URL")
    dump.add_argument("--out", default=".", help="directory to write the two files to (default: here)")
    dump.add_argument(
        "--json",
        action="store_true",
        help="write schema_read.json / schema_entity_read.json instead of pickles",
    )
    dump.add_argument(
        "--credentials",
        metavar="FILE",
        help=f'JSON {{"script_name", "api_key"}} (default: ${NAME_VARIABLE} / ${KEY_VARIABLE})',
    )
    dump.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    dump.set_defaults(run=run)
