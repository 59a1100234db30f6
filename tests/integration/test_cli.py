"""`shotgun-events init-state` on moto."""

from __future__ import annotations

import pickle
from pathlib import Path

import boto3
import pytest

from shotgun_events.poller.state_store import DynamoDBStateStore
from shotgun_events_tools.cli import main
from tests.aws import create_state_table

SITE = "https://studio.example.com"


@pytest.fixture
def table(aws: None) -> str:
    return create_state_table(boto3.client("dynamodb"), "state")


def stored_cursor(table: str) -> int:
    loaded = DynamoDBStateStore(table, SITE, boto3.client("dynamodb")).load()
    assert loaded is not None
    return loaded.state.cursor


def test_from_id_then_refuses_to_overwrite_without_force(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init-state", "--table", table, "--site", SITE, "--from-id", "1000"]) == 0
    assert stored_cursor(table) == 999
    assert main(["init-state", "--table", table, "--site", SITE, "--from-id", "5"]) == 2
    assert "already exists at cursor 999" in capsys.readouterr().err
    assert stored_cursor(table) == 999
    assert main(["init-state", "--table", table, "--site", SITE, "--from-id", "5", "--force"]) == 0
    assert stored_cursor(table) == 4


def test_daemon_state_file(table: str, tmp_path: Path) -> None:
    path = tmp_path / "shotgunEventDaemon.id"
    path.write_bytes(pickle.dumps({"/opt/plugins": {"a": (120, {}), "b": (118, {})}}))
    assert main(["init-state", "--table", table, "--site", SITE, "--daemon-state", str(path)]) == 0
    assert stored_cursor(table) == 118


def test_bad_site_is_named(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init-state", "--table", table, "--site", "nope", "--from-id", "1"]) == 2
    assert "SHOTGUN_URL" in capsys.readouterr().err
