"""`init` and `import-daemon-state` against the stack: the cursor in the state table, and the bad
inputs that must change nothing and end in one line."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import boto3
import pytest

from shotgun_events.poller.state_store import DynamoDBStateStore
from tests.operate.conftest import Studio


def stored_cursor(studio: Studio) -> int | None:
    store = DynamoDBStateStore(
        studio.stack.outputs.state_table, studio.emulator.url, boto3.client("dynamodb")
    )
    loaded = store.load()
    return None if loaded is None else loaded.state.cursor


def test_from_id_sets_the_cursor_and_an_existing_state_needs_force(studio: Studio) -> None:
    newest = studio.newest_event()
    start = newest - 5

    first = studio.cli("init", "--from-id", str(start))
    assert first.code == 0, first.err
    assert stored_cursor(studio) == start - 1
    (audit,) = first.audit()
    assert audit["who"].startswith("arn:aws:") and audit["command"] == "init"
    assert (audit["cursor"], audit["count"], audit["replaced_cursor"]) == (start - 1, 1, None)

    refused = studio.cli("init", "--from-id", str(newest))
    assert refused.code == 2
    assert "already has a state (cursor" in refused.err and "--force" in refused.err
    (audit,) = refused.audit()  # it got as far as the state: audited, as a failed redrive is
    assert (audit["outcome"], audit["count"]) == ("failed", 0)
    assert stored_cursor(studio) == start - 1

    forced = studio.cli("init", "--from-id", str(newest), "--force")
    assert forced.code == 0, forced.err
    assert stored_cursor(studio) == newest - 1
    assert forced.audit()[0]["replaced_cursor"] == start - 1


def test_latest_starts_after_the_newest_event(studio: Studio) -> None:
    assert studio.cli("init", "--latest").code == 0
    assert stored_cursor(studio) == studio.newest_event()


@pytest.mark.parametrize("bad", ["-5", "0", "abc"])
def test_an_id_that_is_not_an_event_id_is_refused(studio: Studio, bad: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        studio.cli("init", "--from-id", bad)
    assert exit_.value.code == 2
    assert "is not an event id" in studio.capsys.readouterr().err
    assert stored_cursor(studio) is None


def test_an_id_beyond_the_newest_event_is_refused(studio: Studio) -> None:
    newest = studio.newest_event()
    result = studio.cli("init", "--from-id", str(newest + 2))
    assert result.code == 2
    assert f"is beyond the newest event ({newest})" in result.err
    assert stored_cursor(studio) is None
    # The next event is a fine place to start.
    assert studio.cli("init", "--from-id", str(newest + 1)).code == 0


def test_import_daemon_state_continues_from_the_lowest_plugin_cursor(studio: Studio, tmp_path: Path) -> None:
    newest = studio.newest_event()
    path = tmp_path / "shotgunEventDaemon.id"
    path.write_bytes(pickle.dumps({"/opt/plugins": {"a": (newest, {}), "b": (newest - 3, {})}}))
    result = studio.cli("import-daemon-state", str(path))
    assert result.code == 0, result.err
    assert stored_cursor(studio) == newest - 3
    assert result.audit()[0]["command"] == "import-daemon-state"


def test_a_missing_daemon_file_is_one_line(studio: Studio, tmp_path: Path) -> None:
    result = studio.cli("import-daemon-state", str(tmp_path / "nope.id"))
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"shotgun-events import-daemon-state: cannot read daemon state file {tmp_path / 'nope.id'}: "
        "No such file or directory"
    ]
    assert stored_cursor(studio) is None


def test_a_missing_state_table_is_one_line(studio: Studio) -> None:
    dynamodb = boto3.client("dynamodb")
    table = studio.stack.outputs.state_table
    description = dynamodb.describe_table(TableName=table)["Table"]
    dynamodb.delete_table(TableName=table)
    try:
        result = studio.cli("init", "--from-id", "1")
        assert result.code == 2
        audit, line = result.err.strip().splitlines()  # the audit line of the failed change, then why
        assert json.loads(audit)["outcome"] == "failed"
        assert "GetItem" in line and "does not exist" in line and table in line
    finally:
        dynamodb.create_table(
            TableName=table,
            KeySchema=description["KeySchema"],
            AttributeDefinitions=description["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )


def test_a_wrong_stack_name_is_one_line(studio: Studio) -> None:
    result = studio.cli("init", "--from-id", "1", stack="no-such-stack")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert "stack no-such-stack" in line and "does not exist" in line
    assert stored_cursor(studio) is None


def test_no_region_is_one_line(studio: Studio, tmp_path: Path) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        studio.monkeypatch.delenv(name, raising=False)
    studio.monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = studio.cli("init", "--from-id", "1")
    assert result.code == 2
    assert result.err.strip() == (
        "shotgun-events init: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) or pass --region"
    )
