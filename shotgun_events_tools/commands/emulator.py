"""`shotgun-events emulator`: a local FPT site; `shotgun_events_tools.cli.main` hands it every option."""

from __future__ import annotations

import argparse
from typing import Any


def add_to(commands: Any) -> None:
    commands.add_parser(
        "emulator", help="run a local FPT site (see `shotgun-events emulator --help`)", add_help=False
    ).add_argument("rest", nargs=argparse.REMAINDER)
