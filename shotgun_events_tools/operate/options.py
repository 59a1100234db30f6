"""The options every operator command shares: which deployment (`--stack NAME` or `--local PATH`),
and how to reach AWS."""

from __future__ import annotations

import argparse
import math
from typing import Any

from shotgun_events_tools.operate.deployment import Deployment

# The script user `run` (and so `--local`) reads FPT as, when no --credentials file is given.
NAME_VARIABLE = "SHOTGUN_SCRIPT_NAME"
KEY_VARIABLE = "SHOTGUN_SCRIPT_KEY"


def add_deployment_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("deployment (one of)")
    choice = where.add_mutually_exclusive_group(required=True)
    choice.add_argument("--stack", metavar="NAME", help="a stack deployed from template.yaml, by name")
    choice.add_argument(
        "--local", metavar="PATH", help="the local runtime's store (`shotgun-events run --store PATH`)"
    )
    add_plugins_argument(parser, " as given to `run` (default: plugins)")
    aws = parser.add_argument_group("AWS (with --stack)")
    aws.add_argument("--region", help="the stack's region (default: AWS_REGION / the profile's)")
    aws.add_argument("--profile", help="the AWS profile to use (default: AWS_PROFILE / the default chain)")
    aws.add_argument("--endpoint-url", help="another AWS endpoint, e.g. the demo's moto server")


def add_plugins_argument(parser: argparse.ArgumentParser, default_text: str | None = None) -> None:
    """`--plugins DIR`, one folder per occurrence, repeated for several (one folder each, so it
    cannot swallow the command's positional argument); with no `default_text` it is required."""
    parser.add_argument(
        "--plugins",
        action="append",
        required=default_text is None,
        metavar="DIR",
        help=f"a plugin folder{default_text or ''}; repeat for several, in order: --plugins a --plugins b",
    )


def plugin_folders(args: argparse.Namespace) -> list[str]:
    """The `--plugins` folders given, else `plugins` (not an argparse default: `append` would add to it)."""
    return getattr(args, "plugins", None) or ["plugins"]


def add_credentials_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--credentials",
        metavar="FILE",
        help='JSON {"script_name", "api_key"} to read FPT with (default: with --stack, the poller\'s '
        f"secret; with --local, ${NAME_VARIABLE} and ${KEY_VARIABLE}, as `run` reads them)",
    )


def open_deployment(args: argparse.Namespace) -> Deployment:
    if args.local is not None:
        from shotgun_events_tools.operate.local import LocalDeployment

        return LocalDeployment(args.local, plugin_folders(args))
    import boto3

    from shotgun_events_tools.operate.stack import StackDeployment

    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    return StackDeployment(args.stack, session, args.endpoint_url)


def positive_id(text: str) -> int:
    """An argparse type: an event id (a whole number of at least 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an event id (a whole number)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an event id: ids start at 1")
    return value


def bounded_number(kind: type[int] | type[float], minimum: float = 0.0, maximum: float = math.inf) -> Any:
    """An argparse type: a finite number from `minimum` to `maximum`."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not minimum <= value <= maximum:
            limits = f"at least {minimum:g}" if maximum == math.inf else f"from {minimum:g} to {maximum:g}"
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number {limits}")
        return value

    return parse


def command_parser(commands: Any, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    """A sub-command parser with its help line, description and example."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog="example:\n" + example,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser
