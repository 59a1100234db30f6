"""The CLI's one error path for AWS: no credentials, expired or rejected ones, a missing resource,
each one line and exit 2, before anything is read or changed. (The commands themselves are tested
end to end against a stack in tests/operate.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
from botocore.stub import Stubber

from shotgun_events_tools.cli import main
from shotgun_events_tools.operate.aws import describe_aws_error
from shotgun_events_tools.operate.stack import StackDeployment


def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to fall back to


def test_no_credentials_is_one_line_before_anything_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_aws_credentials(monkeypatch, tmp_path)
    assert main(["status", "--stack", "studio"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("shotgun-events status: no AWS credentials found: configure them")
    assert len(err.splitlines()) == 1


def stubbed_sts(error_code: str, message: str) -> Any:
    sts = boto3.client("sts", region_name="us-east-1")
    stubber = Stubber(sts)
    stubber.add_client_error("get_caller_identity", service_error_code=error_code, service_message=message)
    stubber.activate()
    return sts


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ExpiredToken", "the AWS credentials have expired: refresh them"),
        ("InvalidClientTokenId", "AWS rejected the credentials (InvalidClientTokenId)"),
    ],
)
def test_expired_or_rejected_credentials_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code: str, expected: str
) -> None:
    sts = stubbed_sts(code, "The security token included in the request is expired")
    monkeypatch.setattr(StackDeployment, "client", lambda self, service: sts)
    assert main(["pause", "init_entity", "--stack", "studio"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"shotgun-events pause: {expected}")
    assert len(err.splitlines()) == 1


def test_aws_errors_read_as_what_to_do() -> None:
    assert describe_aws_error(NoRegionError()) == (
        "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) or pass --region"
    )
    assert "no AWS credentials" in str(describe_aws_error(NoCredentialsError()))

    def client_error(code: str, message: str, operation: str = "GetItem") -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": message}}, operation)

    missing = describe_aws_error(client_error("ResourceNotFoundException", "Requested resource not found"))
    assert missing == "GetItem: Requested resource not found (does it exist in this account and region?)"
    denied = describe_aws_error(
        client_error("AccessDeniedException", "no sqs:SendMessage", "SendMessageBatch")
    )
    assert denied == "AWS denied SendMessageBatch: no sqs:SendMessage"
    assert describe_aws_error(ValueError("a bug")) is None


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Any, *args: Any) -> None:
        raise ZeroDivisionError("a bug, not an operator's mistake")

    monkeypatch.setattr(StackDeployment, "__init__", broken)
    with pytest.raises(ZeroDivisionError):
        main(["status", "--stack", "studio"])


def test_run_takes_one_plugin_folder_per_plugins_option() -> None:
    from shotgun_events_tools.cli import build_parser

    args = build_parser().parse_args(["run", "--plugins", "a", "--plugins", "b"])
    assert args.plugins == ["a", "b"]


@pytest.mark.parametrize("command", ["status", "init", "dlq", "replay", "redrive"])
def test_help_has_a_local_example_and_plugins_apart_from_the_deployment_choice(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    examples = text.split("example:\n")[1].splitlines()
    assert any(line.startswith(f"  shotgun-events {command} ") and " --local " in line for line in examples)
    assert "--plugins" not in text.split("deployment (one of):")[1].split("\n\n")[0]
    words = " ".join(text.split())
    if "--credentials" in words:
        assert "with --local, $SHOTGUN_SCRIPT_NAME and $SHOTGUN_SCRIPT_KEY, as `run` reads them" in words


def test_every_command_s_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    from shotgun_events_tools.cli import build_parser

    (commands,) = [a for a in build_parser()._actions if a.choices and "run" in a.choices]
    missing = []
    for name in commands.choices:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = capsys.readouterr().out
        if not any(f"\n  shotgun-events {name}" in part for part in text.split("example")[1:]):
            missing.append(name)
    assert missing == []
