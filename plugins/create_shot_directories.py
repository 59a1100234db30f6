# shotgun-events: checked
"""When a Shot is created, create its directory tree.

The tree is `<root>/<project>/<sequence>/<shot>/<subdirectory>` for each of `SUBDIRECTORIES`,
where `<project>` is the project's `tank_name` (else its name) and `<sequence>` the Shot's
sequence code (`no_sequence` when it has none). The root comes from `SHOT_DIRECTORIES_ROOT`:
a local path (directories are created, existing ones kept) or `s3://bucket/prefix` (an empty
`.../` marker object per directory, written with boto3). Creating the tree twice is harmless.

Script user: `SGDAEMON_SHOTDIRS_NAME` / `SGDAEMON_SHOTDIRS_KEY`.
"""

import logging
import os
import re
from pathlib import Path
from typing import Any

SUBDIRECTORIES = (
    "editorial",
    "plates",
    "work/layout",
    "work/animation",
    "work/lighting",
    "work/comp",
    "publish",
    "renders",
)


def registerCallbacks(reg: Any) -> None:
    reg.registerCallback(
        os.environ.get("SGDAEMON_SHOTDIRS_NAME"),
        os.environ.get("SGDAEMON_SHOTDIRS_KEY"),
        createShotDirectories,
        matchEvents={"Shotgun_Shot_New": None},
        args={"subdirectories": SUBDIRECTORIES, "root_variable": "SHOT_DIRECTORIES_ROOT"},
    )


def createShotDirectories(sg: Any, logger: logging.Logger, event: dict[str, Any], args: Any) -> None:
    shot_link = event.get("entity")
    if not isinstance(shot_link, dict) or shot_link.get("type") != "Shot":
        return
    root = os.environ.get(args["root_variable"], "").strip()
    if not root:
        raise RuntimeError(f"{args['root_variable']} is not set: no root for shot directories")

    shot = sg.find_one(
        "Shot",
        [["id", "is", shot_link["id"]]],
        ["code", "sg_sequence", "project.Project.tank_name", "project.Project.name"],
    )
    if shot is None:
        logger.info("Shot %s no longer exists; nothing to create", shot_link["id"])
        return
    project = shot.get("project.Project.tank_name") or shot.get("project.Project.name") or "no_project"
    sequence = (shot.get("sg_sequence") or {}).get("name") or "no_sequence"
    parts = [safe_name(project), safe_name(sequence), safe_name(shot.get("code") or f"shot_{shot['id']}")]
    directories = ["/".join([*parts, sub]) for sub in args["subdirectories"]]

    create = create_in_s3 if root.startswith("s3://") else create_locally
    where = create(root, directories)
    logger.info("Created %d directories for Shot %s under %s", len(directories), shot.get("code"), where)


def safe_name(name: Any) -> str:
    """One path component: letters, digits, `.`, `_` and `-` only (no separators, no `..`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "_"


def create_locally(root: str, directories: list[str]) -> str:
    base = Path(root)
    for directory in directories:
        (base / directory).mkdir(parents=True, exist_ok=True)
    return str(base / directories[0].split("/")[0]) if directories else str(base)


def create_in_s3(root: str, directories: list[str]) -> str:
    import boto3

    bucket, _, prefix = root[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    s3 = boto3.client("s3")
    for directory in directories:
        key = f"{prefix}/{directory}/" if prefix else f"{directory}/"
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    return f"s3://{bucket}/{prefix}"
