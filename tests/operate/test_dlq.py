"""`dlq --show` lists what a plugin parked (and leaves it there); `--event` shows its body and the
plugin's last error, from the very lines dispatch logged."""

from __future__ import annotations

import json
import time

import boto3

from tests.dispatch.support import LogLines
from tests.operate.conftest import Studio

PLUGIN = "create_shot_directories"


def test_show_lists_parked_events_and_leaves_them_visible(studio: Studio) -> None:
    studio.poll()
    events = studio.create_shots("SH_DLQ_010", "SH_DLQ_020")
    studio.poll()
    studio.park(PLUGIN)

    result = studio.cli("dlq", PLUGIN, "--show", "--json")
    assert result.code == 0, result.err
    listing = json.loads(result.out)
    assert listing["parked"] == 2
    rows = listing["listed"]
    assert [r["event_id"] for r in rows] == sorted(events)
    site = {e["id"]: e for e in studio.emulator.site.events(min(events) - 1)}
    for row in rows:
        assert row["event_type"] == "Shotgun_Shot_New"
        assert row["entity"] == f"Shot:{site[row['event_id']]['entity']['id']}"
        assert row["receive_count"] >= 2  # the two failed deliveries (listing counts as one more)
        assert row["first_delivery"].endswith("Z") and row["replay"] is None
    assert result.audit() == []  # a read: no audit line
    dlq = studio.plugin(PLUGIN).dead_letter_queue_url
    visible = boto3.client("sqs").get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert visible == "2"  # visible again at once: a redrive right after finds them

    table = studio.cli("dlq", PLUGIN)
    assert table.code == 0 and f"{PLUGIN}: 2 parked events" in table.out
    assert all(str(e) in table.out for e in events)


def test_event_shows_its_body_and_the_last_error_the_plugin_logged(
    studio: Studio, json_logs: LogLines
) -> None:
    studio.poll()
    (event,) = studio.create_shots("SH_DLQ_030")
    studio.poll()
    studio.park(PLUGIN)
    # What the function logged, as CloudWatch Logs would hold it in the plugin's log group.
    logs = boto3.client("logs")
    group = studio.stack.physical["CreateShotDirectoriesLogGroup"]
    stream = f"2026/12/02/[$LATEST]{time.time_ns()}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    lines = [json.dumps(r) for r in json_logs.records()]
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(lines)],
    )

    result = studio.cli("dlq", PLUGIN, "--event", str(event), "--json")
    assert result.code == 0, result.err
    shown = json.loads(result.out)
    assert shown["event_id"] == event and shown["body"]["id"] == event
    assert shown["body"]["event_type"] == "Shotgun_Shot_New"
    error = shown["last_error"]
    assert f"failed on event {event}" in error["message"]
    assert "SHOT_DIRECTORIES_ROOT" in error["message"] + error.get("exception", "")

    text = studio.cli("dlq", PLUGIN, "--event", str(event))
    assert text.code == 0 and "last error" in text.out and f"failed on event {event}" in text.out


def test_an_event_not_parked_is_one_line(studio: Studio) -> None:
    result = studio.cli("dlq", PLUGIN, "--event", "12345")
    assert result.code == 2
    assert (
        result.err == f"shotgun-events dlq: plugin {PLUGIN} has no parked events (event 12345 is not one)\n"
    )
